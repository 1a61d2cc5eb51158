// Package awshandler is what aws-lambda-go's NewHandlerWithOptions builds
// from a handler function and options, without the one part a guest
// cannot use and every module paid for.
//
// NewHandlerWithOptions always links WithEnableSIGTERM's registration
// with the Lambda Extensions API: an HTTP client whose transport brings
// crypto/tls, crypto/x509 and net/http's dialling into every module, 1.5
// MB of hello's 10.1 MB (BENCHMARKS.md, "Module weight"), though a guest
// has no socket to open and ferry no Extensions API. New is handler.go of
// aws-lambda-go v1.55.1 (newHandler, reflectHandler, handlerFunc.Invoke)
// with that registration reduced to the warning aws-lambda-go logs when it
// finds no Runtime API, which is what it did under ferry. The options are
// aws-lambda-go's own, applied to its own options struct, whose fields are
// read by name (they are unexported): an aws-lambda-go without one of them
// stops the program at start rather than ignore an option.
//
// Two steps are done differently, with the same result: the event is
// decoded by internal/jsondecode where it is sure to decode it as
// encoding/json would, and the response written by internal/jsonencode
// where it is sure to write encoding/json's bytes, each several times
// faster in a guest; by encoding/json otherwise.
//
// TestMatchesAWSLambdaGo checks New against NewHandlerWithOptions natively,
// handler by handler and option by option.
package awshandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/handlertrace"
	"github.com/ferrywasm/ferry/hostabi/guest/internal/jsondecode"
	"github.com/ferrywasm/ferry/hostabi/guest/internal/jsonencode"
)

// Handler is a handler built by New.
type Handler struct {
	// BaseContext is the options' base context (WithContext,
	// WithContextValue), the parent of every invocation's context.
	BaseContext context.Context
	invoke      func(ctx context.Context, payload []byte) ([]byte, error)
}

// Invoke runs the handler on one event, as aws-lambda-go's Handler does.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h.invoke(ctx, payload)
}

// options are what aws-lambda-go's options set.
type options struct {
	baseContext                      context.Context
	jsonRequestUseNumber             bool
	jsonRequestDisallowUnknownFields bool
	jsonResponseEscapeHTML           bool
	jsonResponseIndentPrefix         string
	jsonResponseIndentValue          string
	enableSIGTERM                    bool
}

// New builds the handler of handlerFunc (any handler aws-lambda-go's
// Start accepts) with aws-lambda-go's options.
func New(handlerFunc any, opts ...lambda.Option) *Handler {
	// A handler NewHandler built is used as it is, its own options and
	// all, as newHandler does.
	if reflect.TypeOf(handlerFunc) == handlerOptionsType {
		return &Handler{
			BaseContext: *field[context.Context](reflect.ValueOf(handlerFunc).Elem(), "baseContext"),
			invoke:      handlerFunc.(lambda.Handler).Invoke,
		}
	}
	o := apply(opts)
	if o.enableSIGTERM {
		enableSIGTERM()
	}
	return &Handler{BaseContext: o.baseContext, invoke: reflectHandler(handlerFunc, o)}
}

// enableSIGTERM is what aws-lambda-go's does in a guest: no process signal
// reaches one, so the callbacks never run, and there is no Extensions API
// to register with. It logs what aws-lambda-go logs.
func enableSIGTERM() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		log.Print("WARNING! AWS_LAMBDA_RUNTIME_API environment variable not found. Skipping attempt to register internal extension...")
		return
	}
	log.Printf("WARNING! Failed to register internal extension! SIGTERM events may not be enabled! err: %v",
		errors.New("failed to register extension: ferry has no Lambda Extensions API"))
}

// handlerOptionsType is *handlerOptions, the type of aws-lambda-go's
// handlers and its options' argument.
var handlerOptionsType = reflect.TypeFor[lambda.Option]().In(0)

