// Package eventsource polls queues and streams for a function, as Lambda's
// event source mappings do: SQS (aws-sdk-go-v2), Kafka (franz-go) and
// RabbitMQ (amqp091-go). Each source reads a batch, drops the records the
// filter criteria reject, invokes the function with aws-lambda-go's event
// type for the source (events.SQSEvent, events.KafkaEvent,
// events.RabbitMQEvent), and only then acknowledges: a message is deleted,
// committed or acked after the function succeeded with it, never before,
// so a crash or SIGKILL at any point loses nothing (delivery is
// at-least-once, as on Lambda).
//
// The package depends on nothing of ferry's but the Invoker interface, so
// the layer that serves functions wires it in.
package eventsource

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Invoker runs the function once with payload. functionError reports that
// the function itself failed (Lambda's X-Amz-Function-Error); err is for
// failures to invoke at all (function closed, throttled). Either way the
// batch is not acknowledged.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (response []byte, functionError bool, err error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, payload []byte) ([]byte, bool, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, bool, error) {
	return f(ctx, payload)
}

// Source is a running event source mapping.
type Source interface {
	// Run polls until ctx ends, then lets the batches being invoked finish
	// and acknowledges them (or releases them when the function failed)
	// before it returns. Its error is a configuration or connection error
	// that stopped the source.
	Run(ctx context.Context) error
	// Name says which function and queue or topic the source feeds, for
	// logs and metrics: "sqs:orders".
	Name() string
}

// Env is what every source needs besides its own configuration.
type Env struct {
	// Function is the function's name, for logs and metrics.
	Function string
	Invoker  Invoker
	// Metrics records per-source counters; nil records nothing.
	Metrics *Metrics
	// Log receives one line per batch outcome; nil discards them.
	Log io.Writer
	// Region and AccountID fill the ARNs in events when a source's own
	// configuration does not say.
	Region    string
	AccountID string
}

// Metrics counts records per function and source.
type Metrics struct {
	received, succeeded, failed, filtered *prometheus.CounterVec
	batches                               *prometheus.CounterVec
	age                                   *prometheus.GaugeVec
	lag                                   *prometheus.GaugeVec
}

// NewMetrics registers the event source metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"function", "source"}
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ferry", Subsystem: "eventsource", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ferry", Subsystem: "eventsource", Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	return &Metrics{
		received:  counter("records_received_total", "Records read from the queue or stream."),
		succeeded: counter("records_succeeded_total", "Records the function processed; acknowledged."),
		failed:    counter("records_failed_total", "Records the function failed; left for redelivery or sent on to the failure destination."),
		filtered:  counter("records_filtered_total", "Records the filter criteria dropped without an invocation; acknowledged."),
		batches:   counter("batches_total", "Invocations with a batch of records."),
		age:       gauge("oldest_record_age_seconds", "Age of the oldest record of the last batch when it was read (SQS, RabbitMQ: since it was sent; Kafka: since its timestamp)."),
		lag:       gauge("lag_records", "Kafka: records behind the partitions' high watermarks after the last fetch; SQS and RabbitMQ: messages waiting in the queue."),
	}
}

// Succeeded, Failed and Filtered return a source's record counters, for
// tests and health checks.
func (m *Metrics) Succeeded(function, source string) prometheus.Counter {
	return m.succeeded.WithLabelValues(function, source)
}

// Failed returns a source's failed-record counter.
func (m *Metrics) Failed(function, source string) prometheus.Counter {
	return m.failed.WithLabelValues(function, source)
}

// Filtered returns a source's filtered-record counter.
func (m *Metrics) Filtered(function, source string) prometheus.Counter {
	return m.filtered.WithLabelValues(function, source)
}

// outcome is what happened to one batch, for the log line and metrics.
type outcome struct {
	received, filtered, succeeded, failed int
	oldest                                time.Time // the oldest record's send time, zero when unknown
	err                                   string    // why the batch failed, empty when it did not
	duration                              time.Duration
}

// reporter writes batch outcomes to the log and the metrics.
type reporter struct {
	env    Env
	source string
	mu     sync.Mutex
}

func (r *reporter) report(o outcome) {
	if m := r.env.Metrics; m != nil {
		lv := []string{r.env.Function, r.source}
		m.received.WithLabelValues(lv...).Add(float64(o.received))
		m.filtered.WithLabelValues(lv...).Add(float64(o.filtered))
		m.succeeded.WithLabelValues(lv...).Add(float64(o.succeeded))
		m.failed.WithLabelValues(lv...).Add(float64(o.failed))
		if o.succeeded+o.failed > 0 {
			m.batches.WithLabelValues(lv...).Inc()
		}
		if !o.oldest.IsZero() {
			m.age.WithLabelValues(lv...).Set(time.Since(o.oldest).Seconds())
		}
	}
	if r.env.Log == nil {
		return
	}
	status := "ok"
	switch {
	case o.err != "":
		status = "failed"
	case o.failed > 0:
		status = "partial"
	}
	line := fmt.Sprintf("eventsource function=%s source=%s outcome=%s records=%d succeeded=%d failed=%d filtered=%d duration=%s",
		r.env.Function, r.source, status, o.received, o.succeeded, o.failed, o.filtered, o.duration.Round(time.Millisecond))
	if o.err != "" {
		line += fmt.Sprintf(" error=%q", o.err)
	}
	r.mu.Lock()
	fmt.Fprintln(r.env.Log, line)
	r.mu.Unlock()
}

func (r *reporter) setLag(n float64) {
	if m := r.env.Metrics; m != nil {
		m.lag.WithLabelValues(r.env.Function, r.source).Set(n)
	}
}

// invokeError describes a failed invocation for the batch's log line.
func invokeError(resp []byte, functionError bool, err error) string {
	if err != nil {
		return err.Error()
	}
	if functionError {
		return "function error: " + truncate(string(resp), 200)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// maxPayload is Lambda's limit on a synchronous invocation's payload: a
// batch is handed to the function before its event would outgrow it, as
// Lambda's event source mappings do.
const maxPayload = 6 << 20

// recordOverhead bounds what an event adds to a record's data: IDs,
// attributes, JSON punctuation.
const recordOverhead = 1 << 10
