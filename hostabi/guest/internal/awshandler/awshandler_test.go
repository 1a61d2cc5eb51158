package awshandler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/handlertrace"
)

type item struct {
	ID    int     `json:"id"`
	Name  string  `json:"name,omitempty"`
	Price float64 `json:"price"`
	Tags  []string
}

type failingJSON struct{}

func (failingJSON) MarshalJSON() ([]byte, error) { return nil, errors.New("no JSON for you") }

// jsonReader is a reader whose JSON is not empty: its JSON is the response.
type jsonReader struct {
	Field string
	r     io.Reader
}

func (j *jsonReader) Read(p []byte) (int, error) { return j.r.Read(p) }

type closingReader struct {
	*strings.Reader
	closed *bool
}

func (c closingReader) Close() error { *c.closed = true; return nil }

type customHandler struct{}

func (customHandler) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	if len(payload) == 0 {
		return nil, errors.New("empty")
	}
	return append([]byte("got "), payload...), nil
}

type key string

// handlers are the handlers both sides build, valid and not.
func handlers() map[string]any {
	var closed bool
	return map[string]any{
		"none":                 func() {},
		"error only":           func() error { return errors.New("failed") },
		"nil error":            func() error { return nil },
		"context":              func(ctx context.Context) error { return ctx.Err() },
		"string":               func(s string) (string, error) { return "Hello " + s + "!", nil },
		"context string":       func(_ context.Context, s string) (string, error) { return "<" + s + "> & more", nil },
		"context value":        func(ctx context.Context, k string) (any, error) { return ctx.Value(key(k)), nil },
		"map":                  func(m map[string]any) (map[string]any, error) { return m, nil },
		"any":                  func(v any) (any, error) { return v, nil },
		"struct":               func(_ context.Context, it item) (item, error) { it.ID++; return it, nil },
		"struct pointer nil":   func(it *item) (*item, error) { return nil, nil },
		"struct error":         func(it item) (*item, error) { return &it, fmt.Errorf("item %d: %w", it.ID, io.ErrUnexpectedEOF) },
		"typed nil error":      func() (string, *customError) { return "x", nil },
		"unsupported response": func() (chan int, error) { return make(chan int), nil },
		"marshaler fails":      func() (failingJSON, error) { return failingJSON{}, nil },
		"bytes.Buffer":         func() (io.Reader, error) { return bytes.NewBufferString("raw bytes"), nil },
		"strings.Reader":       func() (*strings.Reader, error) { return strings.NewReader("a reader"), nil },
		"closing reader":       func() (io.Reader, error) { return closingReader{strings.NewReader("closed"), &closed}, nil },
		"json reader":          func() (io.Reader, error) { return &jsonReader{"f", strings.NewReader("unused")}, nil },
		"bytes":                func(b []byte) ([]byte, error) { return b, nil },
		"NaN":                  func() (float64, error) { return math.NaN(), nil },
		"HTTP response": func(_ context.Context, s string) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"b": "<", "a": s}, Body: `{"s":"` + s + `"}`, Cookies: []string{"c=1"}}, nil
		},
		"HTTP API": func(ctx context.Context, r events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: fmt.Sprint(r.RawPath, ctx.Value(key("k"))), Cookies: r.Cookies}, nil
		},
		"REST API error": func(_ context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 500}, fmt.Errorf("failed on %q", r.Path)
		},
		"ALB panic": func(_ context.Context, r events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
			panic("ALB " + r.HTTPMethod)
		},
		"function URL typed nil error": func(_ context.Context, r events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
			var e *customError
			return events.LambdaFunctionURLResponse{Body: r.RawPath}, e
		},
		"map response": func(m map[string]any) (map[string]any, error) { m["added"] = []any{1.5, "<&>"}; return m, nil },
		"time":         func(t time.Time) (time.Time, error) { return t.Add(time.Hour), nil },
		"Handler":      customHandler{},
		"panics":       func() error { panic("a panic") },
		// Invalid handlers: every invocation reports why.
		"nil":                     nil,
		"not a func":              5,
		"two non-context":         func(a, b int) error { return nil },
		"three arguments":         func(ctx context.Context, a, b int) error { return nil },
		"interface not context":   func(s fmt.Stringer) error { return nil },
		"single non-error return": func() string { return "" },
		"second not error":        func() (int, int) { return 0, 0 },
		"three returns":           func() (int, int, error) { return 0, 0, nil },
	}
}

type customError struct{}

func (*customError) Error() string { return "custom" }

var payloads = []string{
	`{"rawPath":"/p","path":"/r","httpMethod":"GET","cookies":["a=1"]}`,
	`"World"`, `{"id":1,"name":"<b>","price":1.50,"Tags":["a"],"extra":true}`, `{"id":12345678901234567890}`,
	`{"a":{"b":[1,2.5,"c",null]}}`, `null`, ``, `{`, `[1,2]`, `"2026-12-07T01:02:03Z"`, `"k"`, `{"ID":2}`,
}

