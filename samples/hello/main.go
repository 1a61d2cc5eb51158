// Command hello is the smallest Lambda handler: a string in, a string out.
// It is aws-lambda-go's hello world; only the lambda import differs.
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

func handler(ctx context.Context, name string) (string, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("hello invoked as %s, request %s\n", lambdacontext.FunctionName, lc.AwsRequestID)
	return fmt.Sprintf("Hello %s!", name), nil
}

func main() {
	lambda.Start(handler)
}
