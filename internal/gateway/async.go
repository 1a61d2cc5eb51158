package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/atomicfile"
)

// Asynchronous (Event) invocations, as Lambda runs them.
//
// An accepted event is held by the Queue until it is finished: it runs in
// the background through (*Function).Invoke; a function error is retried
// after each of the function's Async.RetryDelays (Lambda's 1 and 2 minutes
// by default) with the same request id; then an invocation record goes to
// the function's OnSuccess or OnFailure destination with condition
// Success, RetriesExhausted or EventAgeExceeded.
//
// Durability. With a SpoolDir the spool is a write-ahead log: Enqueue
// writes the event's file and returns (the caller's 202) only once it is
// durable, concurrent Enqueues sharing one file-system sync (group
// commit); the file is removed after the event's outcome (its record
// delivered or it discarded), never before. A process killed at any
// moment therefore loses no accepted event: the next NewQueue runs every
// file still there, again if it was running (at least once, as Lambda).
//
// Design. Every held event is in q.events. An event is ready (in its
// function's lane, FIFO), running, waiting for a retry (a time.AfterFunc
// timer) or parked (it could not start because the queue is closing or
// its function is closed, or its record could not be delivered: it stays
// for the next start). A lane runs at most Config.Concurrency events
// of its function at once, one goroutine each, so a function saturated by
// synchronous callers holds back only its own events, which wait for a
// slot (they are never dropped). Close stops intake, timers and waits for
// slots, lets running attempts finish while its context allows, then
// writes every event still held to the spool directory, which the next
// NewQueue loads. A record queued to a destination function replaces the
// finished event, so it is never refused for capacity; destinations that
// lead back to their own function make an endless chain (there is no loop
// detection).

var (
	// ErrQueueFull is returned by Enqueue when the queue holds Capacity
	// events (TooManyRequestsException for the caller).
	ErrQueueFull = errors.New("async: queue is full")
	// ErrQueueClosed is returned by Enqueue once Close has begun.
	ErrQueueClosed = errors.New("async: queue is closed")
)

// Destination record conditions, as Lambda names them.
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// QueueOptions configures NewQueue.
type QueueOptions struct {
	// Capacity is the most events held at once, whether queued, running
	// or waiting for a retry (default 1000). Events loaded from the spool
	// and records queued to destination functions are always accepted.
	Capacity int
	// MaxQueuedPerFunction is the most events one function may hold, so
	// that a slow function's backlog cannot take every other function's
	// share (default Capacity divided by the number of functions).
	MaxQueuedPerFunction int
	// SpoolDir is the write-ahead spool: every accepted event is a file
	// there until its outcome, and NewQueue runs the files it finds.
	// Files that are not valid events move to SpoolDir/bad. "" means no
	// spool: events are held in memory only, those still held at Close
	// are lost, and Close's error lists them.
	SpoolDir string
	// Log receives one line per retry, destination delivery and spool
	// action; nil discards them.
	Log io.Writer
}

// Queue runs Event invocations in the background. It is safe for
// concurrent use.
type Queue struct {
	functions map[string]*adapter.Function
	capacity  int
	perFn     int // events one function may hold
	spoolDir  string
	wal       *spoolWriter // nil without a spool
	writing   sync.WaitGroup

	logMu sync.Mutex
	log   io.Writer

	// stop is cancelled when Close begins: events waiting for a free
	// instance give up and are spooled.
	stop   context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	events    map[*event]struct{} // accepted and not finished
	held      map[*adapter.Function]int
	lanes     map[*adapter.Function]*lane
	running   int  // events being processed, across lanes
	closed    bool // Close has begun: no intake, nothing new starts
	final     bool // Close has spooled the events: later outcomes are ignored
	drained   chan struct{}
	isDrained bool
	onAttempt []func(function string, attempt int, res *adapter.Result)
}

// lane is one function's ready events.
type lane struct {
	fn      *adapter.Function
	ready   []*event
	running int
}

type eventState int

const (
	stateReady   eventState = iota // in its lane
	stateRunning                   // being processed by a goroutine
	stateWaiting                   // waiting for a retry at due
	stateParked                    // could not start; held for the spool
)