// apply runs opts on an aws-lambda-go handlerOptions holding newHandler's
// defaults and reads back what they set.
func apply(opts []lambda.Option) *options {
	hp := reflect.New(handlerOptionsType.Elem())
	h := hp.Elem()
	*field[context.Context](h, "baseContext") = context.Background()
	*field[map[any]any](h, "contextValues") = map[any]any{}
	for _, opt := range opts {
		reflect.ValueOf(opt).Call([]reflect.Value{hp})
	}
	o := &options{
		baseContext:                      *field[context.Context](h, "baseContext"),
		jsonRequestUseNumber:             *field[bool](h, "jsonRequestUseNumber"),
		jsonRequestDisallowUnknownFields: *field[bool](h, "jsonRequestDisallowUnknownFields"),
		jsonResponseEscapeHTML:           *field[bool](h, "jsonResponseEscapeHTML"),
		jsonResponseIndentPrefix:         *field[string](h, "jsonResponseIndentPrefix"),
		jsonResponseIndentValue:          *field[string](h, "jsonResponseIndentValue"),
		enableSIGTERM:                    *field[bool](h, "enableSIGTERM"),
	}
	for k, v := range *field[map[any]any](h, "contextValues") {
		o.baseContext = context.WithValue(o.baseContext, k, v)
	}
	return o
}

// field is the field name of the handlerOptions struct h, of type T.
func field[T any](h reflect.Value, name string) *T {
	f := h.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() {
		panic(fmt.Sprintf("ferry: aws-lambda-go's handler options have no field %s of type %v; this version of aws-lambda-go is not supported", name, reflect.TypeFor[T]()))
	}
	return (*T)(unsafe.Pointer(f.UnsafeAddr()))
}

func errorHandler(err error) func(context.Context, []byte) ([]byte, error) {
	return func(context.Context, []byte) ([]byte, error) { return nil, err }
}

// reflectHandler is aws-lambda-go's reflectHandler followed by
// handlerFunc.Invoke, which turns its io.Reader into bytes.
func reflectHandler(f any, h *options) func(context.Context, []byte) ([]byte, error) {
	if f == nil {
		return errorHandler(errors.New("handler is nil"))
	}
	// A Handler's bytes pass through aws-lambda-go unchanged.
	if handler, ok := f.(lambda.Handler); ok {
		return handler.Invoke
	}
	handler := reflect.ValueOf(f)
	handlerType := reflect.TypeOf(f)
	if handlerType.Kind() != reflect.Func {
		return errorHandler(fmt.Errorf("handler kind %s is not %s", handlerType.Kind(), reflect.Func))
	}
	takesContext, err := handlerTakesContext(handlerType)
	if err != nil {
		return errorHandler(err)
	}
	if err := validateReturns(handlerType); err != nil {
		return errorHandler(err)
	}
	pool := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	// The event's type, nil for a handler that takes none, and its
	// decoder: encoding/json's results, several times faster in a guest,
	// for the types and events it is sure of.
	var eventType reflect.Type
	var fast *jsondecode.Decoder
	if n := handlerType.NumIn(); n == 2 || n == 1 && !takesContext {
		eventType = handlerType.In(n - 1)
		fast = jsondecode.For(eventType)
	}
	decodeOptions := jsondecode.Options{UseNumber: h.jsonRequestUseNumber, DisallowUnknownFields: h.jsonRequestDisallowUnknownFields}
	// The response's encoder, likewise: encoding/json's bytes, several
	// times faster in a guest, for the types it knows, when
	// encoding/json would write them without indentation.
	var responseEncoder *jsonencode.Encoder
	if handlerType.NumOut() == 2 && h.jsonResponseIndentPrefix == "" && h.jsonResponseIndentValue == "" {
		responseEncoder = jsonencode.For(handlerType.Out(0))
	}

	// call calls the handler: directly for the signatures directCall
	// knows, through reflect.Value.Call otherwise.
	call := directCall(f)
	if call == nil {
		call = reflectCall(handler, takesContext, eventType != nil)
	}

	// encode writes what encoding/json's Encoder writes of v, with the
	// options, newline and all.
	encode := func(out *bytes.Buffer, v any) error {
		if responseEncoder != nil {
			if b, ok := responseEncoder.Append(out.AvailableBuffer(), v, h.jsonResponseEscapeHTML); ok {
				out.Write(append(b, '\n'))
				return nil
			}
		}
		encoder := json.NewEncoder(out)
		encoder.SetEscapeHTML(h.jsonResponseEscapeHTML)
		encoder.SetIndent(h.jsonResponseIndentPrefix, h.jsonResponseIndentValue)
		return encoder.Encode(v)
	}

	return func(ctx context.Context, payload []byte) ([]byte, error) {
		// The response's bytes are the pooled buffer's, as
		// aws-lambda-go's are: its caller copies them out before the next
		// invocation.
		out := pool.Get().(*bytes.Buffer)
		out.Reset()
		defer pool.Put(out)

		trace := handlertrace.FromContext(ctx)

		var event reflect.Value // a pointer to the event, if the handler takes one
		if eventType != nil {
			event = reflect.New(eventType)
			if fast == nil || !fast.Decode(payload, event.Interface(), decodeOptions) {
				// encoding/json decides, into a new value: Decode may have
				// written part of this one.
				event = reflect.New(eventType)
				decoder := json.NewDecoder(bytes.NewBuffer(payload))
				if h.jsonRequestUseNumber {
					decoder.UseNumber()
				}
				if h.jsonRequestDisallowUnknownFields {
					decoder.DisallowUnknownFields()
				}
				if err := decoder.Decode(event.Interface()); err != nil {
					return nil, err
				}
			}
			if nil != trace.RequestEvent {
				trace.RequestEvent(ctx, event.Elem().Interface())
			}
		}

		val, hasResponse, err := call(ctx, event)
		if err != nil {
			return nil, err
		}
		if hasResponse && nil != trace.ResponseEvent {
			trace.ResponseEvent(ctx, val)
		}

		if err := encode(out, val); err != nil {
			// Not JSON serializable, but a reader: its bytes.
			if reader, ok := val.(io.Reader); ok {
				return readAll(reader)
			}
			return nil, err
		}
		// A reader that serializes to an empty JSON object: its bytes.
		if reader, ok := val.(io.Reader); ok {
			if strings.HasPrefix(out.String(), "{}") {
				return readAll(reader)
			}
		}
		// The encoder's trailing newline goes, unless WithSetIndent was used.
		if h.jsonResponseIndentValue == "" && h.jsonResponseIndentPrefix == "" {
			out.Truncate(out.Len() - 1)
		}
		return out.Bytes(), nil
	}
}

