package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// asyncRecord is Lambda's asynchronous invocation record.
type asyncRecord struct {
	Version        string
	Timestamp      string
	RequestContext struct {
		RequestID              string
		FunctionArn            string
		Condition              string
		ApproximateInvokeCount int
	}
	RequestPayload  json.RawMessage
	ResponseContext *struct {
		StatusCode      int
		ExecutedVersion string
		FunctionError   string
	}
	ResponsePayload json.RawMessage
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readRecords parses a JSON-lines destination file; a missing file has no
// records.
func readRecords(t *testing.T, path string) []asyncRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var recs []asyncRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r asyncRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return recs
}

func newQueue(t *testing.T, functions map[string]*adapter.Function, opts gateway.QueueOptions) *gateway.Queue {
	t.Helper()
	q, err := gateway.NewQueue(functions, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	return q
}

type attempt struct {
	function  string
	n         int
	requestID string
	errorType string
	at        time.Time
}

// attempts collects every attempt the queue reports.
func attempts(q *gateway.Queue) chan attempt {
	ch := make(chan attempt, 100)
	q.OnAttempt(func(function string, n int, res *adapter.Result) {
		ch <- attempt{function, n, res.RequestID, res.ErrorType, time.Now()}
	})
	return ch
}

func nextAttempt(t *testing.T, ch chan attempt) attempt {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(60 * time.Second):
		t.Fatal("timed out waiting for an attempt")
		return attempt{}
	}
}

func jsonEqual(t *testing.T, what string, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v: %s", what, err, got)
	}
	if fmt.Sprint(w) != fmt.Sprint(g) {
		t.Fatalf("%s: want %s, got %s", what, want, got)
	}
}

// TestAsyncRetriesExhausted: an event whose function fails is tried three
// times with the same request id, the retries no sooner than RetryDelays,
// then its record lands in the onFailure file.
func TestAsyncRetriesExhausted(t *testing.T) {
	failures := filepath.Join(t.TempDir(), "failures.jsonl")
	delays := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}
	f := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "errors", Async: adapter.AsyncConfig{
		RetryDelays: delays,
		OnFailure:   adapter.Destination{File: failures},
	}})
	var log sampletest.LogBuffer
	q := newQueue(t, map[string]*adapter.Function{"errors": f}, gateway.QueueOptions{Log: &log})
	seen := attempts(q)

	const payload = `{"mode":"error","field":"email"}`
	id, err := q.Enqueue(f, &adapter.Request{Payload: []byte(payload)})
	if err != nil || id == "" {
		t.Fatalf("Enqueue: %q, %v", id, err)
	}
	var got []attempt
	for i := 0; i < 3; i++ {
		a := nextAttempt(t, seen)
		if a.function != "errors" || a.n != i+1 || a.requestID != id || a.errorType != "ValidationError" {
			t.Fatalf("attempt %d: %+v (request %s)", i+1, a, id)
		}
		got = append(got, a)
	}
	for i, d := range delays {
		if gap := got[i+1].at.Sub(got[i].at); gap < d {
			t.Errorf("retry %d came %v after attempt %d; RetryDelays says %v", i+1, gap, i+1, d)
		}
	}
	waitFor(t, "the onFailure record", func() bool { return len(readRecords(t, failures)) == 1 && q.Depth() == 0 })
	select {
	case a := <-seen:
		t.Fatalf("a fourth attempt: %+v", a)
	default:
	}

	r := readRecords(t, failures)[0]
	rc := r.RequestContext
	if r.Version != "1.0" || rc.RequestID != id || rc.Condition != "RetriesExhausted" || rc.ApproximateInvokeCount != 3 ||
		rc.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:errors:$LATEST" {
		t.Fatalf("record: %+v", r)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", r.Timestamp, err)
	}
	jsonEqual(t, "requestPayload", payload, r.RequestPayload)
	if r.ResponseContext == nil || r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" ||
		r.ResponseContext.FunctionError != "Unhandled" {
		t.Fatalf("responseContext: %+v", r.ResponseContext)
	}
	var doc struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(r.ResponsePayload, &doc); err != nil || doc.ErrorType != "ValidationError" || doc.ErrorMessage != "invalid field: email" {
		t.Fatalf("responsePayload %s: %v", r.ResponsePayload, err)
	}
	for _, want := range []string{"attempt 1 failed (ValidationError); retry 1 of 2", "attempt 2 failed (ValidationError); retry 2 of 2",
		"RetriesExhausted after 3 attempts; record appended to " + failures} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestAsyncEventAgeExceeded: a retry that would come after MaxEventAge is