var optionSets = map[string]func() []lambda.Option{
	"none":             func() []lambda.Option { return nil },
	"escape HTML":      func() []lambda.Option { return []lambda.Option{lambda.WithSetEscapeHTML(true)} },
	"indent":           func() []lambda.Option { return []lambda.Option{lambda.WithSetIndent(">", "  ")} },
	"use number":       func() []lambda.Option { return []lambda.Option{lambda.WithUseNumber(true)} },
	"disallow unknown": func() []lambda.Option { return []lambda.Option{lambda.WithDisallowUnknownFields(true)} },
	"context and value": func() []lambda.Option {
		return []lambda.Option{lambda.WithContext(context.WithValue(context.Background(), key("k"), "base")), lambda.WithContextValue(key("k2"), "v2")}
	},
	"all": func() []lambda.Option {
		return []lambda.Option{lambda.WithUseNumber(true), lambda.WithSetEscapeHTML(true), lambda.WithSetIndent("", "\t"), lambda.WithContextValue(key("k"), 7)}
	},
}

// outcome is what an invocation showed: the response, the error's type
// and message, a panic, and the trace hooks' calls.
type outcome struct {
	Response, ErrType, Err, Panic string
	Trace                         []string
}

func invoke(h lambda.Handler, ctx context.Context, payload string) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			o.Panic = fmt.Sprint(v)
		}
	}()
	ctx = handlertrace.NewContext(ctx, handlertrace.HandlerTrace{
		RequestEvent:  func(_ context.Context, v any) { o.Trace = append(o.Trace, fmt.Sprintf("request %T %v", v, v)) },
		ResponseEvent: func(_ context.Context, v any) { o.Trace = append(o.Trace, fmt.Sprintf("response %T", v)) },
	})
	b, err := h.Invoke(ctx, []byte(payload))
	o.Response = string(b)
	if err != nil {
		o.ErrType, o.Err = fmt.Sprintf("%T", err), err.Error()
	}
	return o
}

// awsBaseContext reads the base context of a handler aws-lambda-go built.
func awsBaseContext(t *testing.T, h lambda.Handler) context.Context {
	f := reflect.ValueOf(h).Elem().FieldByName("baseContext")
	if !f.IsValid() {
		t.Fatal("aws-lambda-go's handler has no baseContext")
	}
	return *(*context.Context)(unsafe.Pointer(f.UnsafeAddr()))
}

// TestMatchesAWSLambdaGo builds every handler with every option set both
// ways and compares each invocation, on every payload, and the base
// contexts.
func TestMatchesAWSLambdaGo(t *testing.T) {
	for hname := range handlers() {
		for oname, opts := range optionSets {
			t.Run(hname+"/"+oname, func(t *testing.T) {
				want := lambda.NewHandlerWithOptions(handlers()[hname], opts()...)
				got := New(handlers()[hname], opts()...)
				for _, k := range []key{"k", "k2", "missing"} {
					if g, w := got.BaseContext.Value(k), awsBaseContext(t, want).Value(k); g != w {
						t.Errorf("base context's %s: %v, want %v", k, g, w)
					}
				}
				ctx := context.WithValue(context.Background(), key("k"), "invocation")
				for _, p := range payloads {
					w, g := invoke(want, ctx, p), invoke(got, ctx, p)
					if !reflect.DeepEqual(g, w) {
						t.Errorf("payload %q:\n got %+v\nwant %+v", p, g, w)
					}
				}
			})
		}
	}
}

// A handler that NewHandler built keeps its own options, as in
// aws-lambda-go's newHandler.
func TestPrebuiltHandler(t *testing.T) {
	inner := lambda.NewHandlerWithOptions(func(ctx context.Context) (any, error) { return ctx.Value(key("k")), nil },
		lambda.WithContextValue(key("k"), "inner"), lambda.WithSetIndent("", " "))
	got := New(inner, lambda.WithContextValue(key("k"), "outer"))
	if v := got.BaseContext.Value(key("k")); v != "inner" {
		t.Errorf("base context's k = %v, want inner", v)
	}
	if w, g := invoke(inner, got.BaseContext, `{}`), invoke(got, got.BaseContext, `{}`); !reflect.DeepEqual(g, w) {
		t.Errorf("got %+v, want %+v", g, w)
	}
}

// WithEnableSIGTERM logs what aws-lambda-go logs without a Runtime API.
func TestEnableSIGTERMLogs(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(io.Discard)
	log.SetFlags(0)
	opt := lambda.WithEnableSIGTERM()
	lambda.NewHandlerWithOptions(func() {}, opt)
	want := logged.String()
	logged.Reset()
	New(func() {}, opt)
	if logged.String() != want || want == "" {
		t.Errorf("logged %q, want %q", logged.String(), want)
	}
}

// TestDirectCall: the HTTP events' handlers are called without
// reflect.Value.Call (TestMatchesAWSLambdaGo compares them), others
// through it.
func TestDirectCall(t *testing.T) {
	hs := handlers()
	for _, name := range []string{"HTTP API", "REST API error", "ALB panic", "function URL typed nil error"} {
		if directCall(hs[name]) == nil {
			t.Errorf("%s: called through reflect", name)
		}
	}
	type named func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	for _, h := range []any{
		hs["HTTP response"], hs["struct"], hs["none"],
		named(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, nil
		}),
		func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, nil
		},
	} {
		if directCall(h) != nil {
			t.Errorf("%T: called directly", h)
		}
	}
}
