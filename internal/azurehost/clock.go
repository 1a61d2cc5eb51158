package azurehost

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time an app's timers and queues run on. Timer schedules,
// queue message times and visibility timeouts read it; invocation timeouts
// are the engine's and use real time.
type Clock interface {
	Now() time.Time
	// Timer returns a channel that receives once the clock reaches t,
	// and a function that releases the timer.
	Timer(t time.Time) (<-chan time.Time, func())
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Timer is a time.Timer firing at t.
func (SystemClock) Timer(t time.Time) (<-chan time.Time, func()) {
	tm := time.NewTimer(time.Until(t))
	return tm.C, func() { tm.Stop() }
}

// ManualClock is a clock that moves only when told to, for tests: timers
// fire when Set or Advance moves the clock to or past their time.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at time.Time
	c  chan time.Time
}

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Timer implements Clock.
func (c *ManualClock) Timer(t time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mt := &manualTimer{at: t, c: make(chan time.Time, 1)}
	if !t.After(c.now) {
		mt.c <- c.now
		return mt.c, func() {}
	}
	c.timers = append(c.timers, mt)
	return mt.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.timers {
			if x == mt {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return
			}
		}
	}
}

// Waiters returns how many timers wait for the clock, so a test can wait
// for a goroutine to reach its timer before moving the clock.
func (c *ManualClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Set moves the clock to t and fires the timers due by then, earliest
// first.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	sort.Slice(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	keep := c.timers[:0]
	for _, mt := range c.timers {
		if mt.at.After(t) {
			keep = append(keep, mt)
			continue
		}
		mt.c <- t
	}
	c.timers = keep
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }
