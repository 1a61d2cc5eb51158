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
// (sleep, outbound HTTP) take the call's context, which ends at the same
// moment.

// interruptReason says why a call was interrupted.
type interruptReason uint8

const (
	notInterrupted interruptReason = iota
	interruptedByDeadline
	interruptedByClose
)

// errEngineClosed ends the context of a call the engine's Close stopped.
var errEngineClosed = errors.New("the engine is closing")

// interrupter stops an instance's guest code from another goroutine. One
// per instance: its timer is reset for every call, so arming a call
// allocates nothing but the call's context.
type interrupter struct {
	engine          *Engine
	flag, countdown api.MutableGlobal
	timer           *time.Timer // fires at the running call's deadline

	mu       sync.Mutex
	running  *callContext // nil between calls
	deadline time.Time
	reason   interruptReason
}

func (e *Engine) newInterrupter(mod api.Module) (*interrupter, error) {
	flag, ok1 := mod.ExportedGlobal(wasmbin.InterruptFlagExport).(api.MutableGlobal)
	countdown, ok2 := mod.ExportedGlobal(wasmbin.InterruptCountdownExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		return nil, errors.New("the module was not instrumented for interruption")
	}
	it := &interrupter{engine: e, flag: flag, countdown: countdown}
	it.timer = time.AfterFunc(time.Hour, it.onTimer)
	it.timer.Stop()
	e.interrupters.add(it)
	return it, nil
}

// release forgets the interrupter when its instance closes.
func (it *interrupter) release() {
	it.timer.Stop()
	it.engine.interrupters.remove(it)
}

// onTimer fires at a call's deadline; a late run for an earlier call
// (its timer had fired as it was being stopped) finds the running call's
// deadline still ahead and does nothing.
func (it *interrupter) onTimer() {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.running != nil && !time.Now().Before(it.deadline) {
		it.fireLocked(interruptedByDeadline)
	}
}

func (it *interrupter) fire(reason interruptReason) {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.fireLocked(reason)
}

// fireLocked interrupts the running call, if any. The two writes race
// with the guest's reads in compiled code, which the race detector cannot
// see: on the machines wazero compiles for (amd64, arm64) an aligned
// 32-bit store is atomic and the guest reloads both globals at every
// check, so it sees the flag at its next yield at the latest (DESIGN.md).
func (it *interrupter) fireLocked(reason interruptReason) {
	if it.running == nil || it.reason != notInterrupted {
		return
	}
	it.reason = reason
	it.flag.Set(1)
	it.countdown.Set(0)
	err := context.DeadlineExceeded
	if reason == interruptedByClose {
		err = errEngineClosed
	}
	it.running.end(err)
}

// begin arms the interrupter for a call into the guest that must end by
// deadline, and returns the call's context: parent's values, that
// deadline, and done when the call is interrupted or over.
func (it *interrupter) begin(parent context.Context, deadline time.Time) *callContext {
	c := &callContext{parent: parent, deadline: deadline}
	it.mu.Lock()
	it.running, it.deadline = c, deadline
	it.mu.Unlock()
	if it.engine.closing.Load() {
		it.fire(interruptedByClose)
	} else if d := time.Until(deadline); d <= 0 {
		it.fire(interruptedByDeadline)
	} else {
		it.timer.Reset(d)
	}
	return c
}

// finish disarms the interrupter after the call returned and says why it
// interrupted the call, if it did: an interrupted instance must not be
// used again (the flag stays set), even when the guest returned before it
// saw the flag.
func (it *interrupter) finish() interruptReason {
	it.timer.Stop()
	it.mu.Lock()
	c := it.running
	it.running = nil
	reason := it.reason
	it.mu.Unlock()
	c.end(context.Canceled)
	return reason
}

// callContext is the context of one call into the guest.
type callContext struct {
	parent   context.Context
	deadline time.Time

	mu   sync.Mutex
	done chan struct{} // made on first need
	err  error
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *callContext) Value(key any) any           { return c.parent.Value(key) }

func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *callContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
}

// interrupters are an engine's instances' interrupters, so that closing
// the engine can stop the calls running before it frees their memory.
type interrupters struct {
	mu  sync.Mutex
	set map[*interrupter]struct{}
}

func (s *interrupters) add(it *interrupter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[*interrupter]struct{}{}
	}
	s.set[it] = struct{}{}
}

func (s *interrupters) remove(it *interrupter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, it)
}

// stopAll interrupts every running call and waits, at most until ctx ends
// or for a minute, for them to return. Calls that start afterwards are
// interrupted at once (closing is set first).
func (e *Engine) stopAll(ctx context.Context) {
	e.closing.Store(true)
	limit := time.Now().Add(time.Minute)
	for {
		e.interrupters.mu.Lock()
		all := make([]*interrupter, 0, len(e.interrupters.set))
		for it := range e.interrupters.set {
			all = append(all, it)
		}
		e.interrupters.mu.Unlock()
		running := 0
		for _, it := range all {
			it.mu.Lock()
			if it.running != nil {
				running++
				it.fireLocked(interruptedByClose)
			}
			it.mu.Unlock()
		}
		if running == 0 || ctx.Err() != nil || time.Now().After(limit) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
