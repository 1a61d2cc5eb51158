package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeOutbound serves the fetch sample from a ferry.yaml whose
// allowedOutboundHosts lets it reach one loopback service: the allowed
// call succeeds, another host is refused inside the function, and
// /metrics counts both.
func TestServeOutbound(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pong, token %s", r.Header.Get("Authorization"))
	}))
	defer svc.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	samples, _ := filepath.Abs("../../samples")
	s := startServe(t, fmt.Sprintf(`
functions:
  - name: fetch
    source: %s/fetch
    allowedOutboundHosts: [%q]
`, samples, svc.URL))
	invoke := func(url string) string {
		_, b := do(t, mustRequest("POST", s.url+"/2015-03-31/functions/fetch/invocations",
			fmt.Sprintf(`{"url":%q,"method":"GET","headers":{"Authorization":"Bearer from-event"}}`, url)))
		return string(b)
	}
	if got := invoke(svc.URL + "/ping"); !strings.Contains(got, `"body":"pong, token Bearer from-event"`) {
		t.Fatalf("allowed call: %s", got)
	}
	if got := invoke(other.URL + "/"); !strings.Contains(got, "refused: add \\\""+other.URL+"\\\" to allowedOutboundHosts of function fetch") {
		t.Fatalf("refused call: %s", got)
	}
	metrics := get(t, s.url+"/metrics")
	for _, want := range []string{
		`ferry_outbound_requests_total{function="fetch",outcome="success"} 1`,
		`ferry_outbound_requests_total{function="fetch",outcome="refused"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