// event is one accepted event. Its fields change only under Queue.mu,
// and only by the goroutine processing it.
type event struct {
	fn       *adapter.Function
	req      adapter.Request // RequestID and TraceID filled in
	enqueued time.Time
	attempts int             // attempts that ran
	due      time.Time       // when waiting for a retry
	last     *adapter.Result // the last attempt's outcome (Payload, ErrorType)
	state    eventState
	timer    *time.Timer
	file     string // its spool file's name once durable, "" without a spool
}

// NewQueue returns a running queue for functions (keyed by name, the
// names destinations refer to). With a SpoolDir it checks the directory
// is writable, then loads the events a previous process left there
// (accepted and not finished, whether it closed or crashed) and runs
// them; each file is removed after its event's outcome.
func NewQueue(functions map[string]*adapter.Function, opts QueueOptions) (*Queue, error) {
	if opts.Capacity == 0 {
		opts.Capacity = 1000
	}
	if opts.Capacity < 0 {
		return nil, fmt.Errorf("async: capacity %d: want at least 1", opts.Capacity)
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	perFn := opts.MaxQueuedPerFunction
	if perFn <= 0 {
		perFn = max(1, opts.Capacity/max(1, len(functions)))
	}
	q := &Queue{
		functions: functions,
		capacity:  opts.Capacity,
		perFn:     perFn,
		spoolDir:  opts.SpoolDir,
		log:       log,
		events:    map[*event]struct{}{},
		held:      map[*adapter.Function]int{},
		lanes:     map[*adapter.Function]*lane{},
		drained:   make(chan struct{}),
	}
	for name, f := range functions {
		a := f.Config().Async
		for _, d := range []struct {
			what string
			dest adapter.Destination
		}{{"onSuccess", a.OnSuccess}, {"onFailure", a.OnFailure}} {
			if d.dest.Function != "" && q.lookup(d.dest.Function) == nil {
				return nil, fmt.Errorf("async: %s: %s destination: no function %q", name, d.what, d.dest.Function)
			}
			if d.dest.File != "" {
				// Fail at start rather than at the first delivery.
				err := os.MkdirAll(filepath.Dir(d.dest.File), 0o755)
				var fh *os.File
				if err == nil {
					fh, err = os.OpenFile(d.dest.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				}
				if err != nil {
					return nil, fmt.Errorf("async: %s: %s destination: %w", name, d.what, err)
				}
				fh.Close()
			}
		}
	}
	q.stop, q.cancel = context.WithCancel(context.Background())
	if q.spoolDir != "" {
		w, err := newSpoolWriter(q.spoolDir)
		if err != nil {
			q.cancel()
			return nil, err
		}
		q.wal = w
		if err := q.loadSpool(); err != nil {
			q.cancel()
			w.close()
			return nil, err
		}
	}
	return q, nil
}

// OnAttempt registers fn to be called after every attempt that ran (not
// for events that could not start), with the function's name, the
// attempt's number (1 for the first) and its result, on the goroutine
// that ran it: fn must be quick and safe for concurrent use. Register
// before enqueuing; each call adds one more observer.
func (q *Queue) OnAttempt(fn func(function string, attempt int, res *adapter.Result)) {
	q.mu.Lock()
	q.onAttempt = append(q.onAttempt, fn)
	q.mu.Unlock()
}

// Enqueue accepts an event for f and returns its request id, generated
// when req.RequestID is empty; every attempt uses it, and one trace id.
// req.Trigger defaults to TriggerEvent (a schedule passes
// TriggerSchedule). The queue keeps a copy of req. With a spool, Enqueue
// returns once the event's file is durable. Errors: ErrQueueFull (the
// queue or f's share of it is full), ErrQueueClosed, ErrClosed (f is
// closed), or the spool's write error (the event is not accepted).
func (q *Queue) Enqueue(f *adapter.Function, req *adapter.Request) (string, error) {
	if f == nil || req == nil {
		return "", errors.New("async: Enqueue needs a function and a request")
	}
	if f.Closed() {
		return "", adapter.ErrClosed
	}
	ev := newEvent(f, req, time.Now())
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return "", ErrQueueClosed
	}
	if len(q.events) >= q.capacity || q.held[f] >= q.perFn {
		q.mu.Unlock()
		return "", ErrQueueFull
	}
	// Held (counted against capacity) but not ready until durable.
	ev.state = stateParked
	q.events[ev] = struct{}{}
	q.held[f]++
	q.writing.Add(1)
	q.mu.Unlock()

	err := q.persist(ev)
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.writing.Done()
	if err != nil {
		q.forget(ev)
		q.logf("%s %s: NOT accepted: the spool write failed: %v", f.Config().Name, ev.req.RequestID, err)
		return "", fmt.Errorf("async: the event could not be written to the spool: %w", err)
	}
	if !q.closed {
		q.schedule(ev)
	} // else Close spools it (its file is there already)
	return ev.req.RequestID, nil
}

// persist writes ev's spool file and waits until it is durable; nothing
// to do without a spool.
func (q *Queue) persist(ev *event) error {
	if q.wal == nil {
		return nil
	}
	q.mu.Lock()
	e := ev.spoolEntry()
	q.mu.Unlock()
	b, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	name := spoolFileName(ev.enqueued)
	if err := q.wal.write(name, b); err != nil {
		return err
	}
	q.mu.Lock()
	ev.file = name
	q.mu.Unlock()
	return nil
}

// forget lets ev go; q.mu is held.
func (q *Queue) forget(ev *event) {
	if _, ok := q.events[ev]; !ok {
		return
	}
	delete(q.events, ev)
	if q.held[ev.fn]--; q.held[ev.fn] <= 0 {
		delete(q.held, ev.fn)
	}
}

// done lets ev go after its outcome and removes its spool file.
func (q *Queue) done(ev *event) {
	q.mu.Lock()
	q.forget(ev)
	file := ev.file
	ev.file = ""
	q.mu.Unlock()
	if q.wal != nil && file != "" {
		if err := q.wal.remove(file); err != nil {
			q.logf("%s %s: finished, but its spool file %s could not be removed (%v): it will run again at the next start",
				ev.fn.Config().Name, ev.req.RequestID, file, err)
		}
	}
}

// Depth returns the number of events accepted and not finished: queued,
// running or waiting for a retry.
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
}

