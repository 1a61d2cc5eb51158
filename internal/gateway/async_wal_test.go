package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestAsyncSpoolWriteAhead: an accepted event's file is in the spool when
// Enqueue returns, before it runs; what a crash leaves (the spool as it
// is, the queue never closed) runs in full in the next queue; each file
// goes once its event has finished.
func TestAsyncSpoolWriteAhead(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	successes := filepath.Join(dir, "successes.jsonl")
	work := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "work", Concurrency: 1, Timeout: 5 * time.Second,
		Async: adapter.AsyncConfig{OnSuccess: adapter.Destination{File: successes}}})
	q1 := newQueue(t, map[string]*adapter.Function{"work": work}, gateway.QueueOptions{SpoolDir: spool})
	// The only instance is busy: the events wait in the lane.
	first, err := q1.Enqueue(work, &adapter.Request{Payload: []byte(`{"mode":"wait","ms":1500}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first event to run", func() bool { return work.Stats().Busy == 1 })
	const n = 8
	ids := map[string]bool{first: true}
	for i := range n {
		id, err := q1.Enqueue(work, &adapter.Request{Payload: []byte(fmt.Sprintf(`{"mode":"ok","field":"%d"}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	onDisk := spooledEvents(t, spool)
	for id := range ids {
		if _, ok := onDisk[id]; !ok {
			t.Fatalf("accepted event %s is not in the spool: %v", id, onDisk)
		}
	}

	// A crash now leaves these files: a copy of the spool, loaded by a
	// queue of a new process, runs every event.
	crashed := filepath.Join(dir, "crashed")
	os.MkdirAll(crashed, 0o700)
	for name, b := range spoolFiles(t, spool) {
		os.WriteFile(filepath.Join(crashed, name), b, 0o600)
	}
	replayed := filepath.Join(dir, "replayed.jsonl")
	work2 := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "work", Concurrency: 2, Timeout: 5 * time.Second,
		Async: adapter.AsyncConfig{OnSuccess: adapter.Destination{File: replayed}}})
	q2 := newQueue(t, map[string]*adapter.Function{"work": work2}, gateway.QueueOptions{SpoolDir: crashed})
	waitFor(t, "the crashed process's events to run", func() bool { return len(readRecords(t, replayed)) == n+1 })
	for _, r := range readRecords(t, replayed) {
		if !ids[r.RequestContext.RequestID] {
			t.Errorf("replayed an event never accepted: %s", r.RequestContext.RequestID)
		}
	}
	waitFor(t, "the replayed events' files to go", func() bool { return len(spoolFiles(t, crashed)) == 0 && q2.Depth() == 0 })

	// The first queue finishes its own and removes their files.
	waitFor(t, "the events to run", func() bool { return len(readRecords(t, successes)) == n+1 })
	waitFor(t, "their files to go", func() bool { return len(spoolFiles(t, spool)) == 0 })
}

