package adapter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Function is one loaded function: its compiled code, its configuration
// and its pool of warm instances. It is safe for concurrent use.
type Function struct {
	engine *Engine
	code   atomic.Pointer[code] // replaced by Reload
	cfg    Config
	// outbound is what its guests may reach over HTTP.
	outbound *hostabi.Outbound
	arn      string // cfg.ARN(), made once
	// series are its metrics' series (nil without metrics).
	series *series

	// slots holds one token per invocation allowed to run at once: an
	// instance is only ever created by an invocation that holds a slot
	// and found no idle instance, so instances never outnumber slots.
	slots chan struct{}

	mu        sync.Mutex
	idle      []*instance // most recently used last
	instances int         // live reactor instances, idle or busy
	peak      int         // the most instances ever live at once
	starting  int         // spare instances being started in the background
	closed    bool
	stop      chan struct{}
	started   sync.Once // the idle reaper
}

// Request is one invocation.
type Request struct {
	// Payload is the event; empty means {}.
	Payload []byte
	// RequestID, TraceID are generated when empty.
	RequestID string
	TraceID   string
	// ClientContext and CognitoIdentity are JSON, as the Runtime API
	// passes them; empty when absent.
	ClientContext   []byte
	CognitoIdentity []byte
	// InvokedFunctionARN defaults to the function's ARN.
	InvokedFunctionARN string
	// TenantID is the tenant of the invocation (Lambda's tenant isolation:
	// X-Amz-Tenant-Id on Invoke); empty when absent. It reaches the
	// handler as lambdacontext.LambdaContext.TenantID.
	TenantID string
	// Trigger says what caused the invocation (TriggerHTTP, …), for
	// metrics; empty counts as TriggerInvoke.
	Trigger string
}

// ErrTooManyRequests is returned by Invoke when ctx ends before an
// instance became free: the function is at its concurrency limit.
var ErrTooManyRequests = errors.New("function is at its concurrency limit")

// ErrClosed is returned by Invoke on a closed function.
var ErrClosed = errors.New("function is closed")

// code is a function's compiled module and how it is driven.
type code struct {
	compiled wazero.CompiledModule
	mode     hostabi.Mode
	// rewritten is the module as compiled when it may be snapshotted
	// (snapshot.go): globals exported, data segments passive. nil means
	// compiled is the module as given (instrumented for timeouts, as every
	// module is: interrupt.go).
	rewritten *wasmbin.Module
	snap      snapshotState
}

func newFunction(e *Engine, c *code, cfg Config) *Function {
	f := &Function{
		engine: e,
		cfg:    cfg,
		arn:    cfg.ARN(),
		slots:  make(chan struct{}, cfg.Concurrency),
		stop:   make(chan struct{}),
	}
	f.code.Store(c)
	allow, _ := lambdaspec.ParseHostPolicy(cfg.AllowedOutboundHosts) // checked by setDefaults
	f.outbound = &hostabi.Outbound{Allow: allow, Function: cfg.Name, Transport: e.outbound,
		HeadBudget: hostabi.HeadBudgetFor(int64(cfg.Memory) << 20)}
	if c.rewritten == nil {
		c.disable(f, c.snap.reason)
	}
	if e.metrics != nil {
		f.series = e.metrics.track(f)
		f.outbound.Observe = e.metrics.outboundObserver(cfg.Name)
	}
	return f
}

// Config returns the function's configuration, defaults filled in.
func (f *Function) Config() Config { return f.cfg }

// Mode returns how the function's module is driven.
func (f *Function) Mode() hostabi.Mode { return f.code.Load().mode }

// Stats is a snapshot of a function's pool.
type Stats struct {
	Instances int // live instances (reactor mode)
	Peak      int // the most instances live at once so far
	Idle      int // of which idle
	Busy      int // invocations running
}

// Stats returns a snapshot of the pool.
func (f *Function) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Instances: f.instances, Peak: f.peak, Idle: len(f.idle), Busy: len(f.slots)}
}

// Invoke runs one invocation. It waits for a free instance while ctx
// allows (ErrTooManyRequests when ctx ends first); once started, the
// invocation runs to completion or to the function's timeout even if ctx
// is cancelled, as on Lambda. Function errors are reported in the Result,
// not as an error.
func (f *Function) Invoke(ctx context.Context, req *Request) (*Result, error) {
	res, err := f.invoke(ctx, req)
	if m := f.engine.metrics; m != nil {
		m.observe(f, req.Trigger, res, err)
	}
	return res, err
}

