// Package sampletest runs ferry's samples the way their tests need: each
// sample is built once (gobuild.Cached), every test in a process shares one
// engine, and a handler can be compared with itself run natively through
// aws-lambda-go in the same process.
//
// The differential tests and benchmarks live in each sample's own package
// (package main cannot be imported), and call the helpers here.
package sampletest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

var (
	engineOnce sync.Once
	engine     *adapter.Engine
	engineErr  error
)

// Engine returns the process's shared engine.
func Engine(tb testing.TB) *adapter.Engine {
	engineOnce.Do(func() { engine, engineErr = adapter.NewEngine(context.Background()) })
	if engineErr != nil {
		tb.Fatal(engineErr)
	}
	return engine
}

// Module returns the module built from the Go handler in dir.
func Module(tb testing.TB, dir string) string {
	tb.Helper()
	path, err := gobuild.Cached(context.Background(), dir)
	if err != nil {
		tb.Fatalf("building %s: %v", dir, err)
	}
	return path
}

// Load loads the handler in dir as a function.
func Load(tb testing.TB, dir string, cfg adapter.Config) *adapter.Function {
	tb.Helper()
	f, err := Engine(tb).LoadFile(context.Background(), Module(tb, dir), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close(context.Background()) })
	return f
}

// Name is the sample's name: the test's package directory.
func Name(tb testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Base(wd)
}

// Fixture returns one of the real AWS payloads shipped in aws-lambda-go's
// events/testdata.
func Fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		tb.Fatalf("locating aws-lambda-go: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "events", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// NativeContext is the context aws-lambda-go gives a handler, for native
// invocations.
func NativeContext() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       "native-request",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:native",
	})
}

// Differential invokes handler natively (lambda.NewHandler(h).Invoke) and
// the sample in the current directory under ferry with each event, and
// fails unless both answer the same: JSON-equal responses, or errors with
// the same errorType and errorMessage.
func Differential(t *testing.T, handler any, events map[string][]byte) {
	t.Helper()
	f := Load(t, ".", adapter.Config{Name: Name(t)})
	nativeEnvironment(f.Config())
	native := lambda.NewHandler(handler)
	for name, ev := range events {
		t.Run(name, func(t *testing.T) {
			want, nerr := native.Invoke(NativeContext(), ev)
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: ev})
			if err != nil {
				t.Fatal(err)
			}
			if nerr != nil {
				var doc struct{ ErrorType, ErrorMessage string }
				if err := json.Unmarshal(res.Payload, &doc); err != nil {
					t.Fatalf("error document %s: %v", res.Payload, err)
				}
				if doc.ErrorType != typeName(nerr) || doc.ErrorMessage != nerr.Error() {
					t.Fatalf("native error %s %q, ferry %s %q", typeName(nerr), nerr.Error(), doc.ErrorType, doc.ErrorMessage)
				}
				return
			}
			if res.Failed() {
				t.Fatalf("ferry failed (%s): %s\nlogs:\n%s", res.ErrorType, res.Payload, res.Logs)
			}
			JSONEqual(t, want, res.Payload)
		})
	}
}

// nativeEnvironment gives the native handler the environment Lambda (and
// ferry) gives the function. aws-lambda-go reads it into lambdacontext at
// init, which has run by now, so its variables are set directly.
func nativeEnvironment(cfg adapter.Config) {
	lambdacontext.FunctionName = cfg.Name
	lambdacontext.MemoryLimitInMB = cfg.Memory
	lambdacontext.FunctionVersion = "$LATEST"
	lambdacontext.LogGroupName = "/aws/lambda/" + cfg.Name
}

// typeName is aws-lambda-go's errorType of err.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// JSONEqual fails unless a and b are the same JSON value.
func JSONEqual(t testing.TB, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("responses differ\nnative: %s\nferry:  %s", want, got)
	}
}

// ColdStart benchmarks a new instance plus its first invocation of the
// sample in the current directory; compiled code is cached, as after the
// first start of a process.
func ColdStart(b *testing.B, event []byte) {
	f := Load(b, ".", adapter.Config{Name: Name(b)})
	b.Run(Name(b), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f.CloseIdle()
			b.StartTimer()
			mustInvoke(b, f, event)
		}
	})
}

// WarmInvoke benchmarks invocations on a warm instance.
func WarmInvoke(b *testing.B, event []byte) {
	f := Load(b, ".", adapter.Config{Name: Name(b)})
	mustInvoke(b, f, event)
	b.Run(Name(b), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			mustInvoke(b, f, event)
		}
	})
}

// NativeInvoke benchmarks the same handler natively in-process, the
// baseline of WarmInvoke.
func NativeInvoke(b *testing.B, handler any, event []byte) {
	h := lambda.NewHandler(handler)
	ctx := NativeContext()
	// The handler's own log lines would flood the benchmark's output.
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		stdout := os.Stdout
		os.Stdout = null
		defer func() { os.Stdout = stdout; null.Close() }()
	}
	b.Run(Name(b), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := h.Invoke(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustInvoke(b *testing.B, f *adapter.Function, event []byte) {
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event})
	if err == nil && res.Failed() {
		err = errors.New(string(res.Payload))
	}
	if err != nil {
		b.Fatal(err)
	}
}

// LogBuffer is a writer that tests read while servers and queues write to
// it from other goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
