package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// handler answers the REST API's GET /hello.
func handler(request events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{
		Body:       fmt.Sprintf("%s, World! stage=%s table=%s path=%s", os.Getenv("GREETING"), os.Getenv("STAGE"), os.Getenv("TABLE_NAME"), request.Path),
		StatusCode: 200,
	}, nil
}

func main() {
	lambda.Start(handler)
}