func (f *Function) invoke(ctx context.Context, req *Request) (*Result, error) {
	select {
	case f.slots <- struct{}{}:
	default:
		select {
		case f.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ErrTooManyRequests
		}
	}
	defer func() { <-f.slots }()
	if f.Closed() {
		return nil, ErrClosed
	}
	rec := f.record(req)
	if f.code.Load().mode == hostabi.Command {
		return f.invokeCommand(rec)
	}
	inst, res := f.take()
	if res != nil {
		return res, nil // the instance failed to initialise
	}
	res, keep := inst.invoke(rec)
	f.put(inst, keep && !inst.nearMemoryLimit())
	return res, nil
}

// Warm starts idle instances until n are idle (bounded by the concurrency
// limit), for minInstances and readiness.
func (f *Function) Warm(ctx context.Context, n int) error {
	if f.code.Load().mode != hostabi.Reactor {
		return nil
	}
	for {
		f.mu.Lock()
		enough := len(f.idle) >= n || f.instances >= f.cfg.Concurrency || f.closed
		if !enough {
			f.grow() // reserve, so concurrent invocations see it
		}
		f.mu.Unlock()
		if enough {
			return ctx.Err()
		}
		inst, initErr := newInstance(f)
		if initErr != nil {
			f.mu.Lock()
			f.instances--
			f.mu.Unlock()
			return fmt.Errorf("%s: init failed: %s", f.cfg.Name, initErr.Payload)
		}
		// Like provisioned concurrency: the init happened ahead of any
		// invocation, so no invocation reports it.
		if sink := f.cfg.LogSink; sink != nil {
			sink.Write(inst.initLogs)
		}
		inst.initLogs, inst.initDuration = nil, 0
		f.put(inst, true)
	}
}

// take returns an idle instance, or starts one. A start that fails
// returns the init error as the invocation's result.
func (f *Function) take() (*instance, *Result) {
	f.startReaper()
	f.mu.Lock()
	if n := len(f.idle); n > 0 {
		inst := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.spares()
		f.mu.Unlock()
		return inst, nil
	}
	f.grow()
	f.spares()
	f.mu.Unlock()
	inst, initErr := newInstance(f)
	if initErr != nil {
		f.mu.Lock()
		f.instances--
		f.mu.Unlock()
		return nil, initErr
	}
	return inst, nil
}

// spares starts instances in the background until SpareInstances are idle
// or starting, within the concurrency limit; f.mu is held.
func (f *Function) spares() {
	for len(f.idle)+f.starting < f.cfg.SpareInstances && f.instances < f.cfg.Concurrency && !f.closed {
		f.grow()
		f.starting++
		go func() {
			inst, initErr := newInstance(f)
			f.mu.Lock()
			f.starting--
			f.mu.Unlock()
			if initErr != nil {
				f.mu.Lock()
				f.instances--
				f.mu.Unlock()
				return // the next invocation that needs an instance reports it
			}
			if sink := f.cfg.LogSink; sink != nil && len(inst.initLogs) > 0 {
				sink.Write(inst.initLogs)
			}
			inst.initLogs, inst.initDuration = nil, 0
			f.put(inst, true)
		}()
	}
}

// grow counts one more live instance; f.mu is held.
func (f *Function) grow() {
	f.instances++
	if f.instances > f.peak {
		f.peak = f.instances
	}
}

// CloseIdle closes every idle instance, so the next invocation starts
// cold: scale to zero on demand, and how cold starts are measured.
func (f *Function) CloseIdle() {
	f.mu.Lock()
	idle := f.idle
	f.idle = nil
	f.instances -= len(idle)
	f.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}

// put returns an instance to the pool, or discards it.
func (f *Function) put(inst *instance, keep bool) {
	f.mu.Lock()
	if keep && !f.closed && inst.code == f.code.Load() {
		inst.lastUsed = time.Now()
		f.idle = append(f.idle, inst)
		f.mu.Unlock()
		return
	}
	f.instances--
	f.mu.Unlock()
	inst.close()
}

// Closed reports whether Close has begun: the function takes no new
// invocations (the async queue checks it before accepting an event).
func (f *Function) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// startReaper starts the goroutine that closes instances idle for longer
// than IdleTimeout, so an unused function scales to zero.
func (f *Function) startReaper() {
	f.started.Do(func() {
		every := f.cfg.IdleTimeout / 2
		if every > 10*time.Second {
			every = 10 * time.Second
		}
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-f.stop:
					return
				case now := <-t.C:
					f.reap(now)
				}
			}
		}()
	})
}

