//go:build wasip1

package lambda

import (
	"encoding/json"
	"io"
	"log"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/awshandler"
	"github.com/ferrywasm/ferry/hostabi/guest/internal/reactor"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

func start(h interface{}, options []Option) {
	// What aws-lambda-go's NewHandlerWithOptions builds, without linking
	// its Extensions API client (internal/awshandler).
	handler = awshandler.New(h, options...)
	if reactor.InReactor() {
		// The snapshot then holds the JSON caches of its types.
		awshandler.PrimeJSON(h)
		// Back to ferry_start; invocations arrive through ferry_invoke.
		reactor.Register(serveRecord)
		return
	}
	os.Exit(serveCommand())
}

// serveRecord serves one invocation in reactor mode. A panic discards the
// instance, as it ends the process under aws-lambda-go's loop.
func serveRecord(inv *record.Invocation) reactor.Outcome {
	response, e := invoke(inv)
	if e != nil {
		return reactor.Outcome{Error: errorDocument(e), Discard: e.ShouldExit}
	}
	return reactor.Outcome{Response: response}
}

// errorDocument renders the error document and logs it, as aws-lambda-go's
// runtime loop does, so it shows in the function's log.
func errorDocument(e *messages.InvokeResponse_Error) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		b, _ = json.Marshal(&messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	log.Printf("%s", b)
	return b
}

// serveCommand serves one invocation in command mode (ABI.md): the event
// on stdin, the context in the environment, the response on stdout.
func serveCommand() int {
	// stdout carries the response: what the handler prints is log, so it
	// goes to stderr, as it would reach CloudWatch on Lambda.
	response := os.Stdout
	os.Stdout = os.Stderr
	log.SetOutput(os.Stderr)
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Printf("ferry: reading the event from stdin: %v", err)
		return 1
	}
	deadline, _ := strconv.ParseInt(os.Getenv("FERRY_DEADLINE_MS"), 10, 64)
	inv := record.Invocation{
		DeadlineMs:         deadline,
		RequestID:          []byte(os.Getenv("FERRY_REQUEST_ID")),
		InvokedFunctionARN: []byte(os.Getenv("FERRY_INVOKED_FUNCTION_ARN")),
		TraceID:            []byte(os.Getenv("_X_AMZN_TRACE_ID")),
		ClientContext:      []byte(os.Getenv("FERRY_CLIENT_CONTEXT")),
		CognitoIdentity:    []byte(os.Getenv("FERRY_COGNITO_IDENTITY")),
		TenantID:           []byte(os.Getenv("FERRY_TENANT_ID")),
		Payload:            payload,
	}
	out, e := invoke(&inv)
	if e != nil {
		out = errorDocument(e)
	}
	response.Write(out)
	return 0
}