// TestAsyncSpoolBadFiles: spool files that are not valid events (empty,
// truncated, a negative attempt count, wrong types, another version) are
// moved to bad/ with a log line; the valid one runs; nothing crashes.
func TestAsyncSpoolBadFiles(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	successes := filepath.Join(dir, "successes.jsonl")
	os.MkdirAll(spool, 0o700)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	valid := `{"version":1,"function":"work","requestId":"good-1","payload":"eyJtb2RlIjoib2sifQ==","enqueued":"` + now + `","attempts":0}`
	bad := map[string]string{
		"01-empty.json":     ``,
		"02-truncated.json": valid[:len(valid)/2],
		"03-negative.json":  strings.Replace(valid, `"attempts":0`, `"attempts":-5`, 1),
		"04-types.json":     strings.Replace(valid, `"attempts":0`, `"attempts":"many"`, 1),
		"05-version.json":   strings.Replace(valid, `"version":1`, `"version":7`, 1),
		"06-noid.json":      strings.Replace(valid, `"requestId":"good-1"`, `"requestId":""`, 1),
		"07-huge.json":      strings.Replace(valid, `"attempts":0`, `"attempts":9223372036854775807`, 1),
		"08-array.json":     `[1,2,3]`,
		"09-nulltime.json":  strings.Replace(valid, `"enqueued":"`+now+`"`, `"enqueued":null`, 1),
	}
	for name, content := range bad {
		os.WriteFile(filepath.Join(spool, name), []byte(content), 0o600)
	}
	os.WriteFile(filepath.Join(spool, "10-valid.json"), []byte(valid), 0o600)
	work := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "work",
		Async: adapter.AsyncConfig{OnSuccess: adapter.Destination{File: successes}}})
	var log sampletest.LogBuffer
	newQueue(t, map[string]*adapter.Function{"work": work}, gateway.QueueOptions{SpoolDir: spool, Log: &log})
	waitFor(t, "the valid event to run", func() bool { return len(readRecords(t, successes)) == 1 })
	for name := range bad {
		if _, err := os.Stat(filepath.Join(spool, "bad", name)); err != nil {
			t.Errorf("%s not moved aside: %v", name, err)
		}
		if !strings.Contains(log.String(), name) {
			t.Errorf("no log line for %s", name)
		}
	}
	if r := readRecords(t, successes)[0]; r.RequestContext.RequestID != "good-1" {
		t.Errorf("ran %+v", r.RequestContext)
	}
}

// TestAsyncSpoolUnwritable: a spool that cannot be created is an error at
// start; one that becomes unwritable refuses the event (a 5xx to the
// SDK), never a 202 for an event that is not kept.
func TestAsyncSpoolUnwritable(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	os.WriteFile(notADir, []byte("x"), 0o600)
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	functions := map[string]*adapter.Function{"hello": hello}
	if _, err := gateway.NewQueue(functions, gateway.QueueOptions{SpoolDir: filepath.Join(notADir, "spool")}); err == nil {
		t.Fatal("NewQueue over an unusable spool directory: no error")
	}

	spool := filepath.Join(dir, "spool")
	q := newQueue(t, functions, gateway.QueueOptions{SpoolDir: spool})
	s := gateway.NewServer()
	if err := s.Deploy(gateway.Deployment{Functions: functions, Queue: q}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("x", "y", "")})
	// The spool directory goes away and a file takes its place.
	os.RemoveAll(spool)
	os.WriteFile(spool, []byte("not a directory"), 0o600)
	_, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`"lost?"`)})
	if code := apiErrorCode(err); code != "ServiceException" {
		t.Fatalf("Event with an unwritable spool: %v", err)
	}
	if q.Depth() != 0 {
		t.Errorf("a refused event is held: depth %d", q.Depth())
	}
}

// TestAsyncPerFunctionShare: one function's backlog fills its own share
// of the queue only; other functions' events are still accepted.
func TestAsyncPerFunctionShare(t *testing.T) {
	slow := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "slow", Concurrency: 1, Timeout: 10 * time.Second})
	other := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "other"})
	functions := map[string]*adapter.Function{"slow": slow, "other": other}
	q := newQueue(t, functions, gateway.QueueOptions{Capacity: 10, SpoolDir: filepath.Join(t.TempDir(), "spool")})
	accepted := 0
	for range 20 {
		_, err := q.Enqueue(slow, &adapter.Request{Payload: []byte(`{"mode":"wait","ms":3000}`)})
		if errors.Is(err, gateway.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
	}
	if accepted != 5 {
		t.Errorf("slow's share: %d accepted, want 5 (10 / 2 functions)", accepted)
	}
	for i := range 5 {
		if _, err := q.Enqueue(other, &adapter.Request{Payload: []byte(`"x"`)}); err != nil {
			t.Fatalf("other's event %d refused while slow is backlogged: %v", i, err)
		}
	}

	explicit := newQueue(t, functions, gateway.QueueOptions{Capacity: 10, MaxQueuedPerFunction: 2})
	for i := range 3 {
		_, err := explicit.Enqueue(slow, &adapter.Request{Payload: []byte(`{"mode":"wait","ms":3000}`)})
		if (i < 2) != (err == nil) {
			t.Fatalf("maxQueued 2, event %d: %v", i, err)
		}
	}
}
