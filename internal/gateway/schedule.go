package gateway

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
)

// ScheduleTrigger invokes a function on a schedule, as an EventBridge
// rule does: asynchronously, so a failed run is retried and reaches the
// function's destinations like any Event invocation.
type ScheduleTrigger struct {
	Function *adapter.Function
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

// ScheduleMetrics are the schedules' Prometheus metrics. They belong to the
// gateway, which fires schedules; the engine's metrics (adapter.Metrics)
// count the invocations the firings cause, under trigger="schedule".
type ScheduleMetrics struct {
	fires    *prometheus.CounterVec
	lastFire *prometheus.GaugeVec
}

// NewScheduleMetrics creates the schedule metrics and registers them with reg.
func NewScheduleMetrics(reg prometheus.Registerer) *ScheduleMetrics {
	m := &ScheduleMetrics{
		fires: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_schedule_fires_total",
			Help: "Times a schedule fired (its event was queued).",
		}, []string{"function", "rule"}),
		lastFire: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_schedule_last_fire_timestamp_seconds",
			Help: "When each schedule last fired, Unix time.",
		}, []string{"function", "rule"}),
	}
	reg.MustRegister(m.fires, m.lastFire)
	return m
}

// scheduleFired records a schedule's firing.
func (m *ScheduleMetrics) scheduleFired(function, rule string, at time.Time) {
	m.fires.WithLabelValues(function, rule).Inc()
	m.lastFire.WithLabelValues(function, rule).Set(float64(at.UnixNano()) / 1e9)
}

// StartSchedules starts firing triggers into queue. Firings are counted in
// m (ferry_schedule_fires_total) when m is not nil; failures to queue are
// written to log.
func StartSchedules(triggers []ScheduleTrigger, queue *Queue, m *ScheduleMetrics, log io.Writer) *Scheduler {
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

func (s *Scheduler) run(t ScheduleTrigger, queue *Queue, m *ScheduleMetrics, log io.Writer) {
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
		if _, err := queue.Enqueue(t.Function, &adapter.Request{Payload: payload, Trigger: adapter.TriggerSchedule}); err != nil {
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
