package adapter_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ferrywasm/ferry/adapter"
)

// BenchmarkGuestCompute runs one CPU-bound WASI command (testdata/compute:
// SHA-256 over 4 MiB and 50 JSON round trips) per iteration:
//
//   - ferry: through ferry (command mode, its 900 s timeout armed);
//   - wazero: plain wazero in this process, no timeout, the module as built;
//   - wazero-close-on-ctx: wazero WithCloseOnContextDone and a deadline,
//     how ferry stopped guests before its instrumentation (interrupt.go);
//   - native: the same program built for the host, run as a process.
//
// go run ./bench reports the ratios of the first three and of native.
func BenchmarkGuestCompute(b *testing.B) {
	dir := b.TempDir()
	wasmPath := filepath.Join(dir, "compute.wasm")
	nativePath := filepath.Join(dir, "compute")
	for _, c := range []struct {
		out string
		env []string
	}{{wasmPath, []string{"GOOS=wasip1", "GOARCH=wasm"}}, {nativePath, nil}} {
		cmd := exec.Command("go", "build", "-o", c.out, ".")
		cmd.Dir = "testdata/compute"
		cmd.Env = append(os.Environ(), c.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		b.Fatal(err)
	}
	want, err := exec.Command(nativePath).Output()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	b.Run("ferry", func(b *testing.B) {
		e, err := adapter.NewEngine(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(ctx)
		f, err := e.Load(ctx, wasm, adapter.Config{Name: "compute", Timeout: 900 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			res, err := f.Invoke(ctx, &adapter.Request{Payload: []byte("{}")})
			if err != nil || res.Failed() || !bytes.Equal(append(res.Payload, '\n'), want) && !bytes.Equal(res.Payload, want) {
				b.Fatalf("%v %s %s", err, res.ErrorType, res.Payload)
			}
		}
	})
	plain := func(b *testing.B, closeOnDone bool) {
		cfg := wazero.NewRuntimeConfig()
		if closeOnDone {
			cfg = cfg.WithCloseOnContextDone(true)
		}
		r := wazero.NewRuntimeWithConfig(ctx, cfg)
		defer r.Close(ctx)
		wasi_snapshot_preview1.MustInstantiate(ctx, r)
		compiled, err := r.CompileModule(ctx, wasm)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			var out bytes.Buffer
			cctx := ctx
			cancel := context.CancelFunc(func() {})
			if closeOnDone {
				cctx, cancel = context.WithTimeout(ctx, 900*time.Second)
			}
			mod, err := r.InstantiateModule(cctx, compiled, wazero.NewModuleConfig().WithName("").WithStdout(&out).WithStderr(io.Discard))
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			mod.Close(ctx)
			if !bytes.Equal(out.Bytes(), want) {
				b.Fatalf("got %s, want %s", out.Bytes(), want)
			}
		}
	}
	b.Run("wazero", func(b *testing.B) { plain(b, false) })
	b.Run("wazero-close-on-ctx", func(b *testing.B) { plain(b, true) })
	b.Run("native", func(b *testing.B) {
		for range b.N {
			if out, err := exec.Command(nativePath).Output(); err != nil || !bytes.Equal(out, want) {
				b.Fatalf("%v %s", err, out)
			}
		}
	})
}
