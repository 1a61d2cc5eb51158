package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi"
	"github.com/ferrywasm/ferry/internal/sampletest"
	"github.com/ferrywasm/ferry/lambdaspec"
)

func invoke(t testing.TB, f *adapter.Function, payload string) *adapter.Result {
	t.Helper()
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestConcurrentInvocations runs 64 invocations at once on a function
// limited to 4 instances: every one gets its own answer, and the pool never
// holds more instances than the limit.
func TestConcurrentInvocations(t *testing.T) {
	const limit, calls = 4, 64
	f := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "hello", Concurrency: limit})
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("caller %d", i)
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`"` + name + `"`)})
			switch {
			case err != nil:
				errs <- err
			case string(res.Payload) != `"Hello `+name+`!"`:
				errs <- fmt.Errorf("caller %d got %s (%s)", i, res.Payload, res.ErrorType)
			case !strings.Contains(string(res.Logs), "request "+res.RequestID):
				errs <- fmt.Errorf("caller %d: log of another invocation:\n%s", i, res.Logs)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.Stats()
	if st.Peak > limit || st.Instances > limit {
		t.Fatalf("peak %d, now %d instances; limit %d", st.Peak, st.Instances, limit)
	}
	if st.Peak < 2 {
		t.Fatalf("peak %d instances: 64 concurrent calls never ran in parallel", st.Peak)
	}
}

