package events

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAzureHTTPOutput(t *testing.T) {
	tests := []struct {
		in     string
		status int
		header http.Header
		body   string
	}{
		{`{"statusCode":"201","body":"created","headers":{"Location":"/x"}}`, 201,
			http.Header{"Location": {"/x"}, "Content-Type": {"text/plain; charset=utf-8"}}, "created"},
		{`{"statusCode":404}`, 404, http.Header{}, ""},
		{`{"status":202,"body":{"a":[1, 2]}}`, 202, http.Header{"Content-Type": {"application/json; charset=utf-8"}}, `{"a":[1,2]}`},
		{`{"StatusCode":"200","Headers":{"content-type":"text/html","Set-Cookie":["a=1","b=2"]},"Body":"<p>"}`, 200,
			http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"a=1", "b=2"}}, "<p>"},
		{`"just text"`, 200, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "just text"},
		{`{}`, 200, http.Header{}, ""},
	}
	for _, tt := range tests {
		got, err := ParseAzureHTTPOutput(json.RawMessage(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got.Status != tt.status || !reflect.DeepEqual(got.Header, tt.header) || string(got.Body) != tt.body {
			t.Errorf("%s:\n got %d %v %q\nwant %d %v %q", tt.in, got.Status, got.Header, got.Body, tt.status, tt.header, tt.body)
		}
	}
	for _, bad := range []string{`{"statusCode":"OK"}`, `{"statusCode":true}`, `{"statusCode":42}`, `{"headers":"x"}`} {
		if _, err := ParseAzureHTTPOutput(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseAzureReply(t *testing.T) {
	r, err := ParseAzureReply([]byte(`{"Outputs":{"res":{"statusCode":200},"msg":["a",{"b":1}],"empty":null},"Logs":["one","two"],"ReturnValue":"rv"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Logs, []string{"one", "two"}) {
		t.Errorf("Logs %v", r.Logs)
	}
	if v, ok := r.Output("$return"); !ok || string(v) != `"rv"` {
		t.Errorf("$return %s", v)
	}
	if _, ok := r.Output("empty"); ok {
		t.Error("a null output counts as set")
	}
	v, _ := r.Output("msg")
	msgs, err := AzureQueueOutput(v)
	if err != nil || !reflect.DeepEqual(msgs, []string{"a", `{"b":1}`}) {
		t.Errorf("queue output %q %v", msgs, err)
	}
	if msgs, _ := AzureQueueOutput(json.RawMessage(`{"x": 1}`)); !reflect.DeepEqual(msgs, []string{`{"x":1}`}) {
		t.Errorf("object output %q", msgs)
	}
	if r, err := ParseAzureReply(nil); err != nil || r.Outputs != nil {
		t.Errorf("empty reply: %v %v", r, err)
	}
	if _, err := ParseAzureReply([]byte("<html>")); err == nil || !strings.Contains(err.Error(), "Outputs") {
		t.Errorf("bad reply: %v", err)
	}
}

func TestAzureQueueAndTimerInvocations(t *testing.T) {
	now := time.Date(2019, 10, 9, 17, 58, 32, 220539900, time.UTC)
	m := &AzureQueueMessage{ID: "800ae4b3-bdd2-4c08-badd-f08e5a34b865", PopReceipt: "AgAAAAMAAAAAAAAAAgtnj8x+1QE=", Text: `{ message: "Message sent" }`,
		DequeueCount: 1, InsertionTime: now.Truncate(time.Second).Add(-time.Second), ExpirationTime: time.Date(2019, 10, 16, 17, 58, 31, 0, time.UTC),
		NextVisibleTime: time.Date(2019, 10, 9, 18, 8, 32, 0, time.UTC)}
	b, _ := json.Marshal(NewAzureQueueInvocation("QueueTrigger", "myQueueItem", m, now))
	// The queue example of Microsoft's custom handler reference, but for RandGuid.
	want := `{"Data":{"myQueueItem":"{ message: \"Message sent\" }"},"Metadata":{"DequeueCount":1,"ExpirationTime":"2019-10-16T17:58:31+00:00","Id":"800ae4b3-bdd2-4c08-badd-f08e5a34b865","InsertionTime":"2019-10-09T17:58:31+00:00","NextVisibleTime":"2019-10-09T18:08:32+00:00","PopReceipt":"AgAAAAMAAAAAAAAAAgtnj8x+1QE=","sys":{"MethodName":"QueueTrigger","UtcNow":"2019-10-09T17:58:32.2205399Z","RandGuid":"`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("queue invocation\n got %s\nwant %s…", b, want)
	}
	ny, _ := time.LoadLocation("America/New_York")
	next := time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC)
	b, _ = json.Marshal(NewAzureTimerInvocation("T", "myTimer", time.Time{}, next, next.Add(-time.Hour), true, ny, now))
	want = `{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-07-01T09:00:00-04:00","LastUpdated":"2026-07-01T08:00:00-04:00"},"IsPastDue":true}},"Metadata":{"sys":{"MethodName":"T",`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("timer invocation\n got %s\nwant %s…", b, want)
	}
}
