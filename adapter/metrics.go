package adapter

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are an engine's Prometheus metrics. Every invocation of every
// function loaded into the engine is counted, whatever triggered it, so
// the figures agree with the REPORT lines. Labels are the function name,
// the trigger and the outcome: all bounded by the configuration.
type Metrics struct {
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	coldStarts  *prometheus.CounterVec
	initTime    *prometheus.HistogramVec
	throttles   *prometheus.CounterVec
	outbound    *prometheus.CounterVec
	// compilations counts modules loaded, by where their machine code came
	// from: a precompiled image shows only source="cache".
	compilations *prometheus.CounterVec
	// memoryUsed and memoryPeak are Max Memory Used of the REPORT lines:
	// the last invocation's, and the largest since ferry started. A guest
	// heap that creeps under sustained load shows here before the
	// out_of_memory invocations do.
	memoryUsed *prometheus.GaugeVec
	memoryPeak *prometheus.GaugeVec

	mu        sync.Mutex
	functions map[*Function]struct{}
	peaks     map[string]float64 // memoryPeak's values, by function
}

// Triggers, the values of Request.Trigger and of the "trigger" label.
const (
	TriggerInvoke   = "invoke"   // the Lambda Invoke API, RequestResponse
	TriggerEvent    = "event"    // asynchronous: Invoke API Event, destinations
	TriggerHTTP     = "http"     // an HTTP route
	TriggerSchedule = "schedule" // a schedule, through the async queue
	TriggerQueue    = "queue"    // an event source: SQS, Kafka, RabbitMQ
)

// Outcomes, the values of the "outcome" label.
const (
	OutcomeSuccess     = "success"
	OutcomeError       = "error"   // the handler returned an error or panicked
	OutcomeTimeout     = "timeout" // stopped at the function's timeout
	OutcomeOutOfMemory = "out_of_memory"
	OutcomeThrottled   = "throttled" // no instance became free in time
)

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_invocations_total",
			Help: "Invocations by function, trigger and outcome (success, error, timeout, out_of_memory, throttled).",
		}, []string{"function", "trigger", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_invocation_duration_seconds",
			Help:    "Time spent in the handler (Lambda's Duration), excluding init.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs … 26s
		}, []string{"function"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_cold_starts_total",
			Help: "Invocations that started a new instance.",
		}, []string{"function"}),
		initTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_init_duration_seconds",
			Help:    "Instance initialisation time on cold starts (Lambda's Init Duration).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"function"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_throttles_total",
			Help: "Invocations refused because the function was at its concurrency limit.",
		}, []string{"function"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_outbound_requests_total",
			Help: "Outbound HTTP requests from functions by outcome (success: a response arrived; refused: the host is not in allowedOutboundHosts; error: no response).",
		}, []string{"function", "outcome"}),
		compilations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_module_compilations_total",
			Help: "Modules loaded, by where their machine code came from: compiled in this process, or the compilation cache.",
		}, []string{"source"}),
		memoryUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_instance_memory_bytes",
			Help: "Linear memory of the instance that ran the function's last invocation (the REPORT line's Max Memory Used).",
		}, []string{"function"}),
		memoryPeak: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_instance_memory_peak_bytes",
			Help: "The largest linear memory any instance of the function reached since ferry started.",
		}, []string{"function"}),
		functions: map[*Function]struct{}{},
		peaks:     map[string]float64{},
	}
	// Both series exist from the start, so that "0 compiled" is a sample.
	m.compilations.WithLabelValues(CompiledNow)
	m.compilations.WithLabelValues(CompiledFromCache)
	reg.MustRegister(m.invocations, m.duration, m.coldStarts, m.initTime, m.throttles,
		m.outbound, m.compilations, m.memoryUsed, m.memoryPeak, instancesCollector{m})
	return m
}

var instancesDesc = prometheus.NewDesc("ferry_instances",
	"Live instances by function and state (idle: warm and waiting; busy: running an invocation).",
	[]string{"function", "state"}, nil)

// instancesCollector reads the pools when scraped rather than tracking
// every change.
type instancesCollector struct{ m *Metrics }