// Close stops accepting events (ErrQueueClosed), stops starting new
// attempts, lets running attempts finish until ctx ends, and writes every
// event not finished (queued, waiting for a retry, or still running when
// ctx ended) to the spool directory with its attempt count, its due time
// and its original enqueue time (rewriting its write-ahead file in place).
//
// An attempt still running when ctx ends is spooled too, so it runs again
// at the next start: at-least-once for that event, whatever the attempt
// does after Close returns is ignored. Without a spool directory, Close
// reports the events it could not keep in its error. Close is for one
// caller; calls after the first return nil at once.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.cancel()
	for ev := range q.events {
		if ev.timer != nil {
			ev.timer.Stop() // a timer already firing finds the queue closed
			ev.timer = nil
		}
	}
	q.checkDrained()
	q.mu.Unlock()
	q.writing.Wait() // events being written become held, or are refused

	select {
	case <-q.drained:
	case <-ctx.Done():
	}

	q.mu.Lock()
	q.final = true
	held := make([]*event, 0, len(q.events))
	for ev := range q.events {
		held = append(held, ev)
	}
	sort.Slice(held, func(i, j int) bool { return held[i].enqueued.Before(held[j].enqueued) })
	entries := make([]spoolEntry, len(held))
	running := make([]bool, len(held))
	files := make([]string, len(held))
	for i, ev := range held {
		entries[i] = ev.spoolEntry()
		running[i] = ev.state == stateRunning
		files[i] = ev.file
	}
	q.mu.Unlock()
	if q.wal != nil {
		defer q.wal.close()
	}

	if len(entries) == 0 {
		return nil
	}
	if q.spoolDir == "" {
		ids := make([]string, len(entries))
		for i, e := range entries {
			ids[i] = e.Function + " " + e.RequestID
		}
		return fmt.Errorf("async: %d events not finished and lost (no spool directory): %s",
			len(entries), strings.Join(ids, ", "))
	}
	var errs []error
	for i, e := range entries {
		// The event's file is rewritten in place with its attempts and
		// due time, so it stays one event.
		path, err := writeSpoolFile(q.spoolDir, files[i], &e)
		if err != nil {
			errs = append(errs, fmt.Errorf("async: event %s %s lost: %w", e.Function, e.RequestID, err))
			continue
		}
		note := ""
		if running[i] {
			note = "; its attempt was still running and may run again"
		}
		q.logf("spooled %s %s (%d attempts) to %s%s", e.Function, e.RequestID, e.Attempts, path, note)
	}
	if err := syncDir(q.spoolDir); err != nil {
		errs = append(errs, fmt.Errorf("async: spool: %w", err))
	}
	return errors.Join(errs...)
}

