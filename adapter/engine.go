// Package adapter is ferry's function engine: it compiles Wasm modules,
// keeps per-function pools of warm instances, and runs invocations with
// Lambda's lifecycle: init once per instance, invoke many times, limits on
// memory and time, errors, logs and reports in Lambda's shapes.
package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
)

// Engine compiles and runs functions. One Engine serves every function of
// a process: they share one wazero runtime (so the host module and WASI are
// instantiated once) and one on-disk compilation cache.
type Engine struct {
	runtime     wazero.Runtime
	cache       wazero.CompilationCache
	cacheDir    string // "" without an on-disk cache
	metrics     *Metrics
	noSnapshots bool
	// outbound sends functions' HTTP requests; nil is hostabi.DefaultTransport.
	outbound http.RoundTripper

	// compileMu serialises compilations so that each new cache entry can
	// be attributed to the module that wrote it.
	compileMu           sync.Mutex
	compiled, fromCache atomic.Int64

	// interrupters and closing: Close stops the calls running (interrupt.go).
	interrupters interrupters
	closing      atomic.Bool
}

type engineConfig struct {
	cacheDir    string
	cacheSeed   string
	noCache     bool
	noSnapshots bool
	metrics     *Metrics
	outbound    http.RoundTripper
}

// EngineOption configures NewEngine.
type EngineOption func(*engineConfig)

// WithCacheDir keeps compiled machine code in dir, so that the next process
// to load the same module does not compile it again. The default is
// DefaultCacheDir().
func WithCacheDir(dir string) EngineOption {
	return func(c *engineConfig) { c.cacheDir = dir }
}

// WithCacheSeed adds the compiled code found in dir, a read-only copy of
// a cache directory made on another machine (a container image's
// precompiled cache), to the engine's cache: its entries are linked into
// the cache directory, which stays writable for modules the seed lacks.
// wazero keys entries by module, wazero version, architecture and CPU
// features, so entries made for another CPU are simply not used.
func WithCacheSeed(dir string) EngineOption {
	return func(c *engineConfig) { c.cacheSeed = dir }
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

// WithOutboundTransport sends the functions' outbound HTTP requests (those
// their allowedOutboundHosts let out) with rt instead of
// hostabi.DefaultTransport: for a private CA, a proxy of its own, or tests.
// rt must not follow redirects (an http.RoundTripper does not).
func WithOutboundTransport(rt http.RoundTripper) EngineOption {
	return func(c *engineConfig) { c.outbound = rt }
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
	// Not WithCloseOnContextDone: its compiled code calls into Go at every
	// loop back-edge, and a goroutine watches every call. Modules are
	// instrumented for interruption instead (interrupt.go).
	// No DWARF: Instrument drops it (its code offsets no longer hold).
	rc := wazero.NewRuntimeConfig().WithDebugInfoEnabled(false)
	e := &Engine{metrics: cfg.metrics, outbound: cfg.outbound, noSnapshots: cfg.noSnapshots}
	if !cfg.noCache {
		if cfg.cacheSeed != "" {
			if err := seedCache(cfg.cacheSeed, cfg.cacheDir); err != nil {
				return nil, fmt.Errorf("compilation cache seed %s: %w", cfg.cacheSeed, err)
			}
		}
		e.cacheDir = cfg.cacheDir
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

// Close interrupts the calls into guests that are running, waits for them
// to return, and releases the runtime and every function loaded into it.
func (e *Engine) Close(ctx context.Context) error {
	e.stopAll(ctx)
	err := e.runtime.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// The values of the "source" label of ferry_module_compilations_total.
const (
	CompiledNow       = "compiled" // machine code generated in this process
	CompiledFromCache = "cache"    // machine code read from the compilation cache (or already in memory)
)

// CompileStats counts the modules an engine loaded by where their machine
// code came from.
type CompileStats struct {
	// Compiled modules were compiled by this process; FromCache ones were
	// read from the on-disk cache (or were already loaded).
	Compiled, FromCache int64
}

// CompileStats says how many modules were compiled and how many came from
// the cache, so that a precompiled cache can be checked to have served.
func (e *Engine) CompileStats() CompileStats {
	return CompileStats{Compiled: e.compiled.Load(), FromCache: e.fromCache.Load()}
}

// cacheEntries counts the files in dir's subdirectories (wazero keeps one
// per wazero version, architecture and OS), ignoring temporary files.
func cacheEntries(dir string) int {
	if dir == "" {
		return 0
	}
	subs, _ := os.ReadDir(dir)
	n := 0
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, sub.Name()))
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".tmp") {
				n++
			}
		}
	}
	return n
}