// A handlerCall calls a handler with the invocation's context and event
// (a pointer to it; the zero Value for a handler that takes none) and
// returns its response (nil, and hasResponse false, for a handler that
// returns none), or its error when that is not nil.
type handlerCall func(ctx context.Context, event reflect.Value) (response any, hasResponse bool, err error)

// reflectCall is the handler's call as aws-lambda-go makes it, through
// reflect.Value.Call.
func reflectCall(handler reflect.Value, takesContext, takesEvent bool) handlerCall {
	return func(ctx context.Context, event reflect.Value) (any, bool, error) {
		var args []reflect.Value
		if takesContext {
			// The context as a context.Context, not as its dynamic type
			// (reflect.ValueOf(ctx)): Call then passes it as it is instead
			// of checking that the dynamic type implements the parameter's
			// interface, method by method, which took a guest ~9 µs an
			// invocation (BENCHMARKS.md, "The gateway's own work and the
			// guest's allocations").
			args = append(args, reflect.ValueOf(&ctx).Elem())
		}
		if takesEvent {
			args = append(args, event.Elem())
		}
		response := handler.Call(args)
		if len(response) > 0 {
			if errVal, ok := response[len(response)-1].Interface().(error); ok && errVal != nil {
				return nil, false, errVal
			}
		}
		if len(response) > 1 {
			return response[0].Interface(), true, nil
		}
		return nil, false, nil
	}
}