func newEvent(f *adapter.Function, req *adapter.Request, now time.Time) *event {
	r := *req
	r.Payload = bytes.Clone(req.Payload)
	r.ClientContext = bytes.Clone(req.ClientContext)
	r.CognitoIdentity = bytes.Clone(req.CognitoIdentity)
	if r.RequestID == "" {
		r.RequestID = adapter.NewRequestID()
	}
	if r.TraceID == "" {
		r.TraceID = adapter.NewTraceID(now) // one trace across the attempts
	}
	if r.Trigger == "" {
		r.Trigger = adapter.TriggerEvent
	}
	return &event{fn: f, req: r, enqueued: now}
}

// add takes ev in, bypassing the capacity check; q.mu is held.
func (q *Queue) add(ev *event) {
	if _, ok := q.events[ev]; !ok {
		q.events[ev] = struct{}{}
		q.held[ev.fn]++
	}
	q.schedule(ev)
}

// schedule makes ev ready now, or at ev.due; q.mu is held.
func (q *Queue) schedule(ev *event) {
	d := time.Until(ev.due)
	if ev.due.IsZero() || d <= 0 {
		q.ready(ev)
		return
	}
	ev.state = stateWaiting
	if q.closed {
		return // spooled with its due time
	}
	ev.timer = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.closed || ev.state != stateWaiting {
			return
		}
		ev.timer = nil
		q.ready(ev)
	})
}

// ready puts ev in its lane; q.mu is held.
func (q *Queue) ready(ev *event) {
	ev.state = stateReady
	ev.due = time.Time{}
	l := q.lanes[ev.fn]
	if l == nil {
		l = &lane{fn: ev.fn}
		q.lanes[ev.fn] = l
	}
	l.ready = append(l.ready, ev)
	q.pump(l)
}

// pump starts ready events of l while its function has room; q.mu is
// held.
func (q *Queue) pump(l *lane) {
	for !q.closed && l.running < l.fn.Config().Concurrency && len(l.ready) > 0 {
		ev := l.ready[0]
		l.ready[0] = nil
		l.ready = l.ready[1:]
		ev.state = stateRunning
		l.running++
		q.running++
		go q.run(l, ev)
	}
}

// checkDrained signals Close once nothing runs; q.mu is held.
func (q *Queue) checkDrained() {
	if q.closed && q.running == 0 && !q.isDrained {
		q.isDrained = true
		close(q.drained)
	}
}