// not made.
func TestAsyncEventAgeExceeded(t *testing.T) {
	failures := filepath.Join(t.TempDir(), "failures.jsonl")
	f := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "errors", Async: adapter.AsyncConfig{
		RetryDelays: []time.Duration{time.Hour},
		MaxEventAge: time.Minute,
		OnFailure:   adapter.Destination{File: failures},
	}})
	q := newQueue(t, map[string]*adapter.Function{"errors": f}, gateway.QueueOptions{})
	id, err := q.Enqueue(f, &adapter.Request{Payload: []byte(`{"mode":"string"}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the onFailure record", func() bool { return len(readRecords(t, failures)) == 1 && q.Depth() == 0 })
	rc := readRecords(t, failures)[0].RequestContext
	if rc.RequestID != id || rc.Condition != "EventAgeExceeded" || rc.ApproximateInvokeCount != 1 {
		t.Fatalf("record: %+v", rc)
	}
}

// TestAsyncOnSuccessToFunction: hello's success record is queued to
// ctxecho as its event; ctxecho's own success record lands in a file.
func TestAsyncOnSuccessToFunction(t *testing.T) {
	successes := filepath.Join(t.TempDir(), "successes.jsonl")
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello", Async: adapter.AsyncConfig{
		OnSuccess: adapter.Destination{Function: "ctxecho"},
	}})
	ctxecho := sampletest.Load(t, "../../adapter/testdata/ctxecho", adapter.Config{Name: "ctxecho", Async: adapter.AsyncConfig{
		OnSuccess: adapter.Destination{File: successes},
	}})
	q := newQueue(t, map[string]*adapter.Function{"hello": hello, "ctxecho": ctxecho}, gateway.QueueOptions{})
	id, err := q.Enqueue(hello, &adapter.Request{Payload: []byte(`"async"`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ctxecho's onSuccess record", func() bool { return len(readRecords(t, successes)) == 1 && q.Depth() == 0 })

	outer := readRecords(t, successes)[0]
	if rc := outer.RequestContext; rc.Condition != "Success" || rc.ApproximateInvokeCount != 1 || rc.RequestID == id ||
		rc.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:ctxecho:$LATEST" {
		t.Fatalf("ctxecho's record: %+v", rc)
	}
	if outer.ResponseContext == nil || outer.ResponseContext.FunctionError != "" {
		t.Fatalf("ctxecho's responseContext: %+v", outer.ResponseContext)
	}
	var reply struct {
		Context struct{ AwsRequestID string }
		Event   json.RawMessage
	}
	if err := json.Unmarshal(outer.ResponsePayload, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Context.AwsRequestID != outer.RequestContext.RequestID {
		t.Fatalf("ctxecho ran as %s, its record says %s", reply.Context.AwsRequestID, outer.RequestContext.RequestID)
	}
	// ctxecho's event is hello's record.
	var inner asyncRecord
	if err := json.Unmarshal(reply.Event, &inner); err != nil {
		t.Fatal(err)
	}
	if rc := inner.RequestContext; rc.RequestID != id || rc.Condition != "Success" || rc.ApproximateInvokeCount != 1 ||
		rc.FunctionArn != "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST" {
		t.Fatalf("hello's record: %+v", rc)
	}
	if string(inner.RequestPayload) != `"async"` || string(inner.ResponsePayload) != `"Hello async!"` ||
		inner.ResponseContext == nil || inner.ResponseContext.FunctionError != "" {
		t.Fatalf("hello's record: %s → %s (%+v)", inner.RequestPayload, inner.ResponsePayload, inner.ResponseContext)
	}
}

// TestAsyncQueueFullAndClosed: a full queue refuses events; Close without
// a spool reports the events it lost; a closed queue refuses events.
func TestAsyncQueueFullAndClosed(t *testing.T) {
	f := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "errors", Async: adapter.AsyncConfig{
		RetryDelays: []time.Duration{time.Hour},
	}})
	q, err := gateway.NewQueue(map[string]*adapter.Function{"errors": f}, gateway.QueueOptions{Capacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := attempts(q)
	var ids []string
	for i := 0; i < 2; i++ {
		id, err := q.Enqueue(f, &adapter.Request{Payload: []byte(`{"mode":"error"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := q.Enqueue(f, &adapter.Request{Payload: []byte(`{"mode":"ok"}`)}); !errors.Is(err, gateway.ErrQueueFull) {
		t.Fatalf("third event: %v, want ErrQueueFull", err)
	}
	nextAttempt(t, seen)
	nextAttempt(t, seen) // both wait an hour for their retry now
	if d := q.Depth(); d != 2 {
		t.Fatalf("Depth %d, want 2", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = q.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 events not finished and lost") ||
		!strings.Contains(err.Error(), ids[0]) || !strings.Contains(err.Error(), ids[1]) {
		t.Fatalf("Close: %v", err)
	}
	if _, err := q.Enqueue(f, &adapter.Request{Payload: []byte(`{"mode":"ok"}`)}); !errors.Is(err, gateway.ErrQueueClosed) {
		t.Fatalf("after Close: %v, want ErrQueueClosed", err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// spoolFiles lists the spool directory's files.
func spoolFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // its event finished between the listing and the read
		}
		if err != nil {
			t.Fatal(err)
		}
		files[de.Name()] = b
	}
	return files
}

type spooled struct {
	Function, RequestID string
	Trigger             string
	Attempts            int
	Enqueued, Due       time.Time
	LastErrorType       string
}

func spooledEvents(t *testing.T, dir string) map[string]spooled {
	t.Helper()
	events := map[string]spooled{}
	for name, b := range spoolFiles(t, dir) {
		if !strings.HasSuffix(name, ".json") {
			t.Fatalf("unexpected spool file %s", name)
		}
		var e spooled
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		events[e.RequestID] = e
	}
	return events
}

// TestAsyncSpoolRestart: events that could not run before Close (queued
// behind a busy function, or waiting for a retry) are spooled; the next
// queue loads them, empties the spool and runs each exactly once.
func TestAsyncSpoolRestart(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	successes := filepath.Join(dir, "successes.jsonl")
	var log sampletest.LogBuffer

	// First run: "work" has one instance, busy with a synchronous
	// invocation; "flaky" fails and waits an hour for its retry.
	work1 := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "work", Concurrency: 1, Timeout: 2 * time.Second})
	flaky1 := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "flaky", Async: adapter.AsyncConfig{
		RetryDelays: []time.Duration{time.Hour},
	}})
	q1 := newQueue(t, map[string]*adapter.Function{"work": work1, "flaky": flaky1}, gateway.QueueOptions{SpoolDir: spool, Log: &log})
	seen := attempts(q1)
	before := time.Now()
	flakyID, err := q1.Enqueue(flaky1, &adapter.Request{Payload: []byte(`{"mode":"error"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if a := nextAttempt(t, seen); a.requestID != flakyID {
		t.Fatalf("attempt %+v", a)
	}

	busy := make(chan struct{})
	go func() {
		defer close(busy)
		work1.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"mode":"sleep"}`)})
	}()
	t.Cleanup(func() { <-busy }) // before work1 is closed
	waitFor(t, "work's instance to be busy", func() bool { return work1.Stats().Busy == 1 })

	const n = 12
	payloads := map[string]string{}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf(`{"mode":"ok","field":"%d"}`, i)
		id, err := q1.Enqueue(work1, &adapter.Request{Payload: []byte(p)})
		if err != nil {
			t.Fatal(err)
		}
		payloads[id] = p
	}
	if d := q1.Depth(); d != n+1 {
		t.Fatalf("Depth %d, want %d", d, n+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := q1.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case a := <-seen:
		t.Fatalf("an attempt ran: %+v", a)
	default:
	}

	events := spooledEvents(t, spool)
	if len(events) != n+1 {
		t.Fatalf("%d events spooled, want %d", len(events), n+1)
	}
	for id := range payloads {
		if e := events[id]; e.Function != "work" || e.Attempts != 0 || !e.Due.IsZero() || e.Trigger != adapter.TriggerEvent {
			t.Fatalf("spooled work event: %+v", e)
		}
	}
	fe := events[flakyID]
	if fe.Function != "flaky" || fe.Attempts != 1 || fe.LastErrorType != "ValidationError" ||
		fe.Enqueued.Before(before) || fe.Due.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("spooled flaky event: %+v", fe)
	}

	// Second run, over the same spool.
	work2 := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "work", Concurrency: 4, Async: adapter.AsyncConfig{
		OnSuccess: adapter.Destination{File: successes},
	}})
	flaky2 := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "flaky", Async: adapter.AsyncConfig{
		RetryDelays: []time.Duration{time.Hour},
	}})
	q2 := newQueue(t, map[string]*adapter.Function{"work": work2, "flaky": flaky2}, gateway.QueueOptions{SpoolDir: spool, Log: &log})
	waitFor(t, "the spooled events to run", func() bool { return len(readRecords(t, successes)) == n && q2.Depth() == 1 })
	// Each file stays until its event's outcome: only the retry's is left.
	waitFor(t, "finished events' files to go", func() bool { return len(spoolFiles(t, spool)) == 1 })
	count := map[string]int{}
	for _, r := range readRecords(t, successes) {
		id := r.RequestContext.RequestID
		count[id]++
		if r.RequestContext.Condition != "Success" || r.RequestContext.ApproximateInvokeCount != 1 {
			t.Fatalf("record: %+v", r.RequestContext)
		}
		jsonEqual(t, "requestPayload", payloads[id], r.RequestPayload)
		jsonEqual(t, "responsePayload", `{"ok":true}`, r.ResponsePayload)
	}
	for id := range payloads {
		if count[id] != 1 {
			t.Errorf("event %s ran %d times", id, count[id])
		}
	}

	// The retry still waiting is spooled again as it was.
	if err := q2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	events = spooledEvents(t, spool)
	if e, ok := events[flakyID]; len(events) != 1 || !ok || e.Attempts != 1 || !e.Enqueued.Equal(fe.Enqueued) || !e.Due.Equal(fe.Due) {
		t.Fatalf("respooled: %+v", events)
	}
	if !strings.Contains(log.String(), "loaded flaky "+flakyID) || !strings.Contains(log.String(), "spooled flaky "+flakyID) {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestAsyncCloseWhileRunning: an attempt still running when Close's
// context ends is spooled (it will run again), and its outcome is ignored.
func TestAsyncCloseWhileRunning(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	failures := filepath.Join(dir, "failures.jsonl")
	f := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "slow", Timeout: 500 * time.Millisecond, Async: adapter.AsyncConfig{
		RetryDelays: []time.Duration{},
		OnFailure:   adapter.Destination{File: failures},
	}})
	var log sampletest.LogBuffer
	q := newQueue(t, map[string]*adapter.Function{"slow": f}, gateway.QueueOptions{SpoolDir: spool, Log: &log})
	id, err := q.Enqueue(f, &adapter.Request{Payload: []byte(`{"mode":"sleep"}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt to start", func() bool { return f.Stats().Busy == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if e, ok := spooledEvents(t, spool)[id]; !ok || e.Attempts != 0 {
		t.Fatalf("spool: %+v", spooledEvents(t, spool))
	}
	waitFor(t, "the attempt to end", func() bool { return strings.Contains(log.String(), "ended after Close spooled the event") })
	if recs := readRecords(t, failures); len(recs) != 0 {
		t.Fatalf("a record for a spooled event: %+v", recs)
	}
}

// TestAsyncConfigErrors: destinations must exist.
func TestAsyncConfigErrors(t *testing.T) {
	f := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello", Async: adapter.AsyncConfig{
		OnFailure: adapter.Destination{Function: "missing"},
	}})
	if _, err := gateway.NewQueue(map[string]*adapter.Function{"hello": f}, gateway.QueueOptions{}); err == nil ||
		!strings.Contains(err.Error(), `no function "missing"`) {
		t.Fatalf("NewQueue: %v", err)
	}
	_, err := sampletest.Engine(t).Load(context.Background(), []byte("\x00asm\x01\x00\x00\x00"), adapter.Config{Async: adapter.AsyncConfig{
		OnSuccess: adapter.Destination{Function: "a", File: "b"},
	}})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("Load: %v", err)
	}
}
