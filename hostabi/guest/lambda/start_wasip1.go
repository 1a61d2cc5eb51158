//go:build wasip1

package lambda

import (
	"encoding/json"
	"io"
	"log"
	"os"
	"strconv"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/fhttp"
	"github.com/ferrywasm/ferry/hostabi/guest/internal/reactor"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

// Outbound HTTP goes through the host (hostabi/ABI.md): installed before
// main runs, so a handler's http.Get, http.DefaultClient and clients built
// on http.DefaultTransport work unchanged.
func init() { fhttp.Install() }

// function is the registered handler. It is aws-lambda-go's
// lambda.Function, the invoker of its go1.x RPC runtime: it sets the
// deadline, LambdaContext, client context, Cognito identity and trace id,
// calls the handler and turns errors and panics into aws-lambda-go's error
// documents, stack trace included. Reusing it (deprecated for users, but
// exported and stable) keeps every one of those semantics aws-lambda-go's
// own instead of a copy of them.
//
//lint:ignore SA1019 deliberate; DESIGN.md, "aws-lambda-go's RPC invoker"
var function *awslambda.Function

func start(handler interface{}, options []Option) {
	//lint:ignore SA1019 as above
	function = awslambda.NewFunction(awslambda.NewHandlerWithOptions(withTenant(handler), options...))
	if reactor.InReactor() {
		// Back to ferry_start; invocations arrive through ferry_invoke.
		reactor.Register(serveRecord)
		return
	}
	os.Exit(serveCommand())
}

// serveRecord serves one invocation in reactor mode.
func serveRecord(inv *record.Invocation) reactor.Outcome {
	resp := invoke(inv)
	if resp.Error != nil {
		return reactor.Outcome{Error: errorDocument(resp.Error), Discard: resp.Error.ShouldExit}
	}
	return reactor.Outcome{Response: resp.Payload}
}

func invoke(inv *record.Invocation) *messages.InvokeResponse {
	req := &messages.InvokeRequest{
		Payload:            inv.Payload,
		RequestId:          string(inv.RequestID),
		XAmznTraceId:       string(inv.TraceID),
		InvokedFunctionArn: string(inv.InvokedFunctionARN),
		Deadline: messages.InvokeRequest_Timestamp{
			Seconds: inv.DeadlineMs / 1000,
			Nanos:   inv.DeadlineMs % 1000 * 1e6,
		},
		ClientContext: inv.ClientContext,
	}
	tenantID = string(inv.TenantID)
	resp := new(messages.InvokeResponse)
	if len(inv.CognitoIdentity) > 0 {
		var id lambdacontext.CognitoIdentity
		if err := json.Unmarshal(inv.CognitoIdentity, &id); err != nil {
			resp.Error = &messages.InvokeResponse_Error{Type: "errorString", Message: "failed to unmarshal cognito identity json: " + err.Error()}
			return resp
		}
		req.CognitoIdentityId, req.CognitoIdentityPoolId = id.CognitoIdentityID, id.CognitoIdentityPoolID
	}
	_ = function.Invoke(req, resp) // it reports every failure in resp.Error
	return resp
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
	resp := invoke(&inv)
	if resp.Error != nil {
		response.Write(errorDocument(resp.Error))
		return 0
	}
	response.Write(resp.Payload)
	return 0
}
