// Command greeting greets whoever the HTTP API's path names.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	// The runtime: lambda.Start serves the handler.
	"github.com/aws/aws-lambda-go/lambda"
)

func handler(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       "Greetings, " + req.PathParameters["name"] + " (" + os.Getenv("REGION_NOTE") + ", stage " + os.Getenv("STAGE") + ")",
	}, nil
}

func main() {
	lambda.Start(handler)
}
