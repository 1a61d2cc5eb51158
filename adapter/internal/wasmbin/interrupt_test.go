package wasmbin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/ferrywasm/ferry/internal/gobuild"
)

// compute is a module of two CPU-bound functions: spin (an endless loop)
// and fib (the exponential call tree, without a loop), and a start
// function that counts its runs in the exported global "starts".
func compute() []byte {
	fib := []byte{0, // no locals
		0x20, 0, 0x42, 2, 0x54, // local.get 0; i64.const 2; i64.lt_u
		0x04, 0x7e, 0x20, 0, // if (result i64) local.get 0
		0x05, 0x20, 0, 0x42, 1, 0x7d, 0x10, 1, // else local.get 0; i64.const 1; i64.sub; call fib
		0x20, 0, 0x42, 2, 0x7d, 0x10, 1, 0x7c, // local.get 0; i64.const 2; i64.sub; call fib; i64.add
		0x0b, 0x0b}
	spin := []byte{0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b}        // loop; br 0; end
	start := []byte{0, 0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x0b} // starts++
	code := vec(append(appendU32(nil, uint32(len(spin))), spin...),
		append(appendU32(nil, uint32(len(fib))), fib...),
		append(appendU32(nil, uint32(len(start))), start...))
	return module(
		section(secType, vec([]byte{0x60, 0, 0}, []byte{0x60, 1, 0x7e, 1, 0x7e})),
		section(secFunction, vec([]byte{0}, []byte{1}, []byte{0})),
		section(secMemory, vec([]byte{0, 1})),
		section(secGlobal, vec([]byte{0x7f, 1, 0x41, 0, 0x0b})),
		section(secExport, vec(
			append(appendName(nil, "spin"), kindFunc, 0),
			append(appendName(nil, "fib"), kindFunc, 1),
			append(appendName(nil, "starts"), kindGlobal, 0),
		)),
		section(secStart, []byte{2}),
		section(secCode, code),
		section(secCustom, appendName(nil, ".debug_info"), []byte("offsets")),
	)
}

// truncatedName is a module wazero accepts whose last section is a name
// section with a subsection that declares more bytes than it has: wazero
// decodes the subsection by its contents and reads on to the end of the
// module, so nothing may follow it.
func truncatedName() []byte {
	return module(
		section(secMemory, vec([]byte{0, 1})),
		section(secCustom, appendName(nil, "name"), []byte{0, 100}, appendName(nil, "m")),
	)
}

func compileErr(wasm []byte) error {
	ctx := context.Background()
	// As ferry's engine: without DWARF, which Instrument drops (and for
	// which wazero allocates what a custom section's header claims).
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithDebugInfoEnabled(false))
	defer r.Close(ctx)
	_, err := r.CompileModule(ctx, wasm)
	return err
}

func instantiate(t testing.TB, wasm []byte) (wazero.Runtime, api.Module) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	return r, mod
}

