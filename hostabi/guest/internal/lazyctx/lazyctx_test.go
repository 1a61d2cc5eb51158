package lazyctx

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type key string

// both runs check on context.WithDeadline's context and on this package's,
// from the same parent and deadline.
func both(t *testing.T, parent context.Context, d time.Time, check func(t *testing.T, ctx context.Context, cancel context.CancelFunc)) {
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(parent, d)
		check(t, ctx, cancel)
	})
	t.Run("lazyctx", func(t *testing.T) {
		ctx, cancel := WithDeadline(parent, d)
		if _, ok := ctx.(*deadlineCtx); !ok {
			t.Fatalf("WithDeadline(%v) is %T, not lazy", parent, ctx)
		}
		check(t, ctx, cancel)
	})
}

// waitDone waits for ctx to be done, without a limit of its own: go
// test's -timeout ends a hang.
func waitDone(ctx context.Context) { <-ctx.Done() }

func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestProbeFoundTheKey(t *testing.T) {
	if cancelCtxKey == nil {
		t.Fatal("context.Cause did not ask the probe for its cancelCtx: WithDeadline is never lazy")
	}
}

func TestBeforeTheDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), key("k"), "v")
	d := time.Now().Add(time.Hour)
	both(t, parent, d, func(t *testing.T, ctx context.Context, cancel context.CancelFunc) {
		defer cancel()
		got, ok := ctx.Deadline()
		want(t, "Deadline", got, d)
		want(t, "Deadline ok", ok, true)
		want(t, "Err", ctx.Err(), nil)
		want(t, "Cause", context.Cause(ctx), nil)
		want(t, "Value(k)", ctx.Value(key("k")), "v")
		want(t, "Value(missing)", ctx.Value(key("missing")), nil)
		select {
		case <-ctx.Done():
			t.Error("done before the deadline")
		default:
		}
		if s := ctx.(interface{ String() string }).String(); !strings.HasPrefix(s, `context.Background.WithValue(lazyctx.key, v).WithDeadline(`) {
			t.Errorf("String = %q", s)
		}
	})
}

func TestPastTheDeadline(t *testing.T) {
	both(t, context.Background(), time.Now().Add(-time.Second), func(t *testing.T, ctx context.Context, cancel context.CancelFunc) {
		want(t, "Err", ctx.Err(), context.DeadlineExceeded)
		want(t, "Cause", context.Cause(ctx), context.DeadlineExceeded)
		waitDone(ctx)
		cancel()
		want(t, "Err after cancel", ctx.Err(), context.DeadlineExceeded)
	})
}

// The deadline passing: Done closes, Err and Cause say so, callbacks and
// children registered before it run or are canceled with it.
func TestTheDeadlinePasses(t *testing.T) {
	both(t, context.Background(), time.Now().Add(50*time.Millisecond), func(t *testing.T, ctx context.Context, cancel context.CancelFunc) {
		defer cancel()
		ran := make(chan struct{})
		context.AfterFunc(ctx, func() { close(ran) })
		child, cancelChild := context.WithCancel(ctx)
		defer cancelChild()
		causeChild, cancelCause := context.WithCancelCause(ctx)
		defer cancelCause(nil)
		waitDone(ctx)
		<-ran
		waitDone(child)
		waitDone(causeChild)
		want(t, "Err", ctx.Err(), context.DeadlineExceeded)
		want(t, "Cause", context.Cause(ctx), context.DeadlineExceeded)
		want(t, "child Err", child.Err(), context.DeadlineExceeded)
		want(t, "child Cause", context.Cause(child), context.DeadlineExceeded)
		want(t, "cause child Cause", context.Cause(causeChild), context.DeadlineExceeded)
		cancel()
		want(t, "Err after cancel", ctx.Err(), context.DeadlineExceeded)
	})
}

// Err alone, with nothing made: it turns at the deadline.
func TestErrAloneTurnsAtTheDeadline(t *testing.T) {
	both(t, context.Background(), time.Now().Add(50*time.Millisecond), func(t *testing.T, ctx context.Context, cancel context.CancelFunc) {
		defer cancel()
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		want(t, "Err", ctx.Err(), context.DeadlineExceeded)
		waitDone(ctx)
		want(t, "Cause", context.Cause(ctx), context.DeadlineExceeded)
	})
}

func TestCancel(t *testing.T) {
	for _, order := range []string{"cancel first", "Done first"} {
		t.Run(order, func(t *testing.T) {
			both(t, context.Background(), time.Now().Add(time.Hour), func(t *testing.T, ctx context.Context, cancel context.CancelFunc) {
				var child context.Context
				if order == "Done first" {
					var cancelChild context.CancelFunc
					child, cancelChild = context.WithCancel(ctx)
					defer cancelChild()
					_ = ctx.Done()
				}
				cancel()
				want(t, "Err", ctx.Err(), context.Canceled)
				waitDone(ctx)
				want(t, "Cause", context.Cause(ctx), context.Canceled)
				cancel()
				want(t, "Err after a second cancel", ctx.Err(), context.Canceled)
				if child != nil {
					waitDone(child)
					want(t, "child Err", child.Err(), context.Canceled)
				}
				// A child made after the cancellation starts canceled.
				late, cancelLate := context.WithCancel(ctx)
				defer cancelLate()
				want(t, "late child Err", late.Err(), context.Canceled)
			})
		})
	}
}

// A parent that can be canceled or has a deadline gets context's own.
func TestEagerForCancelableParents(t *testing.T) {
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	withDeadline, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	for _, parent := range []context.Context{cancelable, withDeadline, context.WithValue(cancelable, key("k"), 1)} {
		ctx, cancel := WithDeadline(parent, time.Now().Add(time.Minute))
		if _, lazy := ctx.(*deadlineCtx); lazy {
			t.Errorf("WithDeadline(%v) is lazy", parent)
		}
		cancel()
	}
}

// Handlers' goroutines use the context while the invocation ends: run
// with -race.
func TestConcurrentUse(t *testing.T) {
	for range 50 {
		ctx, cancel := WithDeadline(context.Background(), time.Now().Add(time.Duration(len(t.Name()))*time.Microsecond))
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i {
				case 0:
					<-ctx.Done()
				case 1:
					for ctx.Err() == nil {
						time.Sleep(10 * time.Microsecond)
					}
				case 2:
					c, cc := context.WithCancel(ctx)
					<-c.Done()
					cc()
				case 3:
					cancel()
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v", err)
		}
	}
}