// seedCache links every entry of seed (a cache directory) into dir, keeping
// dir's own entries.
func seedCache(seed, dir string) error {
	subs, err := os.ReadDir(seed)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(seed, sub.Name()))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, sub.Name()), 0o700); err != nil {
			return err
		}
		for _, f := range files {
			if f.IsDir() || strings.HasSuffix(f.Name(), ".tmp") {
				continue
			}
			src, err := filepath.Abs(filepath.Join(seed, sub.Name(), f.Name()))
			if err != nil {
				return err
			}
			err = os.Symlink(src, filepath.Join(dir, sub.Name(), f.Name()))
			if err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		}
	}
	return nil
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
	if err := checkDeclaredLimits(wasm, cfg.Memory); err != nil {
		return nil, fmt.Errorf("invalid WebAssembly module: %w", err)
	}
	c, err := e.compile(ctx, wasm)
	if err != nil {
		return nil, err
	}
	return newFunction(e, c, cfg), nil
}

// compileModule compiles wasm, or loads its machine code from the cache,
// and counts which it was (CompileStats, ferry_module_compilations_total).
func (e *Engine) compileModule(ctx context.Context, wasm []byte) (wazero.CompiledModule, error) {
	e.compileMu.Lock()
	before := cacheEntries(e.cacheDir)
	compiled, err := wazeroCompile(ctx, e.runtime, wasm)
	after := cacheEntries(e.cacheDir)
	e.compileMu.Unlock()
	if err != nil {
		return nil, err
	}
	// wazero writes an entry when it compiled the module and reads one when
	// it did not: a new entry means machine code was generated here.
	source := CompiledFromCache
	if e.cacheDir == "" || after > before {
		source = CompiledNow
		e.compiled.Add(1)
	} else {
		e.fromCache.Add(1)
	}
	if e.metrics != nil {
		e.metrics.compilations.WithLabelValues(source).Inc()
	}
	return compiled, nil
}

// wazeroCompile is rt.CompileModule with a panic in wazero returned as an
// error: a module that makes wazero's validator or compiler panic must not
// take the process, and every other function, down with it. wazero v1.12.0
// panicked on a call to a function whose type index was past the type
// section (FuzzInstrument found it; Instrument now refuses such modules
// before wazero sees them).
func wazeroCompile(ctx context.Context, rt wazero.Runtime, wasm []byte) (m wazero.CompiledModule, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("wazero failed on the module: %v", v)
		}
	}()
	return rt.CompileModule(ctx, wasm)
}

func (e *Engine) compile(ctx context.Context, wasm []byte) (*code, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm header)")
	}
	instrumented, err := wasmbin.Instrument(wasm)
	if errors.Is(err, wasmbin.ErrMalformed) || errors.Is(err, wasmbin.ErrLimit) {
		// Not given to wazero: it would allocate what the module claims.
		return nil, fmt.Errorf("invalid WebAssembly module: %w", err)
	}
	if err != nil {
		// Not given to wazero either, even for its reason: Instrument
		// stops at the first part it refuses, so the rest may claim
		// anything, and wazero allocates what a section claims (a 40-byte
		// module with a table type it refused and an element section
		// claiming 0xdedede segments made wazero allocate 9 GB).
		return nil, fmt.Errorf("the module cannot be instrumented for timeouts: %w", err)
	}
	wasm = instrumented
	c := &code{}
	if e.noSnapshots {
		c.snap.reason = "snapshots are off (WithoutSnapshots or FERRY_SNAPSHOTS=0)"
	} else if m, reason := snapshotable(wasm); m != nil {
		compiled, err := e.compileModule(ctx, m.Wasm)
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
		compiled, err := e.compileModule(ctx, wasm)
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
