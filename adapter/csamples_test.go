package adapter_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// loadC builds the C sample in samples/<name> with its build.sh and loads
// it. Without a C toolchain the test skips, except in CI, which installs it
// (.ci/install-wasi-c.sh) and must not skip silently.
func loadC(tb testing.TB, name string) *adapter.Function {
	tb.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("clang is missing in CI: .ci/install-wasi-c.sh should have installed it")
		}
		tb.Skip("C toolchain missing: run .ci/install-wasi-c.sh (as root) to test the C samples")
	}
	out := filepath.Join(tb.TempDir(), name+".wasm")
	if b, err := exec.Command("sh", "../samples/"+name+"/build.sh", out).CombinedOutput(); err != nil {
		tb.Fatalf("building %s: %v\n%s", name, err, b)
	}
	f, err := sampletest.Engine(tb).LoadFile(context.Background(), out, adapter.Config{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close(context.Background()) })
	return f
}

// TestCEcho runs the C reactor: echo, a function error, and reuse of the
// same instance throughout.
func TestCEcho(t *testing.T) {
	f := loadC(t, "c-echo")
	if f.Mode() != hostabi.Reactor {
		t.Fatalf("mode %v, want reactor", f.Mode())
	}
	for _, c := range []struct{ event, want, errorType string }{
		{`{"a":[1,2,{"b":"ü"}]}`, `{"a":[1,2,{"b":"ü"}]}`, ""},
		{`{"fail":true}`, `{"errorMessage":"echo asked to fail","errorType":"EchoError"}`, "EchoError"},
		{`"after the failure"`, `"after the failure"`, ""},
	} {
		res := invoke(t, f, c.event)
		if string(res.Payload) != c.want || res.ErrorType != c.errorType {
			t.Errorf("%s: got %s (%q), want %s (%q)", c.event, res.Payload, res.ErrorType, c.want, c.errorType)
		}
		if !strings.Contains(string(res.Logs), "request "+res.RequestID+"\n") {
			t.Errorf("log lacks the guest's line for this request:\n%s", res.Logs)
		}
	}
	if st := f.Stats(); st.Peak != 1 {
		t.Fatalf("%d instances served three sequential calls, want 1", st.Peak)
	}
}

// TestCEchoClones serves every invocation from a new clone of the C
// reactor's snapshot: each starts with an empty function table, which the
// module fills as it uses it (wasmbin's lazy table; its stdio writes
// through a function pointer).
func TestCEchoClones(t *testing.T) {
	skipWithoutSnapshots(t)
	f := loadC(t, "c-echo")
	for i := range 3 {
		f.CloseIdle() // the next invocation starts a new clone
		event := fmt.Sprintf(`{"clone":%d}`, i)
		res := invoke(t, f, event)
		if string(res.Payload) != event || res.Failed() {
			t.Fatalf("clone %d: got %s (%q), want %s", i, res.Payload, res.ErrorType, event)
		}
		if !strings.Contains(string(res.Logs), "request "+res.RequestID+"\n") {
			t.Fatalf("clone %d: log lacks the guest's line:\n%s", i, res.Logs)
		}
		if ok, reason := f.Snapshot(); !ok {
			t.Fatalf("clone %d: no snapshot: %s", i, reason)
		}
	}
}

// TestCUpper runs a plain WASI command with no ferry SDK.
func TestCUpper(t *testing.T) {
	f := loadC(t, "c-upper")
	if f.Mode() != hostabi.Command {
		t.Fatalf("mode %v, want command", f.Mode())
	}
	res := invoke(t, f, `{"text":"hello, wasm"}`)
	if want := `{"upper":"HELLO, WASM","requestId":"` + res.RequestID + `"}`; string(res.Payload) != want || res.Failed() {
		t.Fatalf("got %s (%s), want %s", res.Payload, res.ErrorType, want)
	}
	if !strings.Contains(string(res.Logs), "upper: 22 bytes") {
		t.Fatalf("logs:\n%s", res.Logs)
	}
}

// BenchmarkColdStartC and BenchmarkWarmInvokeC are the C sample's
// BenchmarkColdStart / BenchmarkWarmInvoke (the Go samples' live beside
// their handlers).
func BenchmarkColdStartC(b *testing.B) {
	f := loadC(b, "c-echo")
	b.Run("c-echo", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f.CloseIdle()
			b.StartTimer()
			invoke(b, f, `{"k":"v"}`)
		}
	})
}

func BenchmarkWarmInvokeC(b *testing.B) {
	f := loadC(b, "c-echo")
	invoke(b, f, `{"k":"v"}`)
	b.Run("c-echo", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			invoke(b, f, `{"k":"v"}`)
		}
	})
}
