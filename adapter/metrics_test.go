package adapter_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestMetrics checks that each outcome is counted once under its label,
// with cold starts and live instances, on a real function.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := adapter.NewEngine(context.Background(), adapter.WithMetrics(adapter.NewMetrics(reg)))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	f, err := e.LoadFile(context.Background(), sampletest.Module(t, "../samples/errors"), adapter.Config{Name: "errors", Timeout: 3 * time.Second, Concurrency: 1}) // not 300 ms: an "ok" call must not time out on a loaded machine
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"ok", "ok", "error", "sleep"} {
		invoke(t, f, `{"mode":"`+mode+`"}`)
	}
	// A saturated function: a caller that cannot wait is throttled.
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"mode":"sleep"}`), Trigger: adapter.TriggerHTTP})
	}()
	for f.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Invoke(done, &adapter.Request{}); err != adapter.ErrTooManyRequests {
		t.Fatalf("saturated: %v", err)
	}
	<-busy

	want := `
# HELP ferry_invocations_total Invocations by function, trigger and outcome (success, error, timeout, out_of_memory, throttled).
# TYPE ferry_invocations_total counter
ferry_invocations_total{function="errors",outcome="error",trigger="invoke"} 1
ferry_invocations_total{function="errors",outcome="success",trigger="invoke"} 2
ferry_invocations_total{function="errors",outcome="throttled",trigger="invoke"} 1
ferry_invocations_total{function="errors",outcome="timeout",trigger="http"} 1
ferry_invocations_total{function="errors",outcome="timeout",trigger="invoke"} 1
# HELP ferry_throttles_total Invocations refused because the function was at its concurrency limit.
# TYPE ferry_throttles_total counter
ferry_throttles_total{function="errors"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ferry_invocations_total", "ferry_throttles_total"); err != nil {
		t.Fatal(err)
	}
	// The first call starts an instance, the next two reuse it, the
	// timeout discards it, so the second sleep starts another.
	cold := `
# HELP ferry_cold_starts_total Invocations that started a new instance.
# TYPE ferry_cold_starts_total counter
ferry_cold_starts_total{function="errors"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(cold), "ferry_cold_starts_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "ferry_instances", "ferry_invocation_duration_seconds"); err != nil || n != 3 {
		t.Fatalf("instances and duration series: %d %v", n, err)
	}
	// Max Memory Used of the REPORT lines: a Go guest's linear memory is
	// megabytes, within the function's memory size; the peak is never
	// below the last.
	used := gauge(t, reg, "ferry_instance_memory_bytes")
	peak := gauge(t, reg, "ferry_instance_memory_peak_bytes")
	if used < 1<<20 || used > float64(f.Config().Memory<<20) || peak < used {
		t.Fatalf("instance memory: last %v, peak %v (memory size %d MB)", used, peak, f.Config().Memory)
	}
	f.Close(context.Background())
	if n, _ := testutil.GatherAndCount(reg, "ferry_instances"); n != 0 {
		t.Fatalf("a closed function still reports instances: %d", n)
	}
}

// TestReload swaps a function's code under it: the next invocation runs
// the new module, with the same name, pool and configuration.
func TestReload(t *testing.T) {
	f := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "fn"})
	if res := invoke(t, f, `"x"`); string(res.Payload) != `"Hello x!"` {
		t.Fatalf("before: %s", res.Payload)
	}
	wasm, err := os.ReadFile(sampletest.Module(t, "testdata/ctxecho"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(context.Background(), wasm); err != nil {
		t.Fatal(err)
	}
	res := invoke(t, f, `{"k":1}`)
	if !strings.Contains(string(res.Payload), `"function":"fn"`) || res.InitDuration == 0 {
		t.Fatalf("after: %s (init %v)", res.Payload, res.InitDuration)
	}
	if err := f.Reload(context.Background(), []byte("not wasm")); err == nil {
		t.Fatal("reloading garbage succeeded")
	}
	if res := invoke(t, f, `{}`); res.Failed() {
		t.Fatalf("a failed reload broke the function: %s", res.Payload)
	}
}

// gauge returns the value of the one series of the gauge name in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no single series of %s", name)
	return 0
}
