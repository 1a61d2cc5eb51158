// Package lazyctx is context.WithDeadline for the context of an
// invocation, made only when something needs it.
//
// aws-lambda-go gives every invocation a context.WithDeadline: a timer in
// the Go runtime, armed at the start and stopped at the end. Most handlers
// never look at it, and in a Go guest under ferry the timer cost about 10 %
// of a warm http-api invocation (BENCHMARKS.md, "Go invocations: the SDK's
// own work"). The
// context here answers Deadline and Value by itself and builds the real
// context.WithDeadline the first time anything needs a channel, a cause, a
// child or a callback; until then Err compares the clock with the
// deadline. Everything a handler can observe is what context.WithDeadline
// gives, checked against it by this package's tests.
package lazyctx

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// cancelCtxKey is the key under which the context package looks up a
// context's own cancelCtx (context.Cause, and a child's registration with
// its parent). It is unexported; init learns its address by asking
// context.Cause about a probe. Should a later Go stop asking, WithDeadline
// is context.WithDeadline.
var cancelCtxKey any

type probe struct {
	context.Context
	key any
}

func (p *probe) Err() error { return context.Canceled }

func (p *probe) Value(key any) any {
	p.key = key
	return nil
}

func init() {
	p := &probe{Context: context.Background()}
	context.Cause(p)
	cancelCtxKey = p.key
}

// WithDeadline is context.WithDeadline(parent, d). When parent can never
// be canceled and has no deadline (the Background of aws-lambda-go's
// default base context, and values on it), the context is made lazily;
// otherwise it is context.WithDeadline's own.
func WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	if _, ok := parent.Deadline(); ok || parent.Done() != nil || cancelCtxKey == nil {
		return context.WithDeadline(parent, d)
	}
	c := &deadlineCtx{parent: parent, deadline: d}
	return c, c.cancel
}

// deadlineCtx is context.WithDeadline(parent, deadline) before it is made.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu        sync.Mutex
	ctx       context.Context // the real context, once made
	cancelCtx context.CancelFunc
	canceled  bool // canceled before the real context was made
}

// real makes the real context if it is not made yet, canceled if c was.
func (c *deadlineCtx) real() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancelCtx = context.WithDeadline(c.parent, c.deadline)
		if c.canceled {
			c.cancelCtx()
		}
	}
	return c.ctx
}

// cancel is the CancelFunc. Before the deadline, with nothing made, it
// only records the cancellation; past it, the real context is made, so
// the error stays DeadlineExceeded, as the timer would have left it.
func (c *deadlineCtx) cancel() {
	c.mu.Lock()
	if c.ctx == nil && time.Now().Before(c.deadline) {
		c.canceled = true
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.real()
	c.cancelCtx()
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} { return c.real().Done() }

// Err needs no channel: canceled, past the deadline or neither. Past the
// deadline it makes the real context (already expired), so that Done and
// Err agree from then on.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	ctx, canceled := c.ctx, c.canceled
	c.mu.Unlock()
	switch {
	case ctx != nil:
		return ctx.Err()
	case canceled:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return c.real().Err()
	}
	return nil
}

// Value answers every key as the parent does, except the context package's
// own, which names the real context's canceler.
func (c *deadlineCtx) Value(key any) any {
	if key == cancelCtxKey {
		return c.real().Value(key)
	}
	return c.parent.Value(key)
}

func (c *deadlineCtx) String() string { return fmt.Sprint(c.real()) }