func (c instancesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- instancesDesc }

func (c instancesCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	fns := make([]*Function, 0, len(c.m.functions))
	for f := range c.m.functions {
		fns = append(fns, f)
	}
	c.m.mu.Unlock()
	for _, f := range fns {
		s := f.Stats()
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(s.Idle), f.cfg.Name, "idle")
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(s.Busy), f.cfg.Name, "busy")
	}
}

func (m *Metrics) track(f *Function) *series {
	m.mu.Lock()
	m.functions[f] = struct{}{}
	m.mu.Unlock()
	return &series{
		duration:   m.duration.WithLabelValues(f.cfg.Name),
		memoryUsed: m.memoryUsed.WithLabelValues(f.cfg.Name),
	}
}

// series are a function's children of the vectors observe updates at every
// invocation, looked up once, when the function is made: WithLabelValues
// hashes its labels and takes the vector's lock at each call, which took
// ~3 µs of a request through ferry serve (BENCHMARKS.md, "The gateway's
// own work and the guest's allocations").
type series struct {
	duration   prometheus.Observer
	memoryUsed prometheus.Gauge
	// invocations by trigger and outcome, each made when first counted,
	// so that /metrics shows the outcomes that happened, as before.
	invocations [len(triggers)][len(outcomes)]atomic.Pointer[prometheus.Counter]
}

var (
	triggers = [...]string{TriggerInvoke, TriggerEvent, TriggerHTTP, TriggerSchedule, TriggerQueue}
	outcomes = [...]string{OutcomeSuccess, OutcomeError, OutcomeTimeout, OutcomeOutOfMemory, OutcomeThrottled}
)

// invocationsOf is f's counter of invocations by trigger and outcome.
func (m *Metrics) invocationsOf(f *Function, trigger, outcome string) prometheus.Counter {
	t, o := slices.Index(triggers[:], trigger), slices.Index(outcomes[:], outcome)
	if t < 0 || o < 0 {
		return m.invocations.WithLabelValues(f.cfg.Name, trigger, outcome)
	}
	p := &f.series.invocations[t][o]
	if c := p.Load(); c != nil {
		return *c
	}
	c := m.invocations.WithLabelValues(f.cfg.Name, trigger, outcome)
	p.Store(&c)
	return c
}

func (m *Metrics) untrack(f *Function) {
	m.mu.Lock()
	delete(m.functions, f)
	m.mu.Unlock()
}

// observe records one invocation's outcome.
func (m *Metrics) observe(f *Function, trigger string, res *Result, err error) {
	name := f.cfg.Name
	if trigger == "" {
		trigger = TriggerInvoke
	}
	var outcome string
	switch {
	case errors.Is(err, ErrTooManyRequests):
		m.throttles.WithLabelValues(name).Inc()
		outcome = OutcomeThrottled
	case err != nil:
		return // closed: nothing ran
	case res.ErrorType == errTimeout:
		outcome = OutcomeTimeout
	case res.ErrorType == errOutOfMemory:
		outcome = OutcomeOutOfMemory
	case res.Failed():
		outcome = OutcomeError
	default:
		outcome = OutcomeSuccess
	}
	m.invocationsOf(f, trigger, outcome).Inc()
	if res == nil {
		return
	}
	f.series.duration.Observe(res.Duration.Seconds())
	if res.MaxMemoryUsedMB > 0 {
		used := float64(res.MaxMemoryUsedMB << 20)
		f.series.memoryUsed.Set(used)
		m.mu.Lock() // compare and set under one lock: no larger value is lost
		if used > m.peaks[name] {
			m.peaks[name] = used
			m.memoryPeak.WithLabelValues(name).Set(used)
		}
		m.mu.Unlock()
	}
	if res.InitDuration > 0 {
		m.coldStarts.WithLabelValues(name).Inc()
		m.initTime.WithLabelValues(name).Observe(res.InitDuration.Seconds())
	}
}

// outboundObserver counts one function's outbound requests.
func (m *Metrics) outboundObserver(function string) func(outcome string) {
	return func(outcome string) { m.outbound.WithLabelValues(function, outcome).Inc() }
}
