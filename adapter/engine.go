// Package adapter is ferry's function engine: it compiles Wasm modules,
// keeps per-function pools of warm instances, and runs invocations with
// Lambda's lifecycle: init once per instance, invoke many times, limits on
// memory and time, errors, logs and reports in Lambda's shapes.
package adapter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
)

// Engine compiles and runs functions. One Engine serves every function of
// a process: they share one wazero runtime (so the host module and WASI are
// instantiated once) and one on-disk compilation cache.
type Engine struct {
	noSnapshots bool
	runtime     wazero.Runtime
	cache       wazero.CompilationCache
	metrics     *Metrics
}

type engineConfig struct {
	cacheDir    string
	noCache     bool
	noSnapshots bool
	metrics     *Metrics
}

// EngineOption configures NewEngine.
type EngineOption func(*engineConfig)

// WithCacheDir keeps compiled machine code in dir, so that the next process
// to load the same module does not compile it again. The default is
// DefaultCacheDir().
func WithCacheDir(dir string) EngineOption {
	return func(c *engineConfig) { c.cacheDir = dir }
}

// WithoutCache compiles in memory only.
func WithoutCache() EngineOption {
	return func(c *engineConfig) { c.noCache = true }
}

// WithoutSnapshots starts every instance from scratch, running its init
// phase, instead of cloning a snapshot of an initialised one (the default
// for reactor modules on Linux, see snapshot.go). FERRY_SNAPSHOTS=0 in the
// environment does the same for every engine.
func WithoutSnapshots() EngineOption {
	return func(c *engineConfig) { c.noSnapshots = true }
}

// WithMetrics counts every invocation of the engine's functions in m.
func WithMetrics(m *Metrics) EngineOption {
	return func(c *engineConfig) { c.metrics = m }
}

// DefaultCacheDir is where compiled code is kept unless WithCacheDir says
// otherwise: $FERRY_CACHE_DIR, else ferry/wazero under the user's cache
// directory.
func DefaultCacheDir() string {
	if d := os.Getenv("FERRY_CACHE_DIR"); d != "" {
		return filepath.Join(d, "wazero")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ferry", "wazero")
	}
	return filepath.Join(os.TempDir(), "ferry", "wazero")
}

// NewEngine returns an engine. Close it to release every function.
func NewEngine(ctx context.Context, opts ...EngineOption) (*Engine, error) {
	cfg := engineConfig{cacheDir: DefaultCacheDir(), noSnapshots: os.Getenv("FERRY_SNAPSHOTS") == "0"}
	for _, o := range opts {
		o(&cfg)
	}
	rc := wazero.NewRuntimeConfig().
		// Timeouts interrupt a guest even in an endless loop.
		WithCloseOnContextDone(true)
	e := &Engine{metrics: cfg.metrics, noSnapshots: cfg.noSnapshots}
	if !cfg.noCache {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cfg.cacheDir, err)
		}
		e.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	e.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.runtime); err != nil {
		e.Close(ctx)
		return nil, err
	}
	if _, err := hostabi.Instantiate(ctx, e.runtime); err != nil {
		e.Close(ctx)
		return nil, err
	}
	return e, nil
}

// Close releases the runtime and every function loaded into it.
func (e *Engine) Close(ctx context.Context) error {
	err := e.runtime.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// LoadFile reads a module from path and loads it as a function.
func (e *Engine) LoadFile(ctx context.Context, path string, cfg Config) (*Function, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := e.Load(ctx, wasm, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Load compiles wasm (or takes its compiled code from the cache) and
// returns it as a function. No instance is started until the first
// invocation, or until Warm.
func (e *Engine) Load(ctx context.Context, wasm []byte, cfg Config) (*Function, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c, err := e.compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	return newFunction(e, c, cfg), nil
}

func (e *Engine) compile(ctx context.Context, wasm []byte) (*code, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm header)")
	}
	c := &code{}
	if e.noSnapshots {
		c.snap.reason = "snapshots are off (WithoutSnapshots or FERRY_SNAPSHOTS=0)"
	} else if m, reason := snapshotable(wasm); m != nil {
		compiled, err := e.runtime.CompileModule(ctx, m.Wasm)
		m.Wasm = nil // wazero has what it needs
		m.Segments = compactSegments(m.Segments)
		if err == nil {
			c.compiled, c.rewritten = compiled, m
		} else {
			c.snap.reason = "the rewritten module does not compile: " + err.Error()
		}
	} else {
		c.snap.reason = reason
	}
	if c.compiled == nil {
		compiled, err := e.runtime.CompileModule(ctx, wasm)
		if err != nil {
			return nil, fmt.Errorf("invalid WebAssembly module: %w", err)
		}
		c.compiled = compiled
	}
	mode, err := hostabi.ModeOf(c.compiled)
	if err != nil {
		c.compiled.Close(ctx)
		return nil, err
	}
	c.mode = mode
	return c, nil
}

// compactSegments copies the segments into one buffer, so that they do not
// keep the whole module's bytes alive.
func compactSegments(segs []wasmbin.Segment) []wasmbin.Segment {
	n := 0
	for _, s := range segs {
		n += len(s.Data)
	}
	buf := make([]byte, 0, n)
	out := make([]wasmbin.Segment, len(segs))
	for i, s := range segs {
		buf = append(buf, s.Data...)
		out[i] = wasmbin.Segment{Offset: s.Offset, Data: buf[len(buf)-len(s.Data) : len(buf) : len(buf)]}
	}
	return out
}
