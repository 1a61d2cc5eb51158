package adapter

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ferrywasm/ferry/events"
)

// ScheduleTrigger invokes a function on a schedule, as an EventBridge
// rule does: asynchronously, so a failed run is retried and reaches the
// function's destinations like any Event invocation.
type ScheduleTrigger struct {
	Function *Function
	// Rule names the schedule, as an EventBridge rule name.
	Rule string
	// Schedule says when: events.ParseSchedule's result.
	Schedule interface {
		Next(after time.Time) time.Time
	}
	// Input, when set, is the event (EventBridge's constant input);
	// otherwise the event is EventBridge's "Scheduled Event".
	Input []byte
}

// Scheduler runs schedule triggers until stopped.
type Scheduler struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartSchedules starts firing triggers into queue. Firings are counted in
// m (ferry_schedule_fires_total) when m is not nil; failures to queue are
// written to log.
func StartSchedules(triggers []ScheduleTrigger, queue *Queue, m *Metrics, log io.Writer) *Scheduler {
	s := &Scheduler{stop: make(chan struct{})}
	if log == nil {
		log = io.Discard
	}
	for _, t := range triggers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(t, queue, m, log)
		}()
	}
	return s
}

func (s *Scheduler) run(t ScheduleTrigger, queue *Queue, m *Metrics, log io.Writer) {
	cfg := t.Function.Config()
	next := t.Schedule.Next(time.Now())
	for !next.IsZero() {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-s.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		at := next
		payload := t.Input
		if payload == nil {
			var err error
			payload, err = events.ScheduledEvent(t.Rule, cfg.Region, cfg.AccountID, at)
			if err != nil {
				fmt.Fprintf(log, "schedule %s: %v\n", t.Rule, err)
			}
		}
		if _, err := queue.Enqueue(t.Function, &Request{Payload: payload, Trigger: TriggerSchedule}); err != nil {
			fmt.Fprintf(log, "schedule %s: %s not invoked at %s: %v\n", t.Rule, cfg.Name, at.UTC().Format(time.RFC3339), err)
		} else if m != nil {
			m.scheduleFired(cfg.Name, t.Rule, at)
		}
		// A firing missed while the process was busy is not repeated:
		// the next one is after now, as EventBridge does not catch up.
		next = t.Schedule.Next(maxTime(at, time.Now()))
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Stop stops firing; events already queued run as usual.
func (s *Scheduler) Stop() {
	close(s.stop)
	s.wg.Wait()
}
