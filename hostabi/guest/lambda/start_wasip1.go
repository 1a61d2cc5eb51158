//go:build wasip1

package lambda

import (
	"encoding/json"
	"io"
	"log"
	"os"
	"strconv"
	"unsafe"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/fhttp"
	"github.com/ferrywasm/ferry/hostabi/internal/record"
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
var function *awslambda.Function

// inReactor is set while ferry runs main from ferry_start.
var inReactor bool

// commandStdout is the real stdout in command mode, where the response
// goes.
var commandStdout *os.File

func start(handler interface{}, options []Option) {
	function = awslambda.NewFunction(awslambda.NewHandlerWithOptions(handler, options...))
	if inReactor {
		return // back to ferry_start; invocations arrive through ferry_invoke
	}
	os.Exit(serveCommand())
}

//go:linkname runMain main.main
func runMain()

//go:wasmimport ferry invocation_read
func invocationRead(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport ferry response_write
func responseWrite(buf unsafe.Pointer, n int32) int32

//go:wasmimport ferry error_write
func errorWrite(buf unsafe.Pointer, n int32) int32

//go:wasmexport ferry_abi_version
func abiVersion() int32 { return 1 }

// ferryStart runs the program's main, as Lambda's init phase does; main
// calls Start, which registers the handler and returns.
//
//go:wasmexport ferry_start
func ferryStart() int32 {
	inReactor = true
	runMain()
	if function == nil {
		reportError(&messages.InvokeResponse_Error{
			Type:    "Runtime.NoHandler",
			Message: "main returned without calling lambda.Start",
		})
		return 1
	}
	return 0
}

// ferryInvoke serves one invocation; see hostabi/ABI.md.
//
//go:wasmexport ferry_invoke
func ferryInvoke(recordLen int32) int32 {
	buf := make([]byte, recordLen)
	var inv record.Invocation
	if invocationRead(unsafe.Pointer(unsafe.SliceData(buf)), recordLen) != recordLen || record.Decode(buf, &inv) != nil {
		reportError(&messages.InvokeResponse_Error{Type: "Runtime.InvalidRecord", Message: "ferry: cannot read the invocation record"})
		return 1
	}
	resp := invoke(&inv)
	if resp.Error != nil {
		reportError(resp.Error)
		if resp.Error.ShouldExit {
			return 1
		}
		return 0
	}
	responseWrite(unsafe.Pointer(unsafe.SliceData(resp.Payload)), int32(len(resp.Payload)))
	return 0
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

// reportError logs the error document as aws-lambda-go's runtime loop does
// (so it shows in the function's log) and hands it to the host.
func reportError(e *messages.InvokeResponse_Error) {
	b, err := json.Marshal(e)
	if err != nil {
		b, _ = json.Marshal(&messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	log.Printf("%s", b)
	if inReactor {
		errorWrite(unsafe.Pointer(unsafe.SliceData(b)), int32(len(b)))
	} else {
		commandStdout.Write(b)
	}
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
		Payload:            payload,
	}
	commandStdout = response
	resp := invoke(&inv)
	if resp.Error != nil {
		reportError(resp.Error)
		return 0
	}
	response.Write(resp.Payload)
	return 0
}