// interrupt does what the host does at a deadline.
func interrupt(mod api.Module) {
	mod.ExportedGlobal(InterruptFlagExport).(api.MutableGlobal).Set(1)
	mod.ExportedGlobal(InterruptCountdownExport).(api.MutableGlobal).Set(0)
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	_, mod := instantiate(t, compute())
	ctx := context.Background()
	// The start section became an export the host calls, once.
	if got := mod.ExportedGlobal("starts").Get(); got != 0 {
		t.Fatalf("the start function ran at instantiation (%d runs)", got)
	}
	if _, err := mod.ExportedFunction(StartExport).Call(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mod.ExportedGlobal("starts").Get(); got != 1 {
		t.Fatalf("starts = %d after calling %s", got, StartExport)
	}
	res, err := mod.ExportedFunction("fib").Call(ctx, 25)
	if err != nil || res[0] != 75025 {
		t.Fatalf("fib(25) = %v, %v", res, err)
	}
	if got := mod.ExportedGlobal(InterruptCountdownExport).Get(); got >= YieldPeriod {
		t.Fatalf("countdown %d: the checks do not count", got)
	}
	out, _ := Instrument(compute())
	if bytes.Contains(out, []byte(".debug_info")) {
		t.Fatal("DWARF section kept: its code offsets no longer hold")
	}
}

// TestInstrumentInterrupts stops an endless loop and fib(90) (a call tree
// that would run for centuries, without a loop) by setting the flag from
// another goroutine, as the host does at a deadline.
func TestInstrumentInterrupts(t *testing.T) {
	for _, c := range []struct {
		name string
		args []uint64
	}{{"spin", nil}, {"fib", []uint64{90}}} {
		t.Run(c.name, func(t *testing.T) {
			_, mod := instantiate(t, compute())
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(c.name).Call(context.Background(), c.args...)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			interrupt(mod)
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "unreachable") {
					t.Fatalf("got %v, want the trap", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the guest did not stop")
			}
			// The instance is discarded after a timeout; a new one runs.
			_, mod2 := instantiate(t, compute())
			if res, err := mod2.ExportedFunction("fib").Call(context.Background(), 10); err != nil || res[0] != 55 {
				t.Fatalf("fib(10) on a new instance = %v, %v", res, err)
			}
		})
	}
}

// TestInstrumentGCDuringSpin forces garbage collections while a guest
// spins, with no interrupt pending and with one, in a child process: Go
// cannot preempt compiled Wasm, so without the guest's periodic return to
// Go the stop-the-world would wait forever, with every other goroutine
// (the test's own timeout included) parked.
func TestInstrumentGCDuringSpin(t *testing.T) {
	if os.Getenv("WASMBIN_GC_CHILD") == "1" {
		gcChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestInstrumentGCDuringSpin$", "-test.v")
	cmd.Env = append(os.Environ(), "WASMBIN_GC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the child hung (a GC waited for the spinning guest):\n%s", out)
	}
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func gcChild(t *testing.T) {
	for _, pending := range []bool{false, true} {
		_, mod := instantiate(t, compute())
		done := make(chan error, 1)
		go func() {
			_, err := mod.ExportedFunction("spin").Call(context.Background())
			done <- err
		}()
		if pending {
			time.AfterFunc(50*time.Millisecond, func() { interrupt(mod) })
		}
		time.Sleep(10 * time.Millisecond) // the guest is spinning
		for range 3 {
			runtime.GC()
		}
		if !pending {
			select {
			case err := <-done:
				t.Fatalf("the guest stopped without an interrupt: %v", err)
			default:
			}
			interrupt(mod)
		}
		if err := <-done; err == nil {
			t.Fatal("spin returned without a trap")
		}
	}
}

// TestInstrumentTruncatedName: a missing section added by a rewrite must
// not follow such a name section (issue: the snapshot rewrite turned this
// module invalid).
func TestInstrumentTruncatedName(t *testing.T) {
	wasm := truncatedName()
	if err := compileErr(wasm); err != nil {
		t.Fatalf("wazero refuses the original: %v", err)
	}
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if err := compileErr(out); err != nil {
		t.Fatalf("instrumented: %v", err)
	}
	for _, in := range [][]byte{wasm, out} {
		m, err := Rewrite(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := compileErr(m.Wasm); err != nil {
			t.Fatalf("rewritten for snapshots: %v", err)
		}
	}
}

// TestInstrumentDataCountCutShort: wazero reads a data count section's
// LEB128 cut short by the end of the module as 0 (FuzzInstrument found it:
// Instrument added the code section after it, and wazero then read the
// count into it). Both rewrites must accept what wazero accepts, and
// refuse, as it does, such a section followed by anything.
func TestInstrumentDataCountCutShort(t *testing.T) {
	mem := section(secMemory, vec([]byte{0, 1}))
	for _, body := range []string{"", "\x80", "\xd9\xd9\xd9", "\x80\x80\x80\x80"} {
		wasm := module(mem, section(secDataCount, []byte(body)))
		if err := compileErr(wasm); err != nil {
			t.Fatalf("%q: wazero refuses the original: %v", body, err)
		}
		checkInstrument(t, wasm)
		m, err := Rewrite(wasm)
		if err != nil {
			t.Fatalf("%q: Rewrite: %v", body, err)
		}
		if err := compileErr(m.Wasm); err != nil {
			t.Fatalf("%q: wazero refuses the snapshot rewrite: %v", body, err)
		}

		followed := append(wasm, section(secCustom, appendName(nil, "c"))...)
		if compileErr(followed) == nil {
			t.Fatalf("%q: wazero accepts the section followed by another", body)
		}
		if _, err := Instrument(followed); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q followed by a section: Instrument: got %v, want ErrMalformed", body, err)
		}
		if _, err := Rewrite(followed); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q followed by a section: Rewrite: got %v, want ErrMalformed", body, err)
		}
	}
}

// TestInstrumentSamples checks the fuzz property on the real sample
// modules. They are not FuzzInstrument's seeds: one run of the property
// on hello (15 MB; three wazero compiles, a few seconds) takes longer than
// the 10 s a fuzzing worker allows an input (Go's internal/fuzz panics
// "deadlocked!", reported as "hung or terminated unexpectedly: exit status
// 2") once coverage instrumentation slows wazero and the cores are shared.
func TestInstrumentSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the samples")
	}
	for _, wasm := range sampleModules(t) {
		checkInstrument(t, wasm)
	}
}

// TestInstrumentRefuses: a module with an instruction of a proposal
// wazero does not enable gets an error that says so, not a corrupt module.
func TestInstrumentRefuses(t *testing.T) {
	body := []byte{0, 0x06, 0x40, 0x0b, 0x0b} // try; end
	wasm := module(
		section(secType, vec([]byte{0x60, 0, 0})),
		section(secFunction, vec([]byte{0})),
		section(secCode, vec(append(appendU32(nil, uint32(len(body))), body...))),
	)
	_, err := Instrument(wasm)
	if err == nil || !strings.Contains(err.Error(), "exception handling") {
		t.Fatalf("got %v", err)
	}
}