func (f *Function) reap(now time.Time) {
	var expired []*instance
	f.mu.Lock()
	// idle is ordered by last use, oldest first.
	for len(f.idle) > f.cfg.MinInstances && now.Sub(f.idle[0].lastUsed) >= f.cfg.IdleTimeout {
		expired = append(expired, f.idle[0])
		f.idle = f.idle[1:]
		f.instances--
	}
	f.mu.Unlock()
	for _, inst := range expired {
		inst.close()
	}
}

// Close closes idle instances and refuses new invocations; instances busy
// now are closed when their invocation ends.
func (f *Function) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.stop)
	f.mu.Unlock()
	if m := f.engine.metrics; m != nil {
		m.untrack(f)
	}
	f.CloseIdle()
	f.code.Load().closeSnapshot()
	return f.code.Load().compiled.Close(ctx)
}

// Reload replaces the function's code with wasm's, for `ferry serve
// --watch`: invocations from now on start instances of the new code;
// instances of the old code finish what they run and are closed. The old
// compiled code is not released until the engine closes (a development
// convenience, not for frequent use).
func (f *Function) Reload(ctx context.Context, wasm []byte) error {
	if err := checkDeclaredLimits(wasm, f.cfg.Memory); err != nil {
		return fmt.Errorf("invalid WebAssembly module: %w", err)
	}
	c, err := f.engine.compile(ctx, wasm)
	if err != nil {
		return err
	}
	if c.rewritten == nil {
		c.disable(f, c.snap.reason)
	}
	f.code.Swap(c).closeSnapshot()
	f.CloseIdle()
	return nil
}

// record builds the invocation record, filling in what the caller left
// empty.
func (f *Function) record(req *Request) *invocation {
	inv := &invocation{requestID: req.RequestID, timeout: f.cfg.Timeout}
	if inv.requestID == "" {
		inv.requestID = NewRequestID()
	}
	trace := readOnlyBytes(req.TraceID)
	if len(trace) == 0 {
		trace = appendTraceID(inv.traceID[:0], time.Now())
	}
	arn := req.InvokedFunctionARN
	if arn == "" {
		arn = f.arn
	}
	payload := req.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	inv.rec = hostabi.Invocation{
		RequestID:          readOnlyBytes(inv.requestID),
		InvokedFunctionARN: readOnlyBytes(arn),
		TraceID:            trace,
		ClientContext:      req.ClientContext,
		CognitoIdentity:    req.CognitoIdentity,
		Payload:            payload,
		TenantID:           readOnlyBytes(req.TenantID),
	}
	return inv
}

// readOnlyBytes is s's bytes without a copy: the record's fields are only
// ever read (encoded into the instance's buffer, or copied into strings),
// and this runs on every invocation.
func readOnlyBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// invocation is one invocation on its way into the guest.
type invocation struct {
	requestID string
	timeout   time.Duration
	deadline  time.Time
	rec       hostabi.Invocation
	traceID   [traceIDLen]byte // rec.TraceID when ferry made it
}

// start sets the deadline when the handler is about to run: as on Lambda,
// the timeout covers the invocation, not the init of a cold instance.
func (inv *invocation) start() {
	inv.deadline = time.Now().Add(inv.timeout)
	inv.rec.DeadlineMs = inv.deadline.UnixMilli()
}

// NewRequestID returns a random UUID (version 4), the shape of Lambda's
// request ids (and of Azure's invocation ids).
func NewRequestID() string { return lambdaspec.NewGUID() }

// NewTraceID returns an X-Ray trace header value for a new, unsampled
// trace: Root=1-<8 hex digits of time>-<24 hex digits>;Parent=<16>;Sampled=0.
func NewTraceID(now time.Time) string {
	return string(appendTraceID(make([]byte, 0, traceIDLen), now))
}

const traceIDLen = 75

// appendTraceID appends a new trace header value (NewTraceID) to b.
func appendTraceID(b []byte, now time.Time) []byte {
	var r [20]byte
	_, _ = rand.Read(r[:])
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], uint32(now.Unix()))
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, t[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, r[:12])
	b = append(b, ";Parent="...)
	b = hex.AppendEncode(b, r[12:])
	return append(b, ";Sampled=0"...)
}
