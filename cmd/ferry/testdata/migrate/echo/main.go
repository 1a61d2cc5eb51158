// Command echo answers any event with what the function sees: its name,
// its APP_* environment, and the request's path and stage, so that a test
// can check what ferry migrate resolved and routed.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handler(ctx context.Context, raw json.RawMessage) (events.APIGatewayProxyResponse, error) {
	// A payload 1.0 event (REST, ALB) has path; a 2.0 one (HTTP API,
	// function URL) has rawPath. Both have requestContext.stage.
	var v1 events.APIGatewayProxyRequest
	var v2 events.APIGatewayV2HTTPRequest
	_ = json.Unmarshal(raw, &v1)
	_ = json.Unmarshal(raw, &v2)
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "APP_") {
			env[k] = v
		}
	}
	body, err := json.Marshal(map[string]any{
		"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"memory":   os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
		"env":      env,
		"path":     cmp.Or(v1.Path, v2.RawPath),
		"stage":    cmp.Or(v1.RequestContext.Stage, v2.RequestContext.Stage),
	})
	return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, err
}

func main() {
	lambda.Start(handler)
}