// run processes one attempt of ev and what follows from it: a retry, or
// the delivery of its record.
func (q *Queue) run(l *lane, ev *event) {
	defer func() {
		q.mu.Lock()
		l.running--
		q.running--
		q.pump(l)
		q.checkDrained()
		q.mu.Unlock()
	}()
	fnCfg := ev.fn.Config()
	name := fnCfg.Name
	cfg := &fnCfg.Async
	if time.Since(ev.enqueued) > cfg.MaxEventAge {
		q.finish(ev, ConditionEventAgeExceeded, ev.last)
		return
	}
	var res *adapter.Result
	err := q.stop.Err()
	if err == nil {
		req := ev.req
		// q.stop only bounds the wait for a free instance: an attempt
		// that started runs to completion or to the function's timeout.
		res, err = ev.fn.Invoke(q.stop, &req)
	}
	if err != nil { // nothing ran
		q.mu.Lock()
		ev.state = stateParked
		closed := q.closed
		q.mu.Unlock()
		if !closed {
			q.logf("%s %s: cannot run (%v); held for the spool", name, ev.req.RequestID, err)
		}
		return
	}

	q.mu.Lock()
	ev.attempts++
	ev.last = &adapter.Result{Payload: res.Payload, ErrorType: res.ErrorType}
	attempt, hooks, final := ev.attempts, q.onAttempt, q.final
	q.mu.Unlock()
	for _, h := range hooks {
		h(name, attempt, res)
	}
	if final {
		q.logf("%s %s: attempt %d ended after Close spooled the event; it will run again", name, ev.req.RequestID, attempt)
		return
	}
	if !res.Failed() {
		q.finish(ev, ConditionSuccess, res)
		return
	}
	if attempt > len(cfg.RetryDelays) {
		q.finish(ev, ConditionRetriesExhausted, res)
		return
	}
	delay := cfg.RetryDelays[attempt-1]
	due := time.Now().Add(delay)
	if due.Sub(ev.enqueued) > cfg.MaxEventAge {
		q.finish(ev, ConditionEventAgeExceeded, res)
		return
	}
	q.logf("%s %s: attempt %d failed (%s); retry %d of %d in %v",
		name, ev.req.RequestID, attempt, res.ErrorType, attempt, len(cfg.RetryDelays), delay)
	q.mu.Lock()
	if !q.final {
		ev.due = due
		q.schedule(ev)
	}
	q.mu.Unlock()
}

// finish delivers ev's record to its destination and lets it go. last is
// the outcome of its last attempt, nil if none ran.
func (q *Queue) finish(ev *event, condition string, last *adapter.Result) {
	name, id := ev.fn.Config().Name, ev.req.RequestID
	dest := ev.fn.Config().Async.OnFailure
	if condition == ConditionSuccess {
		dest = ev.fn.Config().Async.OnSuccess
	}
	var record []byte
	if !dest.IsZero() {
		record = q.record(ev, condition, last)
	}
	switch {
	case dest.File != "":
		err := appendLine(dest.File, record)
		if err != nil {
			// Kept (and its file) for the next start rather than lost.
			q.mu.Lock()
			ev.state = stateParked
			q.mu.Unlock()
			q.logf("%s %s: %s after %d attempts; delivery to %s FAILED: %v; the event is held for the next start",
				name, id, condition, ev.attempts, dest, err)
			return
		}
		q.done(ev)
		q.logf("%s %s: %s after %d attempts; record appended to %s", name, id, condition, ev.attempts, dest.File)
	case dest.Function != "":
		target := q.lookup(dest.Function)
		if target == nil {
			q.done(ev)
			q.logf("%s %s: %s after %d attempts; delivery to %s FAILED: no such function; record: %s",
				name, id, condition, ev.attempts, dest, bytes.TrimSpace(record))
			return
		}
		// The record is durable before the event it replaces goes: a
		// crash in between runs the event again, never loses the record.
		next := newEvent(target, &adapter.Request{Payload: bytes.TrimSpace(record)}, time.Now())
		if err := q.persist(next); err != nil {
			q.mu.Lock()
			ev.state = stateParked
			q.mu.Unlock()
			q.logf("%s %s: %s after %d attempts; the record for %s could not be spooled (%v); the event is held for the next start",
				name, id, condition, ev.attempts, dest, err)
			return
		}
		q.mu.Lock()
		if q.final {
			q.mu.Unlock()
			if next.file != "" {
				q.wal.remove(next.file) // the event was spooled and runs again
			}
			return
		}
		// Replaces ev, so the queue does not grow: no capacity check.
		q.add(next)
		q.mu.Unlock()
		q.done(ev)
		q.logf("%s %s: %s after %d attempts; record queued to function %s as %s",
			name, id, condition, ev.attempts, dest.Function, next.req.RequestID)
	default:
		q.done(ev)
		if condition != ConditionSuccess {
			q.logf("%s %s: %s after %d attempts; no onFailure destination, event discarded", name, id, condition, ev.attempts)
		}
	}
}

// lookup finds a function by its key in the map NewQueue was given, else
// by its configured name.
func (q *Queue) lookup(name string) *adapter.Function {
	if f := q.functions[name]; f != nil {
		return f
	}
	for _, f := range q.functions {
		if f.Config().Name == name {
			return f
		}
	}
	return nil
}

