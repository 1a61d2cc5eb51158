package azurehost

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestGuestSDK covers what the differential test cannot compare: a panic
// (net/http drops the connection; the SDK reports an error and the instance
// serves on), the invocation deadline in the request context, and headers
// frozen at WriteHeader with a sniffed Content-Type.
func TestGuestSDK(t *testing.T) {
	fn := sampletest.Load(t, "testdata/sdk", adapter.Config{Name: "sdk", Concurrency: 1})
	call := func(url string) (*adapter.Result, httpmsg.Response) {
		t.Helper()
		env, _ := json.Marshal(&httpmsg.Request{Method: "GET", URL: url, Header: map[string][]string{"Host": {"example.net"}}})
		res, err := fn.Invoke(context.Background(), &adapter.Request{Payload: env})
		if err != nil {
			t.Fatal(err)
		}
		var resp httpmsg.Response
		if !res.Failed() {
			if err := json.Unmarshal(res.Payload, &resp); err != nil {
				t.Fatal(err)
			}
		}
		return res, resp
	}
	res, _ := call("/panic?n=1")
	if res.ErrorType != "errorString" {
		t.Errorf("panic: errorType %q, want errorString", res.ErrorType)
	}
	if !strings.Contains(string(res.Payload), "boom 1") || !strings.Contains(string(res.Logs), "http: panic serving") {
		t.Errorf("panic: %s\n%s", res.Payload, res.Logs)
	}
	if _, resp := call("/deadline"); resp.Status != 200 || string(resp.Body) != "deadline=true host=example.net" {
		t.Errorf("deadline: %d %s", resp.Status, resp.Body)
	}
	if fn.Stats().Instances != 1 {
		t.Errorf("%d instances: a panic must not discard the instance", fn.Stats().Instances)
	}
	_, resp := call("/frozen")
	if resp.Status != 202 || resp.Header["X-Before"] == nil || resp.Header["X-After"] != nil || resp.Header["Content-Type"][0] != "text/html; charset=utf-8" {
		t.Errorf("frozen: %d %v", resp.Status, resp.Header)
	}
	if _, resp := call("/nowhere"); resp.Status != 404 {
		t.Errorf("unknown path: %d", resp.Status)
	}
	bad, _ := fn.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"not":"an envelope"}`)})
	if bad.ErrorType != "Runtime.InvalidRequest" {
		t.Errorf("bad envelope: %s %s", bad.ErrorType, bad.Payload)
	}
}
