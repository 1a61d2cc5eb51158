package azurehost

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

const sampleApp = "../../samples/azure-app"

// records collects what Options.Observe sees.
type records struct {
	mu   sync.Mutex
	all  []*Record
	cond *sync.Cond
}

func newRecords() *records {
	r := &records{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *records) observe(rec *Record) {
	r.mu.Lock()
	r.all = append(r.all, rec)
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *records) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// wait returns the records of function once there are n, or fails after
// 30 s.
func (r *records) wait(t *testing.T, function string, n int) []*Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		var got []*Record
		for _, rec := range r.all {
			if rec.Function == function {
				got = append(got, rec)
			}
		}
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d invocations after 30 s, want %d", function, len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fixture struct {
	app  *azure.App
	fn   *adapter.Function
	host *Host
	srv  *httptest.Server
	recs *records
	log  *sampletest.LogBuffer
}

// start serves the sample app; opts.Observe and opts.Log are filled in.
func start(t *testing.T, opts Options, env map[string]string) *fixture {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	app, err := azure.Load(sampleApp, getenv)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{app: app, recs: newRecords(), log: &sampletest.LogBuffer{}}
	fx.fn = sampletest.Load(t, sampleApp, FunctionConfig(app, nil))
	opts.Observe = fx.recs.observe
	opts.Log = fx.log
	if opts.Keys.Functions == nil && opts.Keys.Host == nil {
		opts.Keys = Keys{Functions: map[string][]string{"HttpExample": {"right-key"}}}
	}
	fx.host, err = NewHost(app, fx.fn, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.host.Start()
	t.Cleanup(func() { fx.host.Close(context.Background()) })
	fx.srv = httptestServer(t, fx.host.Handler())
	return fx
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (fx *fixture) do(t *testing.T, method, path string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// invocation decodes the document a record sent to the handler.
func invocation(t *testing.T, rec *Record) (data map[string]json.RawMessage, meta map[string]json.RawMessage) {
	t.Helper()
	var doc struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(rec.Request.Body, &doc); err != nil {
		t.Fatalf("invocation body: %v: %s", err, rec.Request.Body)
	}
	return doc.Data, doc.Metadata
}

func TestHTTPTriggerPayload(t *testing.T) {
	fx := start(t, Options{}, nil)
	binary := []byte{0xff, 0x00, 0xfe, 'x'}
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		header http.Header
		want   events.AzureHTTPRequest
	}{
		{
			name: "GET with query, repeated headers", method: "GET",
			path:   "/api/HttpExample?name=ferry&x=1&x=2&code=right-key",
			header: http.Header{"Accept": {"text/plain", "application/json"}, "X-Custom": {"a"}},
			want: events.AzureHTTPRequest{Method: "GET", Query: map[string]string{"name": "ferry", "x": "1,2", "code": "right-key"},
				Params: map[string]string{}, Identities: []any{}},
		},
		{
			name: "POST with a route parameter and a JSON body", method: "POST",
			path:   "/api/HttpExample/books",
			body:   []byte(`{"name":"ferry"}`),
			header: http.Header{"Content-Type": {"application/json"}, "X-Functions-Key": {"right-key"}},
			want: events.AzureHTTPRequest{Method: "POST", Query: map[string]string{},
				Params: map[string]string{"category": "books"}, Identities: []any{}, Body: `{"name":"ferry"}`},
		},
		{
			name: "POST with a binary body", method: "POST",
			path:   "/api/HttpExample?name=bin",
			body:   binary,
			header: http.Header{"Content-Type": {"application/octet-stream"}, "X-Functions-Key": {"right-key"}},
			want: events.AzureHTTPRequest{Method: "POST", Query: map[string]string{"name": "bin"},
				Params: map[string]string{}, Identities: []any{}, Body: "/wD+eA=="},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = strings.NewReader(string(tt.body))
			}
			resp, out := fx.do(t, tt.method, tt.path, body, tt.header)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s\n%s", resp.StatusCode, out, fx.log)
			}
			rec := fx.recs.wait(t, "HttpExample", i+1)[i]
			if rec.Request.Method != "POST" || rec.Request.URL != "/HttpExample" ||
				rec.Request.Header["X-Azure-Functions-Invocationid"][0] != rec.InvocationID ||
				rec.Request.Header["Content-Type"][0] != "application/json" {
				t.Errorf("envelope: %s %s %v", rec.Request.Method, rec.Request.URL, rec.Request.Header)
			}
			data, meta := invocation(t, rec)
			if len(data) != 1 || data["req"] == nil {
				t.Fatalf("Data: want exactly req, got %s", rec.Request.Body)
			}
			var got events.AzureHTTPRequest
			var raw map[string]json.RawMessage
			json.Unmarshal(data["req"], &raw)
			for _, k := range []string{"Url", "Method", "Query", "Headers", "Params", "Identities", "Body"} {
				if raw[k] == nil {
					t.Errorf("req has no %s: %s", k, data["req"])
				}
			}
			if err := json.Unmarshal(data["req"], &got); err != nil {
				t.Fatal(err)
			}
			if got.URL != fx.srv.URL+tt.path {
				t.Errorf("Url %q, want %q", got.URL, fx.srv.URL+tt.path)
			}
			for k, v := range tt.header {
				if !reflect.DeepEqual(got.Headers[k], v) {
					t.Errorf("Headers[%s] = %q, want %q", k, got.Headers[k], v)
				}
			}
			got.URL, got.Headers = "", nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("req:\n got %+v\nwant %+v", got, tt.want)
			}
			var sys events.AzureSys
			if err := json.Unmarshal(meta["sys"], &sys); err != nil || sys.MethodName != "HttpExample" || len(sys.RandGuid) != 36 {
				t.Errorf("Metadata.sys = %s (%v)", meta["sys"], err)
			}
			if _, err := time.Parse(time.RFC3339Nano, sys.UtcNow); err != nil {
				t.Errorf("sys.UtcNow %q: %v", sys.UtcNow, err)
			}
			var mq map[string]string
			if json.Unmarshal(meta["Query"], &mq); !reflect.DeepEqual(mq, tt.want.Query) {
				t.Errorf("Metadata.Query = %s", meta["Query"])
			}
			if c := tt.want.Params["category"]; c != "" && string(meta["category"]) != `"`+c+`"` {
				t.Errorf("Metadata.category = %s", meta["category"])
			}
		})
	}
}