func (q *Queue) logf(format string, args ...any) {
	q.logMu.Lock()
	defer q.logMu.Unlock()
	fmt.Fprintf(q.log, "async: "+format+"\n", args...)
}

// destinationRecord is Lambda's invocation record, fields in its order.
type destinationRecord struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  requestContext   `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *responseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

type requestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type responseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// record renders ev's invocation record as one line of JSON.
func (q *Queue) record(ev *event, condition string, last *adapter.Result) []byte {
	fnCfg := ev.fn.Config()
	rec := destinationRecord{
		Version:   "1.0",
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: requestContext{
			RequestID:              ev.req.RequestID,
			FunctionARN:            fnCfg.ARN() + ":$LATEST",
			Condition:              condition,
			ApproximateInvokeCount: ev.attempts,
		},
		RequestPayload: jsonValue(ev.req.Payload, "{}"),
	}
	if last != nil {
		rc := &responseContext{StatusCode: 200, ExecutedVersion: "$LATEST"}
		if last.Failed() {
			rc.FunctionError = "Unhandled"
		}
		rec.ResponseContext = rc
		rec.ResponsePayload = jsonValue(last.Payload, "null")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&rec); err != nil { // cannot happen: every value is valid JSON
		panic(err)
	}
	return b.Bytes() // compact, one line, newline-terminated
}

// jsonValue returns b as a JSON value: itself if it is JSON, else a JSON
// string of it; empty becomes empty.
func jsonValue(b []byte, empty string) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage(empty)
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// fileLocks serialises appends to each destination file within the
// process.
var fileLocks sync.Map // absolute path → *sync.Mutex

// appendLine appends line to the file at path (O_APPEND) and syncs it.
func appendLine(path string, line []byte) error {
	key := path
	if abs, err := filepath.Abs(path); err == nil {
		key = abs
	}
	mu, _ := fileLocks.LoadOrStore(key, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// spoolEntry is an event at rest: one JSON file in the spool directory.
type spoolEntry struct {
	Version            int       `json:"version"` // 1
	Function           string    `json:"function"`
	RequestID          string    `json:"requestId"`
	TraceID            string    `json:"traceId,omitempty"`
	InvokedFunctionARN string    `json:"invokedFunctionArn,omitempty"`
	TenantID           string    `json:"tenantId,omitempty"`
	Trigger            string    `json:"trigger,omitempty"`
	ClientContext      []byte    `json:"clientContext,omitempty"`
	CognitoIdentity    []byte    `json:"cognitoIdentity,omitempty"`
	Payload            []byte    `json:"payload"`
	Enqueued           time.Time `json:"enqueued"`
	Attempts           int       `json:"attempts"`
	Due                time.Time `json:"due,omitzero"`
	LastErrorType      string    `json:"lastErrorType,omitempty"`
	LastResponse       []byte    `json:"lastResponse,omitempty"`
}

const spoolVersion = 1

// spoolEntry captures ev; q.mu is held.
func (ev *event) spoolEntry() spoolEntry {
	e := spoolEntry{
		Version:            spoolVersion,
		Function:           ev.fn.Config().Name,
		RequestID:          ev.req.RequestID,
		TraceID:            ev.req.TraceID,
		InvokedFunctionARN: ev.req.InvokedFunctionARN,
		TenantID:           ev.req.TenantID,
		Trigger:            ev.req.Trigger,
		ClientContext:      ev.req.ClientContext,
		CognitoIdentity:    ev.req.CognitoIdentity,
		Payload:            ev.req.Payload,
		Enqueued:           ev.enqueued,
		Attempts:           ev.attempts,
	}
	if ev.state == stateWaiting {
		e.Due = ev.due
	}
	if ev.last != nil {
		e.LastErrorType = ev.last.ErrorType
		e.LastResponse = ev.last.Payload
	}
	return e
}

func (e *spoolEntry) event(f *adapter.Function) *event {
	ev := &event{
		fn: f,
		req: adapter.Request{
			Payload:            e.Payload,
			RequestID:          e.RequestID,
			TraceID:            e.TraceID,
			ClientContext:      e.ClientContext,
			CognitoIdentity:    e.CognitoIdentity,
			InvokedFunctionARN: e.InvokedFunctionARN,
			TenantID:           e.TenantID,
			Trigger:            e.Trigger,
		},
		enqueued: e.Enqueued,
		attempts: e.Attempts,
		due:      e.Due,
	}
	if e.Attempts > 0 {
		ev.last = &adapter.Result{Payload: e.LastResponse, ErrorType: e.LastErrorType}
	}
	return ev
}

// spoolFileName names an event's file; names sort in enqueue order.
func spoolFileName(enqueued time.Time) string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%020d-%s.json", enqueued.UnixNano(), hex.EncodeToString(rnd[:]))
}

// writeSpoolFile writes e atomically as dir/name (a new name when name is
// "") and returns its path.
func writeSpoolFile(dir, name string, e *spoolEntry) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = spoolFileName(e.Enqueued)
	}
	if err := atomicfile.Write(dir, name, b); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// maxSpoolAttempts bounds a spool file's attempt count: Lambda retries an
// event at most twice.
const maxSpoolAttempts = 1000

// validate says what makes a decoded spool entry unusable, if anything:
// a spool file is input like any other (a disk, an operator or another
// version may have written it).
func (e *spoolEntry) validate() error {
	switch {
	case e.Version != spoolVersion:
		return fmt.Errorf("version %d, want %d", e.Version, spoolVersion)
	case e.Function == "":
		return errors.New("no function")
	case e.RequestID == "":
		return errors.New("no request id")
	case e.Attempts < 0 || e.Attempts > maxSpoolAttempts:
		return fmt.Errorf("attempt count %d out of range", e.Attempts)
	case e.Enqueued.IsZero():
		return errors.New("no enqueue time")
	case len(e.Payload) > maxRequestSize:
		return fmt.Errorf("payload of %d bytes", len(e.Payload))
	}
	return nil
}

// loadSpool takes in the events of the spool directory, oldest first.
// Their files stay until each event's outcome (a crash while they run
// loses nothing). A file that is not a valid event moves to the bad/
// sub-directory with a log line; one whose function is not configured is
// left in place (the function may come back) and logged.
func (q *Queue) loadSpool() error {
	files, err := os.ReadDir(q.spoolDir)
	if err != nil {
		return fmt.Errorf("async: spool: %w", err)
	}
	var loaded []*event
	for _, de := range files {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") && de.Type().IsRegular() {
			os.Remove(filepath.Join(q.spoolDir, name)) // an unfinished atomic write
			continue
		}
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		path := filepath.Join(q.spoolDir, name)
		b, err := readBounded(path, 2*maxRequestSize)
		if err != nil {
			q.moveAside(name, err)
			continue
		}
		var e spoolEntry
		if err := json.Unmarshal(b, &e); err != nil {
			q.moveAside(name, err)
			continue
		}
		if err := e.validate(); err != nil {
			q.moveAside(name, err)
			continue
		}
		f := q.lookup(e.Function)
		if f == nil {
			q.logf("spool file %s: no function %q configured; left in place", path, e.Function)
			continue
		}
		ev := e.event(f)
		ev.file = name
		loaded = append(loaded, ev)
		q.logf("loaded %s %s (%d attempts) from %s", e.Function, e.RequestID, e.Attempts, path)
	}
	q.mu.Lock()
	for _, ev := range loaded {
		q.add(ev)
	}
	q.mu.Unlock()
	return nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	return b, err
}

// moveAside moves a spool file that is not a valid event to bad/, where
// it is kept for a person to look at and never loaded again.
func (q *Queue) moveAside(name string, why error) {
	bad := filepath.Join(q.spoolDir, "bad")
	from := filepath.Join(q.spoolDir, name)
	err := os.MkdirAll(bad, 0o700)
	if err == nil {
		err = os.Rename(from, filepath.Join(bad, name))
	}
	if err != nil {
		q.logf("spool file %s is not a valid event (%v) and could not be moved aside (%v); ignored", from, why, err)
		return
	}
	q.logf("spool file %s is not a valid event (%v); moved to %s", from, why, bad)
}