// TestConcurrencyLimitWaits checks that a caller that cannot wait for a
// busy function gets ErrTooManyRequests.
func TestConcurrencyLimitWaits(t *testing.T) {
	f := sampletest.Load(t, "../samples/errors", adapter.Config{Name: "errors", Concurrency: 1, Timeout: 2 * time.Second})
	started := make(chan struct{})
	go func() {
		close(started)
		f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"mode":"sleep"}`)})
	}()
	<-started
	for f.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Invoke(ctx, &adapter.Request{}); err != adapter.ErrTooManyRequests {
		t.Fatalf("Invoke on a saturated function = %v, want ErrTooManyRequests", err)
	}
}

// TestScaleToZero checks that idle instances are closed after
// IdleTimeout, except MinInstances, and that the next call starts cold.
func TestScaleToZero(t *testing.T) {
	for _, min := range []int{0, 1} {
		t.Run(fmt.Sprint("min", min), func(t *testing.T) {
			f := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "hello", IdleTimeout: 50 * time.Millisecond, MinInstances: min, Concurrency: 2})
			if err := f.Warm(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			if st := f.Stats(); st.Idle != 2 {
				t.Fatalf("after Warm(2): %+v", st)
			}
			if res := invoke(t, f, `"x"`); res.InitDuration != 0 {
				t.Fatalf("invocation after Warm was a cold start")
			}
			for f.Stats().Instances > min { // the reaper runs every IdleTimeout/2
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			if st := f.Stats(); st.Instances != min {
				t.Fatalf("after idling: %+v, want %d instances", st, min)
			}
			res := invoke(t, f, `"again"`)
			if cold := res.InitDuration > 0; cold != (min == 0) {
				t.Fatalf("cold start = %v with minInstances %d", cold, min)
			}
		})
	}
}

// TestContext checks what the guest sees besides its event: Lambda's
// context, deadline, environment, clocks and randomness.
func TestContext(t *testing.T) {
	f := sampletest.Load(t, "testdata/ctxecho", adapter.Config{
		Name: "ctxecho", Memory: 256, Timeout: 7 * time.Second, Region: "eu-west-1",
		Environment: map[string]string{"GREETING": "hi"},
	})
	req := &adapter.Request{
		Payload:            []byte(`{"k":"v"}`),
		RequestID:          "11111111-2222-4333-8444-555555555555",
		TraceID:            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		ClientContext:      []byte(`{"Client":{"installation_id":"inst-1","app_title":"app"},"env":{"e":"1"},"custom":{"c":"2"}}`),
		CognitoIdentity:    []byte(`{"cognitoIdentityId":"us-east-1:id","cognitoIdentityPoolId":"us-east-1:pool"}`),
		InvokedFunctionARN: "arn:aws:lambda:eu-west-1:123456789012:function:ctxecho:prod",
	}
	var got [2]struct {
		Context struct {
			AwsRequestID       string
			InvokedFunctionArn string
			Identity           struct{ CognitoIdentityID, CognitoIdentityPoolID string }
			ClientContext      struct {
				Client struct {
					InstallationID string `json:"installation_id"`
					AppTitle       string `json:"app_title"`
				}
				Env    map[string]string `json:"env"`
				Custom map[string]string `json:"custom"`
			}
		} `json:"context"`
		TraceValue  string            `json:"traceValue"`
		TraceEnv    string            `json:"traceEnv"`
		DeadlineIn  time.Duration     `json:"deadlineIn"`
		Env         map[string]string `json:"env"`
		Function    string            `json:"function"`
		MemoryLimit int               `json:"memoryLimit"`
		Random      int64             `json:"random"`
		Now         time.Time         `json:"now"`
		Event       map[string]string `json:"event"`
	}
	for i := range got {
		f.CloseIdle() // a fresh instance each time, to compare their randomness
		res, err := f.Invoke(context.Background(), req)
		if err != nil || res.Failed() {
			t.Fatalf("%v %s", err, res.Payload)
		}
		if err := json.Unmarshal(res.Payload, &got[i]); err != nil {
			t.Fatal(err)
		}
	}
	g := got[0]
	c := g.Context
	for _, check := range []struct{ name, got, want string }{
		{"request id", c.AwsRequestID, req.RequestID},
		{"arn", c.InvokedFunctionArn, req.InvokedFunctionARN},
		{"cognito id", c.Identity.CognitoIdentityID, "us-east-1:id"},
		{"cognito pool", c.Identity.CognitoIdentityPoolID, "us-east-1:pool"},
		{"client installation", c.ClientContext.Client.InstallationID, "inst-1"},
		{"client custom", c.ClientContext.Custom["c"], "2"},
		{"client env", c.ClientContext.Env["e"], "1"},
		{"trace value", g.TraceValue, req.TraceID},
		{"trace env", g.TraceEnv, req.TraceID},
		{"function", g.Function, "ctxecho"},
		{"event", g.Event["k"], "v"},
		{"AWS_LAMBDA_FUNCTION_NAME", g.Env["AWS_LAMBDA_FUNCTION_NAME"], "ctxecho"},
		{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", g.Env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256"},
		{"AWS_LAMBDA_FUNCTION_VERSION", g.Env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST"},
		{"AWS_REGION", g.Env["AWS_REGION"], "eu-west-1"},
		{"AWS_DEFAULT_REGION", g.Env["AWS_DEFAULT_REGION"], "eu-west-1"},
		{"AWS_LAMBDA_LOG_GROUP_NAME", g.Env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/ctxecho"},
		{"AWS_LAMBDA_INITIALIZATION_TYPE", g.Env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand"},
		{"TZ", g.Env["TZ"], ":UTC"},
		{"LAMBDA_TASK_ROOT", g.Env["LAMBDA_TASK_ROOT"], "/var/task"},
		{"GREETING", g.Env["GREETING"], "hi"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.name, check.got, check.want)
		}
	}
	if g.MemoryLimit != 256 {
		t.Errorf("lambdacontext.MemoryLimitInMB = %d", g.MemoryLimit)
	}
	if !strings.Contains(g.Env["AWS_LAMBDA_LOG_STREAM_NAME"], "/[$LATEST]") {
		t.Errorf("log stream %q", g.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	// Above the 3 s default, so the configured timeout was used; the
	// margin below 7 s is what a loaded machine takes to start the call.
	if g.DeadlineIn <= lambdaspec.DefaultTimeout || g.DeadlineIn > 7*time.Second {
		t.Errorf("deadline in %v, want under the 7s timeout and above the %v default", g.DeadlineIn, lambdaspec.DefaultTimeout)
	}
	if d := time.Since(g.Now); d < 0 || d > time.Minute {
		t.Errorf("guest clock says %v, host %v: not the real clock", g.Now, time.Now())
	}
	if got[0].Random == got[1].Random {
		t.Errorf("two instances drew the same random number %d: randomness is not seeded from the host", g.Random)
	}
}

// TestInitFailure checks that a failing init phase is the invocation's
// error, that nothing is pooled, and that a fixed configuration works.
func TestInitFailure(t *testing.T) {
	f := sampletest.Load(t, "testdata/initfail", adapter.Config{Name: "initfail"})
	res := invoke(t, f, `{}`)
	if res.ErrorType != "Runtime.ExitError" || !strings.Contains(string(res.Payload), "Runtime exited with error: exit status 1") {
		t.Fatalf("init failure: %s %s", res.ErrorType, res.Payload)
	}
	if !strings.Contains(string(res.Logs), "REQUIRED is not set") || !strings.Contains(string(res.Logs), "Phase: init\tStatus: error") {
		t.Fatalf("init failure log:\n%s", res.Logs)
	}
	if st := f.Stats(); st.Instances != 0 {
		t.Fatalf("a failed instance was pooled: %+v", st)
	}
	g := sampletest.Load(t, "testdata/initfail", adapter.Config{Name: "initfail", Environment: map[string]string{"REQUIRED": "yes"}})
	if res := invoke(t, g, `{}`); string(res.Payload) != `"configured"` {
		t.Fatalf("configured: %s %s", res.ErrorType, res.Payload)
	}
}

// TestCommandMode runs a Go handler built as a plain WASI command (no
// ferry build): one instance per invocation, event on stdin.
func TestCommandMode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hello-command.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "../samples/hello"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	f, err := sampletest.Engine(t).LoadFile(context.Background(), out, adapter.Config{Name: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	if f.Mode() != hostabi.Command {
		t.Fatalf("mode %v, want command", f.Mode())
	}
	for i := 0; i < 2; i++ {
		res := invoke(t, f, `"command"`)
		if res.Failed() || string(res.Payload) != `"Hello command!"` {
			t.Fatalf("%s %s\n%s", res.ErrorType, res.Payload, res.Logs)
		}
		if !strings.Contains(string(res.Logs), "hello invoked as hello, request "+res.RequestID) {
			t.Fatalf("logs:\n%s", res.Logs)
		}
	}
	res := invoke(t, f, `42`) // not a string: the handler's unmarshal error
	if res.ErrorType != "UnmarshalTypeError" {
		t.Fatalf("bad event in command mode: %s %s", res.ErrorType, res.Payload)
	}
}

// TestJSONLogFormat checks Lambda's JSON log format.
func TestJSONLogFormat(t *testing.T) {
	f := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "hello", LogFormat: adapter.LogJSON})
	res := invoke(t, f, `"json"`)
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(string(res.Logs)), "\n") {
		var rec struct {
			Type, Message, RequestID string
			Record                   struct {
				RequestID string
				Metrics   map[string]float64
			}
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec.Type == "" {
			types = append(types, "app:"+rec.Message)
			continue
		}
		types = append(types, rec.Type)
		if rec.Record.RequestID != res.RequestID {
			t.Errorf("%s record for request %q", rec.Type, rec.Record.RequestID)
		}
		if rec.Type == "platform.report" && (rec.Record.Metrics["memorySizeMB"] != 128 || rec.Record.Metrics["initDurationMs"] <= 0) {
			t.Errorf("report metrics %v", rec.Record.Metrics)
		}
	}
	want := "platform.start,app:hello invoked as hello, request " + res.RequestID + ",platform.report"
	if strings.Join(types, ",") != want {
		t.Fatalf("log records %v, want %s", types, want)
	}
}

// TestLoadErrors checks that modules ferry cannot run are refused at load
// with an error that names the problem.
func TestLoadErrors(t *testing.T) {
	e := sampletest.Engine(t)
	cases := []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hello\n"), "not a WebAssembly module"},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x05"), "invalid WebAssembly module"},
		// A call to a function whose type index is past the type section:
		// wazero v1.12.0's validator indexes the section with it and panics.
		{"callee's type out of range", []byte("\x00asm\x01\x00\x00\x00\x01\t\x02`\x00\x00`\x01~\x01~\x03\x04\x03\x00\x010\n0\x03\a\x00\x03@\f\x00\v\v\x1c\x00B0B0XC0000B0B0X\x10\x02000000000\v\t\x00000000A\v"), "invalid WebAssembly module"},
		{"no exports", wasmModule(1), "module exports neither ferry_invoke"},
		{"no version", wasmModule(1, "memory", "ferry_invoke"), "exports ferry_invoke but not ferry_abi_version"},
		{"no memory", wasmModule(1, "ferry_abi_version", "ferry_invoke"), `no memory named "memory"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), c.wasm, adapter.Config{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestRefusedModuleAllocatesLittle: a module ferry refuses is not handed
// to wazero, which allocates what its sections claim. This one's table
// section is malformed, and its element section claims 0xdedede
// segments: wazero v1.12.0 allocates 9 GB for it before it refuses it.
func TestRefusedModuleAllocatesLittle(t *testing.T) {
	e := sampletest.Engine(t)
	wasm := []byte("\x00asm\x01\x00\x00\x00\x04\t\x020\x0000\x00\xff\xff0\t0\xde\xde\xde>>>>>>>\xde00")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := e.Load(context.Background(), wasm, adapter.Config{})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "invalid WebAssembly module") {
		t.Fatalf("Load = %v, want invalid WebAssembly module", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64<<20 {
		t.Fatalf("refusing a %d-byte module allocated %d MB", len(wasm), allocated>>20)
	}
}

// TestABIVersionMismatch checks that a guest built for another ABI
// version fails its init with an error naming both versions.
func TestABIVersionMismatch(t *testing.T) {
	f, err := sampletest.Engine(t).Load(context.Background(), wasmModule(2, "memory", "ferry_abi_version", "ferry_invoke"), adapter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, f, `{}`)
	if res.ErrorType != "Runtime.InvalidABIVersion" || !strings.Contains(string(res.Payload), "ABI version 2; this host supports [1]") {
		t.Fatalf("%s %s", res.ErrorType, res.Payload)
	}
}

// TestNoResponse checks a reactor whose ferry_invoke returns without
// reporting anything.
func TestNoResponse(t *testing.T) {
	f, err := sampletest.Engine(t).Load(context.Background(), wasmModule(1, "memory", "ferry_abi_version", "ferry_invoke"), adapter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if res := invoke(t, f, `{}`); res.ErrorType != "Runtime.InvalidResponse" {
		t.Fatalf("%s %s", res.ErrorType, res.Payload)
	}
}

// wasmModule assembles a minimal module with a memory, a function
// returning version (ferry_abi_version) and one returning 0 (ferry_invoke),
// exporting only the names given.
func wasmModule(version byte, exports ...string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 10, 2, 0x60, 0, 1, 0x7f, 0x60, 1, 0x7f, 1, 0x7f) // types: ()->i32, (i32)->i32
	b = append(b, 3, 3, 2, 0, 1)                                      // functions
	b = append(b, 5, 3, 1, 0, 1)                                      // one memory of one page
	var ex []byte
	for _, name := range exports {
		kind, idx := byte(0), byte(0)
		switch name {
		case "memory":
			kind = 2
		case "ferry_invoke":
			idx = 1
		}
		ex = append(append(append(ex, byte(len(name))), name...), kind, idx)
	}
	b = append(append(b, 7, byte(len(ex)+1), byte(len(exports))), ex...)
	return append(b, 10, 11, 2, 4, 0, 0x41, version, 0x0b, 4, 0, 0x41, 0, 0x0b)
}

// TestCompilationCache checks that a second engine on the same cache
// directory, as a second process start would be, reuses the compiled code
// the first one stored instead of compiling and storing it again.
func TestCompilationCache(t *testing.T) {
	dir := t.TempDir()
	wasm, err := os.ReadFile(sampletest.Module(t, "../samples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	cached := func() map[string]time.Time {
		files := map[string]time.Time{}
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files[path] = info.ModTime()
			}
			return nil
		})
		return files
	}
	for i := 0; i < 2; i++ {
		ctx := context.Background()
		e, err := adapter.NewEngine(ctx, adapter.WithCacheDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		before := cached()
		f, err := e.Load(ctx, wasm, adapter.Config{Name: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		if res := invoke(t, f, `"cache"`); string(res.Payload) != `"Hello cache!"` {
			t.Fatalf("%s", res.Payload)
		}
		e.Close(ctx)
		after := cached()
		switch {
		case i == 0 && len(after) == 0:
			t.Fatal("the first engine stored no compiled code")
		case i == 1 && fmt.Sprint(after) != fmt.Sprint(before):
			t.Fatalf("the second engine wrote to the cache (recompiled): %v -> %v", before, after)
		}
	}
}

// TestCompileStatsAndSeed checks the compilation counter that tells a
// precompiled image apart: a fresh cache compiles, a second engine on the
// same cache does not, and neither does an engine whose empty cache is
// seeded with a copy of the first cache (a container image's precompiled
// cache), which still stores what it compiles itself.
func TestCompileStatsAndSeed(t *testing.T) {
	ctx := context.Background()
	wasm, err := os.ReadFile(sampletest.Module(t, "../samples/hello"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(opts ...adapter.EngineOption) adapter.CompileStats {
		t.Helper()
		e, err := adapter.NewEngine(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(ctx)
		f, err := e.Load(ctx, wasm, adapter.Config{Name: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		if res := invoke(t, f, `"seed"`); string(res.Payload) != `"Hello seed!"` {
			t.Fatalf("%s", res.Payload)
		}
		return e.CompileStats()
	}
	seed := t.TempDir()
	if s := load(adapter.WithCacheDir(seed)); s != (adapter.CompileStats{Compiled: 1}) {
		t.Fatalf("fresh cache: %+v, want 1 compiled", s)
	}
	if s := load(adapter.WithCacheDir(seed)); s != (adapter.CompileStats{FromCache: 1}) {
		t.Fatalf("same cache: %+v, want 1 from the cache", s)
	}
	if s := load(adapter.WithCacheDir(t.TempDir())); s != (adapter.CompileStats{Compiled: 1}) {
		t.Fatalf("other cache: %+v, want 1 compiled", s)
	}
	scratch := t.TempDir()
	if s := load(adapter.WithCacheDir(scratch), adapter.WithCacheSeed(seed)); s != (adapter.CompileStats{FromCache: 1}) {
		t.Fatalf("seeded cache: %+v, want 1 from the cache", s)
	}
	if s := load(adapter.WithoutCache()); s != (adapter.CompileStats{Compiled: 1}) {
		t.Fatalf("no cache: %+v, want 1 compiled", s)
	}
	if _, err := adapter.NewEngine(ctx, adapter.WithCacheDir(t.TempDir()), adapter.WithCacheSeed(filepath.Join(seed, "missing"))); err == nil {
		t.Fatal("a missing seed directory was accepted")
	}
}