func TestHTTPResponseAndQueueChain(t *testing.T) {
	fx := start(t, Options{}, nil)
	resp, body := fx.do(t, "POST", "/api/HttpExample/books", strings.NewReader(`{"name":"Ada"}`), http.Header{"X-Functions-Key": {"right-key"}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Handler") != "go" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	var reply struct{ Greeting, Category string }
	if err := json.Unmarshal(body, &reply); err != nil || !strings.Contains(reply.Greeting, "Hello, Ada.") || reply.Category != "books" {
		t.Fatalf("body %s (%v)", body, err)
	}
	http1 := fx.recs.wait(t, "HttpExample", 1)[0]
	q := fx.recs.wait(t, "QueueExample", 1)[0]
	if q.Err != nil {
		t.Fatalf("QueueExample failed: %v\n%s", q.Err, fx.log)
	}
	data, meta := invocation(t, q)
	var item string
	if err := json.Unmarshal(data["myQueueItem"], &item); err != nil {
		t.Fatalf("myQueueItem %s is not a JSON string", data["myQueueItem"])
	}
	var msg map[string]string
	if err := json.Unmarshal([]byte(item), &msg); err != nil || msg["name"] != "Ada" || msg["invocationId"] != http1.InvocationID {
		t.Errorf("message %q (%v), want the output of invocation %s", item, err, http1.InvocationID)
	}
	if string(meta["DequeueCount"]) != "1" {
		t.Errorf("DequeueCount %s, want 1", meta["DequeueCount"])
	}
	for _, k := range []string{"Id", "PopReceipt", "InsertionTime", "ExpirationTime", "NextVisibleTime"} {
		var s string
		if json.Unmarshal(meta[k], &s); s == "" {
			t.Errorf("Metadata.%s missing: %s", k, q.Request.Body)
		}
	}
	if _, err := time.Parse(time.RFC3339, strings.Trim(string(meta["InsertionTime"]), `"`)); err != nil {
		t.Errorf("InsertionTime: %v", err)
	}
	if !strings.Contains(fx.log.String(), "QueueExample: message") || !strings.Contains(fx.log.String(), q.InvocationID) {
		t.Errorf("the handler's Logs are not in the log with the invocation id:\n%s", fx.log)
	}
	// Deleted once processed.
	time.Sleep(50 * time.Millisecond)
	if n := len(fx.host.Queues().Peek("outqueue")); n != 0 {
		t.Errorf("outqueue holds %d messages after processing", n)
	}
	// A 400 from the handler's http output is passed on, and is not a failure.
	resp, body = fx.do(t, "GET", "/api/HttpExample?code=right-key", nil, nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "Pass a name") || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("no name: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A method not in "methods" is a 404; so is an unknown route.
	if resp, _ := fx.do(t, "DELETE", "/api/HttpExample?code=right-key", nil, nil); resp.StatusCode != 404 {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
}

func TestQueuePoison(t *testing.T) {
	fx := start(t, Options{}, nil)
	resp, body := fx.do(t, "POST", "/admin/queues/outqueue/messages", strings.NewReader("<QueueMessage><MessageText>a poison message</MessageText></QueueMessage>"), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	recs := fx.recs.wait(t, "QueueExample", 5)
	for i, rec := range recs {
		_, meta := invocation(t, rec)
		if rec.Err == nil || string(meta["DequeueCount"]) != strings.TrimSpace(string(rune('1'+i))) {
			t.Errorf("try %d: DequeueCount %s, err %v", i+1, meta["DequeueCount"], rec.Err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(fx.host.Queues().Peek("outqueue-poison")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	poison := fx.host.Queues().Peek("outqueue-poison")
	if len(poison) != 1 || poison[0].Text != "a poison message" {
		t.Fatalf("outqueue-poison: %+v\n%s", poison, fx.log)
	}
	if n := len(fx.host.Queues().Peek("outqueue")); n != 0 {
		t.Errorf("outqueue still holds %d messages", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(fx.recs.wait(t, "QueueExample", 5)); n != 5 {
		t.Errorf("%d tries, want 5", n)
	}
	if !strings.Contains(fx.log.String(), "Message has reached MaxDequeueCount of 5. Moving message to queue 'outqueue-poison'.") {
		t.Errorf("log:\n%s", fx.log)
	}
	// The poison queue can be read over HTTP.
	resp, body = fx.do(t, "GET", "/admin/queues/outqueue-poison/messages", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"MessageText":"a poison message"`) {
		t.Errorf("peek: %d %s", resp.StatusCode, body)
	}
}

func TestFunctionKeys(t *testing.T) {
	fx := start(t, Options{Keys: Keys{Host: []string{"host-key"}, Functions: map[string][]string{"HttpExample": {"fn-key"}}}}, nil)
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"no key", "/api/HttpExample?name=a", nil, 401},
		{"wrong key in the header", "/api/HttpExample?name=a", http.Header{"X-Functions-Key": {"nope"}}, 401},
		{"wrong code", "/api/HttpExample?name=a&code=nope", nil, 401},
		{"function key in the header", "/api/HttpExample?name=a", http.Header{"X-Functions-Key": {"fn-key"}}, 200},
		{"function key as code", "/api/HttpExample?name=a&code=fn-key", nil, 200},
		{"host key", "/api/HttpExample?name=a&code=host-key", nil, 200},
	} {
		resp, body := fx.do(t, "GET", tt.path, nil, tt.header)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.name, resp.StatusCode, tt.want, body)
		}
		// Azure's 401 is empty; ferry's says why and where keys come
		// from, and logs it, never echoing a key.
		if tt.want == 401 && (!strings.Contains(string(body), "FERRY_AZURE_FUNCTION_KEYS_HttpExample") || strings.Contains(string(body), "nope")) {
			t.Errorf("%s: 401 with body %q", tt.name, body)
		}
	}
	if got := strings.Count(fx.log.String(), "401 Unauthorized: function HttpExample has authLevel function"); got != 3 {
		t.Errorf("%d 401 log lines, want 3:\n%s", got, fx.log)
	}
	for _, line := range strings.Split(fx.log.String(), "\n") {
		if strings.Contains(line, "401") && (strings.Contains(line, "nope") || strings.Contains(line, "key=")) {
			t.Errorf("a key in the 401 log line: %s", line)
		}
	}
	if n := len(fx.recs.wait(t, "HttpExample", 3)); n != 3 {
		t.Errorf("%d invocations, want 3 (a refused request must not run)", n)
	}
}

func TestTimer(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 2, 10, 1, 30, 0, time.UTC)
	clock := NewManualClock(t0)
	fx := start(t, Options{Clock: clock, StateDir: dir}, nil)
	waitTimer(t, clock)
	if n := fx.recs.count(); n != 0 {
		t.Fatalf("%d invocations before the first occurrence", n)
	}
	first := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	clock.Set(first.Add(-time.Second))
	time.Sleep(20 * time.Millisecond)
	if n := fx.recs.count(); n != 0 {
		t.Fatalf("fired a second early")
	}
	clock.Set(first)
	rec := fx.recs.wait(t, "TimerExample", 1)[0]
	checkTimer(t, rec, false, "0001-01-01T00:00:00", "2026-03-02T10:05:00+00:00")
	waitTimer(t, clock)
	clock.Set(first.Add(5 * time.Minute))
	rec = fx.recs.wait(t, "TimerExample", 2)[1]
	checkTimer(t, rec, false, "2026-03-02T10:05:00+00:00", "2026-03-02T10:10:00+00:00")
	if !strings.Contains(fx.log.String(), "TimerExample: IsPastDue=false Last=2026-03-02T10:05:00+00:00 Next=2026-03-02T10:10:00+00:00") {
		t.Errorf("log:\n%s", fx.log)
	}

	// The app stops at 10:12 and starts again at 10:31: the 10:15
	// occurrence was missed, so it runs at once, past due.
	waitTimer(t, clock)
	clock.Set(first.Add(7 * time.Minute))
	fx.host.Close(context.Background())
	clock2 := NewManualClock(time.Date(2026, 3, 2, 10, 31, 0, 0, time.UTC))
	fx2 := start(t, Options{Clock: clock2, StateDir: dir}, nil)
	rec = fx2.recs.wait(t, "TimerExample", 1)[0]
	checkTimer(t, rec, true, "2026-03-02T10:10:00+00:00", "2026-03-02T10:15:00+00:00")
	waitTimer(t, clock2)
	clock2.Set(time.Date(2026, 3, 2, 10, 35, 0, 0, time.UTC))
	rec = fx2.recs.wait(t, "TimerExample", 2)[1]
	checkTimer(t, rec, false, "2026-03-02T10:15:00+00:00", "2026-03-02T10:35:00+00:00")
}

// waitTimer waits until the timer goroutine waits on the clock.
func waitTimer(t *testing.T, c *ManualClock) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the timer never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

func checkTimer(t *testing.T, rec *Record, pastDue bool, last, next string) {
	t.Helper()
	if rec.Err != nil {
		t.Fatalf("timer invocation failed: %v", rec.Err)
	}
	data, _ := invocation(t, rec)
	var info events.AzureTimerInfo
	if err := json.Unmarshal(data["myTimer"], &info); err != nil || info.ScheduleStatus == nil {
		t.Fatalf("myTimer %s: %v", data["myTimer"], err)
	}
	if info.IsPastDue != pastDue || info.ScheduleStatus.Last != last || info.ScheduleStatus.Next != next || !info.Schedule.AdjustForDST {
		t.Errorf("myTimer %s: want IsPastDue %v, Last %s, Next %s", data["myTimer"], pastDue, last, next)
	}
}

func TestQueueMessagesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	// Messages put while nothing consumes them (the host is not started)
	// are on disk; a leased one (a crash mid-invocation) is visible again.
	qs, err := OpenQueues(dir+"/queues", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{`{"name":"one"}`, `{"name":"two"}`} {
		if _, err := qs.Put("outqueue", text, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if m, _, _ := qs.get("outqueue", time.Hour); m == nil || m.DequeueCount != 1 {
		t.Fatalf("get: %+v", m)
	}
	qs2, err := OpenQueues(dir+"/queues", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := qs2.Peek("outqueue")
	if len(got) != 2 || got[0].Text != `{"name":"one"}` || got[0].DequeueCount != 1 || got[1].DequeueCount != 0 || got[0].NextVisibleTime.After(time.Now()) {
		t.Fatalf("after reopening: %+v", got)
	}
	fx := start(t, Options{StateDir: dir}, nil)
	recs := fx.recs.wait(t, "QueueExample", 2)
	counts := map[string]string{}
	for _, rec := range recs {
		data, meta := invocation(t, rec)
		counts[string(data["myQueueItem"])] = string(meta["DequeueCount"])
	}
	if counts[`"{\"name\":\"one\"}"`] != "2" || counts[`"{\"name\":\"two\"}"`] != "1" {
		t.Errorf("dequeue counts %v", counts)
	}
}

// TestAdminRunFunction: with NoTimers, a past-due timer does not fire at
// start; POST /admin/functions/{name} runs it once (master key required),
// and runs a queue-triggered function with the input as the message.
func TestAdminRunFunction(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "timers"), 0o700)
	status := `{"Last":"2026-03-02T10:05:00Z","Next":"2026-03-02T10:10:00Z","LastUpdated":"2026-03-02T10:05:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, "timers", "TimerExample.json"), []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(time.Date(2026, 3, 2, 10, 31, 0, 0, time.UTC))
	fx := start(t, Options{Clock: clock, StateDir: dir, NoTimers: true, Keys: Keys{Master: "mk", Host: []string{"hk"}}}, nil)
	key := http.Header{"X-Functions-Key": {"mk"}, "Content-Type": {"application/json"}}
	for _, tt := range []struct {
		name, path, body string
		header           http.Header
		want             int
	}{
		{"no key", "/admin/functions/TimerExample", `{}`, nil, 401},
		{"a host key", "/admin/functions/TimerExample", `{}`, http.Header{"X-Functions-Key": {"hk"}}, 401},
		{"no such function", "/admin/functions/Nope", `{}`, key, 404},
		{"an HTTP function", "/admin/functions/HttpExample", `{}`, key, 400},
		{"not JSON", "/admin/functions/QueueExample", `input`, key, 400},
		{"an object input", "/admin/functions/QueueExample", `{"input":{"a":1}}`, key, 400},
	} {
		resp, body := fx.do(t, "POST", tt.path, strings.NewReader(tt.body), tt.header)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.name, resp.StatusCode, tt.want, body)
		}
	}
	if n := fx.recs.count(); n != 0 {
		t.Fatalf("%d invocations before any run was asked for (NoTimers: the past-due timer must not fire)", n)
	}
	resp, body := fx.do(t, "POST", "/admin/functions/timerexample", strings.NewReader(`{"input":""}`), key)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("timer: %d %s", resp.StatusCode, body)
	}
	rec := fx.recs.wait(t, "TimerExample", 1)[0]
	checkTimer(t, rec, false, "2026-03-02T10:05:00+00:00", "2026-03-02T10:35:00+00:00")
	resp, body = fx.do(t, "POST", "/admin/functions/QueueExample", strings.NewReader(`{"input":"{\"category\":\"manual\"}"}`), key)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("queue: %d %s", resp.StatusCode, body)
	}
	data, meta := invocation(t, fx.recs.wait(t, "QueueExample", 1)[0])
	if string(data["myQueueItem"]) != `"{\"category\":\"manual\"}"` || string(meta["DequeueCount"]) != "1" {
		t.Errorf("queue invocation %s %s", data["myQueueItem"], meta["DequeueCount"])
	}
	if err := fx.host.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.recs.wait(t, "TimerExample", 1)); n != 1 || clock.Waiters() != 0 {
		t.Errorf("%d timer invocations, %d clock waiters; want 1 and 0", n, clock.Waiters())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "timers", "TimerExample.json"))
	if !strings.Contains(string(b), `"Last":"2026-03-02T10:31:00Z"`) {
		t.Errorf("status after the run: %s", b)
	}
	if resp, _ := fx.do(t, "POST", "/admin/functions/TimerExample", strings.NewReader(`{}`), key); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d", resp.StatusCode)
	}
}

// TestQueueFilesAreUntrusted: message files that are empty, truncated,
// of the wrong types or out of range move to bad/ with a log line; the
// valid one is served; the host starts.
func TestQueueFilesAreUntrusted(t *testing.T) {
	dir := t.TempDir()
	qs, err := OpenQueues(dir+"/queues", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qs.Put("outqueue", `{"name":"kept"}`, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	qdir := filepath.Join(dir, "queues", "outqueue")
	var valid []byte
	des, _ := os.ReadDir(qdir)
	for _, de := range des {
		valid, _ = os.ReadFile(filepath.Join(qdir, de.Name()))
	}
	bad := map[string]string{
		"empty.json":     "",
		"truncated.json": string(valid[:len(valid)/2]),
		"types.json":     `{"ID":"x","DequeueCount":"two"}`,
		"negative.json":  strings.Replace(string(valid), `"DequeueCount":0`, `"DequeueCount":-3`, 1),
		"noid.json":      `{"Text":"x"}`,
		"notimes.json":   `{"ID":"y","Text":"x"}`,
	}
	for name, content := range bad {
		os.WriteFile(filepath.Join(qdir, name), []byte(content), 0o600)
	}
	var log strings.Builder
	qs2, err := OpenQueues(dir+"/queues", nil)
	if err != nil {
		t.Fatalf("a bad file stopped the start: %v", err)
	}
	for _, note := range qs2.MovedAside {
		log.WriteString(note + "\n")
	}
	if got := qs2.Peek("outqueue"); len(got) != 1 || got[0].Text != `{"name":"kept"}` {
		t.Errorf("messages: %+v", got)
	}
	for name := range bad {
		if _, err := os.Stat(filepath.Join(qdir, "bad", name)); err != nil {
			t.Errorf("%s not moved aside: %v", name, err)
		}
		if !strings.Contains(log.String(), name) {
			t.Errorf("%s not reported:\n%s", name, log.String())
		}
	}
}

// TestPutMessageRanges: messagettl and visibilitytimeout outside
// Storage's ranges are 400 OutOfRangeQueryParameterValue; not numbers,
// 400 InvalidQueryParameterValue; in range, 201.
func TestPutMessageRanges(t *testing.T) {
	fx := start(t, Options{}, nil)
	for _, tt := range []struct {
		query string
		code  int
		err   string
	}{
		{"messagettl=-2", 400, "OutOfRangeQueryParameterValue"},
		{"messagettl=0", 400, "OutOfRangeQueryParameterValue"},
		{"messagettl=9223372036854775807", 400, "OutOfRangeQueryParameterValue"},
		{"visibilitytimeout=-1", 400, "OutOfRangeQueryParameterValue"},
		{"visibilitytimeout=604801", 400, "OutOfRangeQueryParameterValue"},
		{"visibilitytimeout=9223372036854775807", 400, "OutOfRangeQueryParameterValue"},
		{"visibilitytimeout=60&messagettl=30", 400, "OutOfRangeQueryParameterValue"},
		{"visibilitytimeout=1e3", 400, "InvalidQueryParameterValue"},
		{"messagettl=-1&visibilitytimeout=604800", 201, ""},
		{"messagettl=60&visibilitytimeout=30", 201, ""},
	} {
		resp, body := fx.do(t, "POST", "/admin/queues/rangequeue/messages?"+tt.query, strings.NewReader("x"), nil)
		if resp.StatusCode != tt.code || resp.Header.Get("x-ms-error-code") != tt.err {
			t.Errorf("%s: %d %s %s", tt.query, resp.StatusCode, resp.Header.Get("x-ms-error-code"), body)
		}
	}
}
