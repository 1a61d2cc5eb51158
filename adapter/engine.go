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

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/ferrywasm/ferry/hostabi"
)

// Engine compiles and runs functions. One Engine serves every function of
// a process: they share one wazero runtime (so the host module and WASI are
// instantiated once) and one on-disk compilation cache.
type Engine struct {
	runtime wazero.Runtime
	cache   wazero.CompilationCache
	metrics *Metrics
	// outbound sends functions' HTTP requests; nil is hostabi.DefaultTransport.
	outbound http.RoundTripper
}

type engineConfig struct {
	cacheDir string
	noCache  bool
	metrics  *Metrics
	outbound http.RoundTripper
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
	cfg := engineConfig{cacheDir: DefaultCacheDir()}
	for _, o := range opts {
		o(&cfg)
	}
	rc := wazero.NewRuntimeConfig().
		// Timeouts interrupt a guest even in an endless loop.
		WithCloseOnContextDone(true)
	e := &Engine{metrics: cfg.metrics, outbound: cfg.outbound}
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
	compiled, err := e.runtime.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("invalid WebAssembly module: %w", err)
	}
	mode, err := hostabi.ModeOf(compiled)
	if err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	return &code{compiled: compiled, mode: mode}, nil
}
