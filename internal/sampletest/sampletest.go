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
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// Module returns the module built from the Go handler in dir: with
// GOEXPERIMENT=jsonv2 (gobuild.JSONv2) when $FERRY_TEST_JSONV2 is 1, so
// that the samples' differential tests and benchmarks can run against
// guests built either way.
func Module(tb testing.TB, dir string) string {
	tb.Helper()
	path, err := gobuild.Cached(context.Background(), dir, gobuild.JSONv2(os.Getenv("FERRY_TEST_JSONV2") == "1"))
	if err != nil {
		tb.Fatalf("building %s: %v", dir, err)
	}
	return path
}

// TestTimeout is the function timeout Load gives a test that sets none.
// Lambda's default (3 s) is about production handlers; a test that is not
// about time must not fail because a loaded 2-core machine ran a
// multi-megabyte invocation slowly. Tests about timeouts set their own.
const TestTimeout = 5 * time.Minute

// Load loads the handler in dir as a function, with TestTimeout unless cfg
// sets a timeout.
func Load(tb testing.TB, dir string, cfg adapter.Config) *adapter.Function {
	tb.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = TestTimeout
	}
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
// the same errorType and errorMessage. Under ferry the instance is a clone
// of the function's snapshot (the default for reactors on Linux); with
// FERRY_SNAPSHOTS=0 it is a freshly initialised one.
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
// first start of a process, and so is the function's snapshot (instances
// are clones unless FERRY_SNAPSHOTS=0). Besides the mean it reports p50
// and p99, the share spent starting the instance (init-ns) and the minor
// page faults per cold start.
//
// ColdStart/<sample>/primed is the same with the event as the function's
// PrimeEvent: the snapshot is taken after one invocation.
func ColdStart(b *testing.B, event []byte) {
	coldStart(b, Name(b), adapter.Config{Name: Name(b)}, event)
	coldStart(b, Name(b)+"/primed", adapter.Config{Name: Name(b), PrimeEvent: event}, event)
}

func coldStart(b *testing.B, name string, cfg adapter.Config, event []byte) {
	f := Load(b, ".", cfg)
	mustInvoke(b, f, event) // the snapshot, when there is one, is made once
	b.Run(name, func(b *testing.B) {
		var initTime time.Duration
		var faults int64
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f.CloseIdle()
			before := minorFaults()
			b.StartTimer()
			t0 := time.Now()
			res := mustInvoke(b, f, event)
			lat = append(lat, time.Since(t0))
			b.StopTimer()
			faults += minorFaults() - before
			initTime += res.InitDuration
			b.StartTimer()
		}
		b.ReportMetric(float64(initTime.Nanoseconds())/float64(b.N), "init-ns/op")
		b.ReportMetric(float64(faults)/float64(b.N), "minflt/op")
		reportPercentiles(b, lat)
	})
}

// reportPercentiles reports the p50 and p99 of lat.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

// minorFaults is the process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Minflt)
}

// NativeColdStart benchmarks ColdStart's baseline: the same handler built
// natively (plain aws-lambda-go) and started as a process per request,
// serving its one event through a minimal Lambda Runtime API on loopback,
// as the Runtime Interface Emulator would run it. Each op is process start
// to response received.
func NativeColdStart(b *testing.B, event []byte) {
	bin := filepath.Join(b.TempDir(), "handler")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("building natively: %v\n%s", err, out)
	}
	resp := make(chan []byte, 1)
	// A Runtime API per process: a killed process's pending request for
	// its next event must not take the next process's.
	runtimeAPI := func() *httptest.Server {
		served := false
		mux := http.NewServeMux()
		mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
			if served {
				<-r.Context().Done()
				return
			}
			served = true
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "native-request")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:native")
			w.Write(event)
		})
		reply := func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			resp <- body
		}
		mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", reply)
		mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", reply)
		return httptest.NewServer(mux)
	}
	b.Run(Name(b), func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			srv := runtimeAPI()
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"),
				"AWS_LAMBDA_FUNCTION_NAME="+Name(b), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "_HANDLER=handler")
			b.StartTimer()
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			<-resp
			lat = append(lat, time.Since(t0))
			b.StopTimer()
			cmd.Process.Kill()
			cmd.Wait()
			srv.CloseClientConnections()
			srv.Close()
			b.StartTimer()
		}
		reportPercentiles(b, lat)
	})
}

// IdleMemory measures the private memory (Private_Dirty in
// /proc/self/smaps_rollup) that each idle warm instance adds: a function
// limited to n instances is driven by n concurrent callers until it has
// n instances that have all served, then left idle; the growth over its
// first instance, per instance, is reported with snapshots (the default)
// and, in the same run, without.
func IdleMemory(b *testing.B, event []byte) {
	const n = 16
	b.Run(Name(b), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.ReportMetric(idleMemory(b, Engine(b), n, event), "private-KiB/instance")
			e, err := adapter.NewEngine(context.Background(), adapter.WithoutSnapshots())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(idleMemory(b, e, n, event), "fresh-private-KiB/instance")
			e.Close(context.Background())
		}
	})
}

func idleMemory(b *testing.B, e *adapter.Engine, n int, event []byte) float64 {
	f, err := e.LoadFile(context.Background(), Module(b, "."), adapter.Config{Name: Name(b), Concurrency: n})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close(context.Background())
	mustInvoke(b, f, event)
	debug.FreeOSMemory()
	before := privateDirtyKiB(b)
	stop := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.Stats().Peak < n && time.Now().Before(stop) {
				mustInvoke(b, f, event)
			}
			// Once all n exist, a few more rounds so that each serves.
			for range 4 {
				mustInvoke(b, f, event)
			}
		}()
	}
	wg.Wait()
	debug.FreeOSMemory()
	after := privateDirtyKiB(b)
	st := f.Stats()
	b.ReportMetric(float64(st.Instances), "instances")
	return float64(after-before) / float64(st.Instances-1)
}

func privateDirtyKiB(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		b.Skip("no /proc/self/smaps_rollup:", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Private_Dirty:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	b.Fatal("no Private_Dirty in smaps_rollup")
	return 0
}

// WarmInvoke benchmarks invocations on a warm instance. Besides the
// wall time it reports the process's CPU time per invocation (cpu-ns/op),
// which another process's load on the machine inflates far less.
func WarmInvoke(b *testing.B, event []byte) {
	f := Load(b, ".", adapter.Config{Name: Name(b)})
	mustInvoke(b, f, event)
	b.Run(Name(b), func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			mustInvoke(b, f, event)
		}
	})
}

// reportCPU reports the process's CPU time from now to the call of the
// function it returns, per op, as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := ProcessCPU(b)
	return func() {
		b.ReportMetric(float64((ProcessCPU(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// ProcessCPU is the user and system time the process has used so far.
// Benchmarks report it per op besides the wall time: load from other
// work on the machine inflates it far less.
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if _, err := h.Invoke(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustInvoke(b *testing.B, f *adapter.Function, event []byte) *adapter.Result {
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event})
	if err == nil && res.Failed() {
		err = errors.New(string(res.Payload))
	}
	if err != nil {
		b.Fatal(err)
	}
	return res
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
