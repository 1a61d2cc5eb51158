// Command echo answers any event with what the function sees: its name,
// its APP_* environment, and the request's path and stage, so that a test
// can check what ferry migrate resolved and routed.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Path           string `json:"path"`
	RawPath        string `json:"rawPath"`
	RequestContext struct {
		Stage string `json:"stage"`
	} `json:"requestContext"`
}

type response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func handler(ctx context.Context, raw json.RawMessage) (response, error) {
	var ev event
	_ = json.Unmarshal(raw, &ev)
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
		"path":     ev.Path + ev.RawPath,
		"stage":    ev.RequestContext.Stage,
	})
	return response{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, err
}

func main() {
	lambda.Start(handler)
}
