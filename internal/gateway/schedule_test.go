package gateway_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// every fires at a fixed period: EventBridge's shortest rate is a minute,
// too long for a test, so the trigger's schedule is given directly.
type every time.Duration

func (e every) Next(after time.Time) time.Time { return after.Add(time.Duration(e)) }

// TestSchedules fires schedules into a real queue and function: each
// firing is one asynchronous invocation whose event is EventBridge's
// Scheduled Event, and each is counted in the metrics.
func TestSchedules(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := adapter.NewMetrics(reg)
	e, err := adapter.NewEngine(context.Background(), adapter.WithMetrics(metrics))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	f, err := e.LoadFile(context.Background(), sampletest.Module(t, "../../samples/hello"), adapter.Config{
		Name: "tick", Region: "eu-west-1", Async: adapter.AsyncConfig{OnSuccess: adapter.Destination{File: out}}})
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(t, map[string]*adapter.Function{"tick": f}, gateway.QueueOptions{})
	// A real expression beside it must not fire within the test.
	never, err := events.ParseSchedule("cron(0 12 1 1 ? 2199)")
	if err != nil {
		t.Fatal(err)
	}
	s := gateway.StartSchedules([]gateway.ScheduleTrigger{
		{Function: f, Rule: "tick-fast", Schedule: every(50 * time.Millisecond), Input: []byte(`"tick"`)},
		{Function: f, Rule: "tick-2199", Schedule: never},
	}, q, gateway.NewScheduleMetrics(reg), nil)
	waitFor(t, "two runs", func() bool { return len(readRecords(t, out)) >= 2 })
	s.Stop()
	waitFor(t, "the queue to drain", func() bool { return q.Depth() == 0 })

	runs := readRecords(t, out)
	for _, r := range runs {
		if string(r.ResponsePayload) != `"Hello tick!"` {
			t.Fatalf("run: %+v", r)
		}
	}
	if got := gathered(t, reg, "ferry_schedule_fires_total", "tick-fast"); got != float64(len(runs)) {
		t.Fatalf("ferry_schedule_fires_total{rule=tick-fast} = %v, want %d", got, len(runs))
	}
	if got := gathered(t, reg, "ferry_schedule_fires_total", "tick-2199"); got != 0 {
		t.Fatalf("the 2199 rule fired %v times", got)
	}
	if got := gathered(t, reg, "ferry_invocations_total", "schedule"); got != float64(len(runs)) {
		t.Fatalf("ferry_invocations_total{trigger=schedule} = %v, want %d", got, len(runs))
	}
}

// gathered sums the series of metric name that have a label valued value.
func gathered(t *testing.T, reg *prometheus.Registry, name, value string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestScheduledEventPayload checks what a schedule without input sends:
// EventBridge's Scheduled Event for the rule, as the function receives it.
func TestScheduledEventPayload(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs.jsonl")
	f := sampletest.Load(t, "../../adapter/testdata/ctxecho", adapter.Config{Name: "tick", Region: "eu-west-1", AccountID: "111122223333",
		Async: adapter.AsyncConfig{OnSuccess: adapter.Destination{File: out}}})
	q := newQueue(t, map[string]*adapter.Function{"tick": f}, gateway.QueueOptions{})
	s := gateway.StartSchedules([]gateway.ScheduleTrigger{{Function: f, Rule: "nightly", Schedule: every(10 * time.Millisecond)}}, q, nil, nil)
	waitFor(t, "a run", func() bool { return len(readRecords(t, out)) >= 1 })
	s.Stop()
	r := readRecords(t, out)[0]
	var sent awsevents.EventBridgeEvent
	var seen struct{ Event awsevents.EventBridgeEvent }
	if err := json.Unmarshal(r.RequestPayload, &sent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.ResponsePayload, &seen); err != nil {
		t.Fatal(err)
	}
	if sent.DetailType != "Scheduled Event" || sent.Source != "aws.events" || sent.Region != "eu-west-1" || sent.AccountID != "111122223333" ||
		len(sent.Resources) != 1 || sent.Resources[0] != "arn:aws:events:eu-west-1:111122223333:rule/nightly" || sent.ID == "" || sent.Time.IsZero() {
		t.Fatalf("scheduled event: %s", r.RequestPayload)
	}
	if seen.Event.ID != sent.ID || seen.Event.DetailType != sent.DetailType {
		t.Fatalf("the function saw %+v, the queue sent %+v", seen.Event, sent)
	}
}
