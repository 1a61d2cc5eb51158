package azurehost

// Timer triggers: NCRONTAB schedules and their persisted status.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/atomicfile"
)

// timerStatus is a timer's schedule status, kept in StateDir/timers as
// the Functions host keeps it in storage.
type timerStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

func (h *Host) statusFile(f *azure.FunctionDef) (dir, name string) {
	if h.opts.StateDir == "" {
		return "", ""
	}
	return filepath.Join(h.opts.StateDir, "timers"), f.Name + ".json"
}

func (h *Host) loadStatus(f *azure.FunctionDef) timerStatus {
	var st timerStatus
	dir, name := h.statusFile(f)
	if dir == "" {
		return st
	}
	if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			h.logf("timer %s: status file: %v; starting afresh", f.Name, err)
			st = timerStatus{}
		}
	}
	return st
}

func (h *Host) saveStatus(f *azure.FunctionDef, st timerStatus) {
	dir, name := h.statusFile(f)
	if dir == "" {
		return
	}
	b, _ := json.Marshal(st)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = atomicfile.Write(dir, name, b)
	}
	if err != nil {
		h.logf("timer %s: saving its status: %v", f.Name, err)
	}
}

// runTimer fires f on its schedule. As the Functions host does: at start,
// a runOnStartup timer runs at once, and one whose recorded next
// occurrence passed while the app was down runs at once with IsPastDue;
// each invocation's ScheduleStatus has the previous occurrence as Last and
// the one being run as Next; occurrences missed while an invocation ran
// are skipped.
func (h *Host) runTimer(f *azure.FunctionDef) {
	st := h.loadStatus(f)
	now := h.clock.Now()
	loc := f.Schedule.Location()
	fire := func(occurrence time.Time, pastDue bool) {
		inv := events.NewAzureTimerInvocation(f.Name, f.Trigger.Name, st.Last, occurrence, st.LastUpdated, pastDue, loc, h.clock.Now())
		doc, _ := json.Marshal(inv)
		rec := h.send(h.stopCtx, f, TriggerTimer, doc)
		if rec.Response == nil && (errors.Is(rec.Err, adapter.ErrTooManyRequests) || errors.Is(rec.Err, adapter.ErrClosed)) {
			return // never ran (shutting down): still due at the next start
		}
		now := h.clock.Now()
		st = timerStatus{Last: occurrence, Next: f.Schedule.Next(now), LastUpdated: now}
		h.saveStatus(f, st)
	}
	switch {
	case !st.Next.IsZero() && st.Next.Before(now):
		fire(st.Next, true)
	case f.Trigger.RunOnStartup:
		fire(now, false)
	}
	for {
		after := h.clock.Now()
		if st.Last.After(after) {
			after = st.Last
		}
		next := f.Schedule.Next(after)
		if next.IsZero() {
			return
		}
		if !st.Next.Equal(next) {
			st.Next, st.LastUpdated = next, h.clock.Now()
			h.saveStatus(f, st)
		}
		c, release := h.clock.Timer(next)
		select {
		case <-h.stop:
			release()
			return
		case <-c:
		}
		fire(next, false)
	}
}
