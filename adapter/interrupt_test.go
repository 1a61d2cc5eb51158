package adapter_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// buildC compiles testdata/cstop as a reactor or as a command; without a
// C toolchain the test skips (CI installs one and must not skip).
func buildC(tb testing.TB, reactor bool) string {
	tb.Helper()
	if _, err := exec.LookPath("clang"); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("clang is missing in CI: .ci/install-wasi-c.sh should have installed it")
		}
		tb.Skip("C toolchain missing: run .ci/install-wasi-c.sh (as root)")
	}
	out := filepath.Join(tb.TempDir(), "cstop.wasm")
	args := []string{"--target=wasm32-wasi", "-O2", "-Wl,--strip-all", "-o", out}
	if reactor {
		args = append(args, "-DREACTOR", "-mexec-model=reactor", "-I../hostabi/include")
	}
	if b, err := exec.Command("clang", append(args, "testdata/cstop/stop.c")...).CombinedOutput(); err != nil {
		tb.Fatalf("building cstop: %v\n%s", err, b)
	}
	return out
}

// buildGoCommand builds testdata/stopme as a plain WASI command.
func buildGoCommand(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "stopme-command.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "testdata/stopme"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%v\n%s", err, b)
	}
	return out
}

// stopGuests are the guests of the timeout tests: Go and C, reactor and
// command, each with spin, fib and sleep modes.
func stopGuests(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"go-reactor": func(t *testing.T) string { return sampletest.Module(t, "testdata/stopme") },
		"go-command": func(t *testing.T) string { return buildGoCommand(t) },
		"c-reactor":  func(t *testing.T) string { return buildC(t, true) },
		"c-command":  func(t *testing.T) string { return buildC(t, false) },
	}
}

// TestTimeoutStopsEveryGuest: an endless loop, a loop-free exponential
// call tree (fib(90)) and a long sleep are each stopped at the function's
// timeout with Lambda's Sandbox.Timedout, in Go and C guests, reactor and
// command; the next invocation of the same function succeeds.
func TestTimeoutStopsEveryGuest(t *testing.T) {
	for name, build := range stopGuests(t) {
		t.Run(name, func(t *testing.T) {
			// A command's timeout covers its start (a whole Go runtime's,
			// for the Go one): generous, for slow machines and -race.
			timeout := 2 * time.Second
			if strings.HasSuffix(name, "command") {
				timeout = 5 * time.Second
			}
			msg := fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())
			timedOut := regexp.MustCompile(`^RequestId: [0-9a-f-]{36} Error: ` + msg + `$`)
			path := build(t)
			f, err := sampletest.Engine(t).LoadFile(context.Background(), path, adapter.Config{Name: "stop", Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close(context.Background())
			if want := map[bool]hostabi.Mode{true: hostabi.Reactor, false: hostabi.Command}[strings.HasSuffix(name, "reactor")]; f.Mode() != want {
				t.Fatalf("mode %v, want %v", f.Mode(), want)
			}
			for _, mode := range []string{"spin", "fib", "sleep"} {
				res := invokeBounded(t, f, `"`+mode+`"`, timeout+10*time.Second)
				var doc struct{ ErrorMessage, ErrorType string }
				if err := json.Unmarshal(res.Payload, &doc); err != nil {
					t.Fatalf("%s: %s: %v", mode, res.Payload, err)
				}
				if res.ErrorType != "Sandbox.Timedout" || doc.ErrorType != "Sandbox.Timedout" || !timedOut.MatchString(doc.ErrorMessage) {
					t.Fatalf("%s: %s %s\n%s", mode, res.ErrorType, res.Payload, res.Logs)
				}
				if !bytes.Contains(res.Logs, []byte(msg)) {
					t.Errorf("%s: log lacks the timeout line:\n%s", mode, res.Logs)
				}
				if res := invokeBounded(t, f, `"after"`, time.Minute); res.Failed() || string(res.Payload) != `"after"` {
					t.Fatalf("after %s: %s %s\n%s", mode, res.ErrorType, res.Payload, res.Logs)
				}
			}
		})
	}
}

// invokeBounded invokes f and fails the test, instead of hanging, when the
// invocation does not return within limit.
func invokeBounded(t *testing.T, f *adapter.Function, event string, limit time.Duration) *adapter.Result {
	t.Helper()
	type result struct {
		res *adapter.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(event)})
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.res
	case <-time.After(limit):
		t.Fatalf("%s did not return within %v", event, limit)
		return nil
	}
}