// directCall calls handlers of the signatures of aws-lambda-go's HTTP
// events (API Gateway HTTP and REST APIs, ALB, function URLs) without
// reflect.Value.Call, and gives nil for any other. Under ferry serve,
// Call was a tenth of an http-api invocation's time in the guest: its
// own code, a function layout looked up in a sync.Map and the frame it
// allocates (BENCHMARKS.md, "Calling the handler"). The results are the
// same; a panic's stack trace has no reflect frames below the handler's
// (its frames from the runtime's panic to the handler are aws-lambda-go's,
// TestFailuresMatchRuntimeAPILoop).
func directCall(f any) handlerCall {
	switch f := f.(type) {
	case func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error):
		return typedCall(f)
	case func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error):
		return typedCall(f)
	case func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error):
		return typedCall(f)
	case func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error):
		return typedCall(f)
	}
	return nil
}

// typedCall calls f with the event at the pointer it is given.
func typedCall[E, R any](f func(context.Context, E) (R, error)) handlerCall {
	return func(ctx context.Context, event reflect.Value) (any, bool, error) {
		response, err := f(ctx, *(*E)(event.UnsafePointer()))
		if err != nil {
			return nil, false, err
		}
		return response, true, nil
	}
}

// readAll is handlerFunc.Invoke for a reader the handler returned: closed
// if it is a Closer, a *bytes.Buffer's bytes taken without a copy.
func readAll(response io.Reader) ([]byte, error) {
	if c, ok := response.(io.Closer); ok {
		defer c.Close()
	}
	if b, ok := response.(*bytes.Buffer); ok {
		return b.Bytes(), nil
	}
	return io.ReadAll(response)
}

// handlerTakesContext is aws-lambda-go's: whether the handler takes a
// context.Context as its first argument.
func handlerTakesContext(handler reflect.Type) (bool, error) {
	switch handler.NumIn() {
	case 0:
		return false, nil
	case 1:
		contextType := reflect.TypeOf((*context.Context)(nil)).Elem()
		argumentType := handler.In(0)
		if argumentType.Kind() != reflect.Interface {
			return false, nil
		}
		// handlers like func(event any) are valid.
		if argumentType.NumMethod() == 0 {
			return false, nil
		}
		if !contextType.Implements(argumentType) || !argumentType.Implements(contextType) {
			return false, fmt.Errorf("handler takes an interface, but it is not context.Context: %q", argumentType.Name())
		}
		return true, nil
	case 2:
		contextType := reflect.TypeOf((*context.Context)(nil)).Elem()
		argumentType := handler.In(0)
		if argumentType.Kind() != reflect.Interface || !contextType.Implements(argumentType) || !argumentType.Implements(contextType) {
			return false, fmt.Errorf("handler takes two arguments, but the first is not Context. got %s", argumentType.Kind())
		}
		return true, nil
	}
	return false, fmt.Errorf("handlers may not take more than two arguments, but handler takes %d", handler.NumIn())
}

// validateReturns is aws-lambda-go's.
func validateReturns(handler reflect.Type) error {
	errorType := reflect.TypeOf((*error)(nil)).Elem()
	switch n := handler.NumOut(); {
	case n > 2:
		return fmt.Errorf("handler may not return more than two values")
	case n > 1:
		if !handler.Out(1).Implements(errorType) {
			return fmt.Errorf("handler returns two values, but the second does not implement error")
		}
	case n == 1:
		if !handler.Out(0).Implements(errorType) {
			return fmt.Errorf("handler returns a single value, but it does not implement error")
		}
	}
	return nil
}

// PrimeJSON builds encoding/json's caches for the types of a handler
// function's arguments and results. Called at a reactor's init, it puts
// them in the snapshot, so no clone builds them again in its first
// invocation: that was half of an http-api clone's unprimed cold start
// (BENCHMARKS.md, "Go invocations: the SDK's own work").
//
// How depends on the encoding/json linked (primeType: prime_v1.go,
// prime_v2.go); neither calls a method of the handler's types. It is
// only a head start: it never fails the handler.
func PrimeJSON(handlerFunc any) {
	defer func() { recover() }()
	t := reflect.TypeOf(handlerFunc)
	if t == nil || t.Kind() != reflect.Func {
		return
	}
	var types []reflect.Type
	for i := range t.NumIn() {
		types = append(types, t.In(i))
	}
	for i := range t.NumOut() {
		types = append(types, t.Out(i))
	}
	for _, t := range types {
		if t.Kind() != reflect.Interface {
			primeType(t)
		}
	}
}
