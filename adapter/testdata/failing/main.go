// Command failing fails as its event's mode says, so that tests can
// compare the error documents ferry's guest SDK makes with those of
// aws-lambda-go's own runtime API loop.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

// fieldError is a handler's own error type, used as a pointer.
type fieldError struct{ Field string }

func (e *fieldError) Error() string { return "invalid field " + e.Field }

// codeError is an error type used as a value.
type codeError int

func (e codeError) Error() string { return "code " + string(rune('0'+e)) }

// worker panics from a method's closure, a few frames below the handler,
// so that a stack trace holds labels of each form.
type worker struct{}

func (w *worker) crash(v any) {
	func() { panic(v) }()
}

func handler(ctx context.Context, event struct{ Mode string }) (string, error) {
	switch event.Mode {
	case "error":
		return "", &fieldError{"email"}
	case "value-error":
		return "", codeError(7)
	case "document":
		return "", messages.InvokeResponse_Error{Type: "Custom.Failure", Message: "as the handler wrote it"}
	case "panic-error":
		new(worker).crash(&fieldError{"name"})
	case "panic-string":
		new(worker).crash("boom")
	case "panic-document":
		panic(messages.InvokeResponse_Error{Type: "Custom.Panic", Message: "a document as the panic value"})
	case "nil-map":
		var m map[string]int
		//lint:ignore SA5000 the runtime panic this mode exists for
		m["x"]++
	}
	return "ok", nil
}

func main() {
	lambda.Start(handler)
}
