package adapter

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
)

// Timeouts (DESIGN.md, "Interrupting guests"): every module is loaded
// instrumented (wasmbin.Instrument), with an interrupt flag its compiled
// code looks at, at every function entry and loop header, through a
// countdown. The host interrupts a call by setting the flag and zeroing the
// countdown; the guest traps at its next check and the instance, whose
// state the trap left anywhere, is discarded. Host calls that block
// (sleep, outbound HTTP) take the call's context and end at its deadline.

// interruptReason says why a call was interrupted.
type interruptReason uint8

const (
	notInterrupted interruptReason = iota
	interruptedByDeadline
	interruptedByClose
)

// interrupter stops an instance's guest code from another goroutine.
type interrupter struct {
	flag, countdown api.MutableGlobal
	// closed is closed when the engine closes: a guest asleep wakes.
	closed chan struct{}

	mu      sync.Mutex
	running bool
	reason  interruptReason
}

func newInterrupter(mod api.Module) (*interrupter, error) {
	flag, ok1 := mod.ExportedGlobal(wasmbin.InterruptFlagExport).(api.MutableGlobal)
	countdown, ok2 := mod.ExportedGlobal(wasmbin.InterruptCountdownExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		return nil, errors.New("the module was not instrumented for interruption")
	}
	return &interrupter{flag: flag, countdown: countdown, closed: make(chan struct{})}, nil
}

// fire interrupts the running call, if any. The two writes race with the
// guest's reads in compiled code, which the race detector cannot see: on
// the machines wazero compiles for (amd64, arm64) an aligned 32-bit store
// is atomic and the guest reloads both globals at every check, so it sees
// the flag at its next yield at the latest (DESIGN.md).
func (it *interrupter) fire(reason interruptReason) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if !it.running || it.reason != notInterrupted {
		return
	}
	it.reason = reason
	it.flag.Set(1)
	it.countdown.Set(0)
	if reason == interruptedByClose {
		close(it.closed)
	}
}

// call runs fn, the call into the guest, and interrupts it when ctx's
// deadline passes or the engine closes. It returns why it interrupted the
// call; an interrupted instance must not be used again (the flag stays
// set), even when fn returned before the guest saw it.
func (e *Engine) call(ctx context.Context, it *interrupter, fn func(context.Context) error) (interruptReason, error) {
	it.mu.Lock()
	it.running = true
	it.mu.Unlock()
	e.calls.track(it)
	stop := context.AfterFunc(ctx, func() { it.fire(interruptedByDeadline) })
	err := fn(ctx)
	stop()
	e.calls.untrack(it)
	it.mu.Lock()
	it.running = false
	reason := it.reason
	it.mu.Unlock()
	return reason, err
}

// guestCalls are the calls into guests running now, so that closing the
// engine can stop them before it frees their memory.
type guestCalls struct {
	mu      sync.Mutex
	running map[*interrupter]struct{}
	closing bool
	idle    chan struct{} // closed when the last call ends while closing
}

func (g *guestCalls) track(it *interrupter) {
	g.mu.Lock()
	if g.running == nil {
		g.running = map[*interrupter]struct{}{}
	}
	g.running[it] = struct{}{}
	closing := g.closing
	g.mu.Unlock()
	if closing {
		it.fire(interruptedByClose)
	}
}

func (g *guestCalls) untrack(it *interrupter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.running, it)
	if g.closing && len(g.running) == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// stopAll interrupts every running call and waits, at most until ctx ends
// or for a minute, for them to return.
func (g *guestCalls) stopAll(ctx context.Context) {
	g.mu.Lock()
	g.closing = true
	var idle chan struct{}
	if len(g.running) > 0 {
		idle = make(chan struct{})
		g.idle = idle
	}
	running := make([]*interrupter, 0, len(g.running))
	for it := range g.running {
		running = append(running, it)
	}
	g.mu.Unlock()
	for _, it := range running {
		it.fire(interruptedByClose)
	}
	if idle == nil {
		return
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-t.C:
	}
}
