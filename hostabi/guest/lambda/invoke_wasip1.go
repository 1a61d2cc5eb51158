//go:build wasip1

package lambda

// This file mirrors what aws-lambda-go's Runtime API loop, which the Lambda
// Go runtime (provided.al2023) runs, does around one invocation of a
// handler: invoke_loop.go (handleInvoke, callBytesHandlerFunc), errors.go
// (lambdaErrorResponse, lambdaPanicResponse) and panic.go (the stack
// trace) of aws-lambda-go v1.55.1. The loop itself cannot run in a reactor
// (it blocks for the next event), and its only exported alternative, the
// go1.x RPC invoker lambda.Function, links net/rpc, encoding/gob and
// text/template into every module (DESIGN.md, "Invoking the handler").
//
// Kept honest by adapter's TestContextMatchesRuntimeAPILoop (the context:
// deadline, LambdaContext, base context, trace id) and
// TestFailuresMatchRuntimeAPILoop (error documents, panics and their stack
// frames, malformed client context), which run the same handler under
// aws-lambda-go's own loop natively and compare.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/awshandler"
	"github.com/ferrywasm/ferry/hostabi/guest/internal/lazyctx"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

// handler is the registered handler, as aws-lambda-go's
// NewHandlerWithOptions builds it (internal/awshandler); its BaseContext
// is the parent of every invocation's context.
var handler *awshandler.Handler

// invoke calls the handler with the invocation's context as handleInvoke
// builds it, and returns its response or aws-lambda-go's error document.
func invoke(inv *record.Invocation) ([]byte, *messages.InvokeResponse_Error) {
	// context.WithDeadline's, made only if the handler needs more than its
	// deadline and values (internal/lazyctx).
	ctx, cancel := lazyctx.WithDeadline(handler.BaseContext, time.UnixMilli(inv.DeadlineMs))
	defer cancel()

	// The four ids as slices of one string: an allocation costs a guest
	// about a quarter of a microsecond, and a concatenation of
	// conversions makes one.
	ids := string(inv.RequestID) + string(inv.InvokedFunctionARN) + string(inv.TenantID) + string(inv.TraceID)
	n1, n2, n3 := len(inv.RequestID), len(inv.RequestID)+len(inv.InvokedFunctionARN), len(ids)-len(inv.TraceID)
	lc := lambdacontext.LambdaContext{
		AwsRequestID:       ids[:n1],
		InvokedFunctionArn: ids[n1:n2],
		TenantID:           ids[n2:n3],
	}
	if len(inv.ClientContext) > 0 {
		if err := json.Unmarshal(inv.ClientContext, &lc.ClientContext); err != nil {
			return nil, errorResponse(fmt.Errorf("failed to unmarshal client context json: %v", err))
		}
	}
	if len(inv.CognitoIdentity) > 0 {
		if err := json.Unmarshal(inv.CognitoIdentity, &lc.Identity); err != nil {
			return nil, errorResponse(fmt.Errorf("failed to unmarshal cognito identity json: %v", err))
		}
	}
	ctx = lambdacontext.NewContext(ctx, &lc)

	traceID := ids[n3:]
	if lambdacontext.MaxConcurrency() == 1 {
		os.Setenv("_X_AMZN_TRACE_ID", traceID)
	}
	//lint:ignore SA1029 aws-lambda-go's own key, which handlers and the X-Ray SDK read
	ctx = context.WithValue(ctx, "x-amzn-trace-id", traceID)

	return call(ctx, inv.Payload)
}

// call is callBytesHandlerFunc: a panic becomes an error document.
func call(ctx context.Context, payload []byte) (response []byte, e *messages.InvokeResponse_Error) {
	defer func() {
		if v := recover(); v != nil {
			e = panicResponse(v)
		}
	}()
	response, err := handler.Invoke(ctx, payload)
	if err != nil {
		return nil, errorResponse(err)
	}
	return response, nil
}

// errorResponse is lambdaErrorResponse.
func errorResponse(err error) *messages.InvokeResponse_Error {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

// panicResponse is lambdaPanicResponse: the instance must not serve again.
func panicResponse(v any) *messages.InvokeResponse_Error {
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{
		Message:    fmt.Sprintf("%v", v),
		Type:       typeName(v),
		StackTrace: panicStack(),
		ShouldExit: true,
	}
}

// typeName is the errorType of v: its type's name, a pointer's element's.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// panicFrames is how many frames a stack trace keeps, as aws-lambda-go's.
const panicFrames = 32

// panicStack is getPanicStack: the trace starts, as aws-lambda-go's does,
// at the function that builds the error document (panicResponse), then
// the deferred call, the runtime's panic and the handler's frames.
func panicStack() []*messages.InvokeResponse_Error_StackFrame {
	pcs := make([]uintptr, panicFrames)
	n := runtime.Callers(2, pcs) // not runtime.Callers, nor panicStack
	if n == 0 {
		return []*messages.InvokeResponse_Error_StackFrame{}
	}
	var stack []*messages.InvokeResponse_Error_StackFrame
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		stack = append(stack, stackFrame(f))
		if !more {
			return stack
		}
	}
}

// stackFrame is formatFrame: the file's path is trimmed to as many
// directories as the function's import path has (pkg/sub/file.go), and
// the function's label to what follows its package (Type.Method).
func stackFrame(f runtime.Frame) *messages.InvokeResponse_Error_StackFrame {
	path, label := f.File, f.Function
	i := len(path)
	for range strings.Count(label, "/") + 2 {
		if i = strings.LastIndex(path[:i], "/"); i == -1 {
			break // fewer directories than expected: the whole path
		}
	}
	path = path[i+1:]
	label = label[strings.LastIndex(label, "/")+1:]
	label = label[strings.Index(label, ".")+1:]
	return &messages.InvokeResponse_Error_StackFrame{Path: path, Line: int32(f.Line), Label: label}
}