// sampleModules are real modules: the hello sample, and the C echo sample
// when a C toolchain is installed.
func sampleModules(tb testing.TB) [][]byte {
	var mods [][]byte
	if path, err := gobuild.Cached(context.Background(), "../../../samples/hello"); err == nil {
		if b, err := os.ReadFile(path); err == nil {
			mods = append(mods, b)
		}
	} else {
		tb.Fatalf("building samples/hello: %v", err)
	}
	if _, err := exec.LookPath("clang"); err == nil {
		out := filepath.Join(tb.TempDir(), "c-echo.wasm")
		if b, err := exec.Command("sh", "../../../samples/c-echo/build.sh", out).CombinedOutput(); err != nil {
			tb.Fatalf("building c-echo: %v\n%s", err, b)
		}
		if b, err := os.ReadFile(out); err == nil {
			mods = append(mods, b)
		}
	}
	return mods
}

// simd is a module with SIMD instructions with and without immediates,
// in a loop.
func simd() []byte {
	body := []byte{0, 0x03, 0x40, // loop
		0x41, 0, 0xfd, 0, 4, 0, // i32.const 0; v128.load align=4 offset=0
		0xfd, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // v128.const
		0xfd, 13, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // i8x16.shuffle
		0xfd, 21, 3, // i8x16.extract_lane_s 3
		0x1a,       // drop
		0x0b, 0x0b} // end; end
	return module(
		section(secType, vec([]byte{0x60, 0, 0})),
		section(secFunction, vec([]byte{0})),
		section(secMemory, vec([]byte{0, 1})),
		section(secCode, vec(append(appendU32(nil, uint32(len(body))), body...))),
	)
}

// checkInstrument is the fuzz property: whatever wazero accepts, the
// rewrite accepts, and wazero accepts what it makes.
func checkInstrument(t *testing.T, wasm []byte) {
	t.Helper()
	if _, err := Instrument(wasm); errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) {
		// Malformed: wazero must refuse it too, but may allocate
		// gigabytes first. Over a limit: refused by design.
		return
	}
	if compileErr(wasm) != nil {
		return
	}
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatalf("wazero accepts the module, Instrument does not: %v", err)
	}
	if err := compileErr(out); err != nil {
		t.Fatalf("wazero refuses the instrumented module: %v", err)
	}
	if m, err := Rewrite(out); err == nil {
		if err := compileErr(m.Wasm); err != nil {
			t.Fatalf("wazero refuses the snapshot rewrite of the instrumented module: %v", err)
		}
	}
}

// FuzzInstrument checks the rewrite against wazero's own validation,
// seeded with small hand-made modules: the real ones are too slow for a
// fuzzing worker (TestInstrumentSamples checks them).
func FuzzInstrument(f *testing.F) {
	for _, wasm := range [][]byte{simd(), tiny(), compute(), truncatedName(), module()} {
		f.Add(wasm)
	}
	f.Fuzz(func(t *testing.T, wasm []byte) { checkInstrument(t, wasm) })
}

// BenchmarkCountdownLoop is the worst case for the checks: a loop whose
// body is a decrement and a branch, 10^7 iterations, as built and
// instrumented (one check per iteration).
func BenchmarkCountdownLoop(b *testing.B) {
	body := []byte{0, 0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x20, 0, 0x0b}
	wasm := module(
		section(secType, vec([]byte{0x60, 1, 0x7f, 1, 0x7f})),
		section(secFunction, vec([]byte{0})),
		section(secMemory, vec([]byte{0, 1})),
		section(secExport, vec(append(appendName(nil, "count"), kindFunc, 0))),
		section(secCode, vec(append(appendU32(nil, uint32(len(body))), body...))),
	)
	instrumented, err := Instrument(wasm)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		wasm []byte
	}{{"plain", wasm}, {"instrumented", instrumented}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, c.wasm)
			if err != nil {
				b.Fatal(err)
			}
			fn := mod.ExportedFunction("count")
			for range b.N {
				if _, err := fn.Call(ctx, 10_000_000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestInstrumentRecursionGroups: function types in a recursion group
// (0x4e), which wazero v1.12.0 compiles, count one type index each, and
// the instrumented module runs.
func TestInstrumentRecursionGroups(t *testing.T) {
	body := []byte{0, 0x20, 0, 0x41, 1, 0x6a, 0x0b} // local.get 0; i32.const 1; i32.add
	wasm := module(
		// rec { (func), (func (param i32) (result i32)) }, then (func)
		section(secType, vec([]byte{0x4e, 2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f}, []byte{0x60, 0, 0})),
		section(secFunction, vec([]byte{1})),
		section(secExport, vec(append(append([]byte{3}, "inc"...), 0, 0))),
		section(secCode, vec(append(appendU32(nil, uint32(len(body))), body...))),
	)
	if err := compileErr(wasm); err != nil {
		t.Fatalf("wazero refuses the module: %v", err)
	}
	_, mod := instantiate(t, wasm)
	res, err := mod.ExportedFunction("inc").Call(context.Background(), 41)
	if err != nil || res[0] != 42 {
		t.Fatalf("inc(41) = %v, %v", res, err)
	}
}