// TestGCDuringGuestSpin forces garbage collections while a Go guest spins,
// with its timeout pending and with none that could fire (then closing the
// engine stops it), in a child process: Go cannot preempt compiled Wasm,
// so a stop-the-world that waited for the guest would park every
// goroutine, the test's own timeout included.
func TestGCDuringGuestSpin(t *testing.T) {
	if os.Getenv("FERRY_GC_CHILD") == "1" {
		gcDuringSpin(t)
		return
	}
	sampletest.Module(t, "testdata/stopme") // built here, not under the child's clock
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestGCDuringGuestSpin$", "-test.v")
	cmd.Env = append(os.Environ(), "FERRY_GC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the child hung (a GC waited for the spinning guest):\n%s", out)
	}
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func gcDuringSpin(t *testing.T) {
	module := sampletest.Module(t, "testdata/stopme")
	for _, timeout := range []time.Duration{2 * time.Second, 900 * time.Second} {
		e, err := adapter.NewEngine(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		f, err := e.LoadFile(context.Background(), module, adapter.Config{Name: "stopme", Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Warm(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		done := make(chan *adapter.Result, 1)
		go func() {
			res, _ := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`"spin"`)})
			done <- res
		}()
		time.Sleep(300 * time.Millisecond) // the guest spins
		for range 3 {
			runtime.GC()
		}
		select {
		case res := <-done:
			t.Fatalf("timeout %v: the guest stopped before the GCs returned: %s", timeout, res.Payload)
		default:
		}
		if timeout > time.Minute {
			// No timeout will fire: closing the engine interrupts the guest.
			e.Close(context.Background())
			if res := <-done; !res.Failed() {
				t.Fatalf("closing the engine: %s", res.Payload)
			}
			continue
		}
		if res := <-done; res.ErrorType != "Sandbox.Timedout" {
			t.Fatalf("%s %s", res.ErrorType, res.Payload)
		}
		if res, _ := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`"after"`)}); res.Failed() {
			t.Fatalf("after: %s", res.Payload)
		}
		e.Close(context.Background())
	}
}

// startModule is a reactor written by hand with a Wasm start section that
// counts its runs in a global; ferry_invoke answers the count. Clones of a
// snapshot must not run the start function again: the answer is 1 with
// snapshots and without.
func startModule() []byte {
	u32 := func(v uint32) []byte { return binary.AppendUvarint(nil, uint64(v)) }
	sec := func(id byte, body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		return append(append([]byte{id}, u32(uint32(len(b)))...), b...)
	}
	vec := func(items ...[]byte) []byte { return append(u32(uint32(len(items))), bytes.Join(items, nil)...) }
	name := func(s string) []byte { return append(u32(uint32(len(s))), s...) }
	body := func(code ...byte) []byte { return append(u32(uint32(len(code)+1)), append([]byte{0}, code...)...) }
	return bytes.Join([][]byte{
		[]byte("\x00asm\x01\x00\x00\x00"),
		sec(1, vec([]byte{0x60, 0, 0}, []byte{0x60, 0, 1, 0x7f}, []byte{0x60, 1, 0x7f, 1, 0x7f}, []byte{0x60, 2, 0x7f, 0x7f, 1, 0x7f})),
		sec(2, vec(append(append(name("ferry"), name("response_write")...), 0, 3))),
		sec(3, vec([]byte{0}, []byte{1}, []byte{2})),
		sec(5, vec([]byte{0, 1})),
		sec(6, vec([]byte{0x7f, 1, 0x41, 0, 0x0b})),
		sec(7, vec(append(name("memory"), 2, 0), append(name(hostabi.ExportABIVersion), 0, 2), append(name(hostabi.ExportInvoke), 0, 3))),
		sec(8, u32(1)),
		sec(10, vec(
			body(0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x0b), // starts++
			body(0x41, 1, 0x0b),                         // ABI version 1
			body(0x41, 0, 0x23, 0, 0x41, 48, 0x6a, 0x3a, 0, 0, // mem[0] = '0'+starts
				0x41, 0, 0x41, 1, 0x10, 0, 0x1a, 0x41, 0, 0x0b), // response_write(0, 1); return 0
		)),
	}, nil)
}

func TestStartSectionRunsOnce(t *testing.T) {
	for _, snapshots := range []bool{true, false} {
		opts := []adapter.EngineOption{adapter.WithoutCache()}
		if !snapshots {
			opts = append(opts, adapter.WithoutSnapshots())
		}
		e, err := adapter.NewEngine(context.Background(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(context.Background())
		f, err := e.Load(context.Background(), startModule(), adapter.Config{Name: "start", Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			f.CloseIdle() // each invocation on a new instance: a clone, with snapshots
			if res := invoke(t, f, `{}`); res.Failed() || string(res.Payload) != "1" {
				t.Fatalf("snapshots %v, invocation %d: %s %s (the start function ran %s times)", snapshots, i, res.ErrorType, res.Payload, res.Payload)
			}
		}
		if ok, reason := f.Snapshot(); ok != snapshots && imagesSupported() {
			t.Fatalf("snapshots %v: Snapshot() = %v (%s)", snapshots, ok, reason)
		}
	}
}

func imagesSupported() bool { return runtime.GOOS == "linux" }
