package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// server is a loopback HTTP service the handler calls: it echoes what it
// was sent, sends trailers on /trailer, and hangs on /hang until the
// request is cancelled.
func server(t testing.TB) (*httptest.Server, chan struct{}) {
	cancelled := make(chan struct{}, 10)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s %d %s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Test"), len(b), sum(b))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte("0123456789abcdef"), 1<<16)) // 1 MiB, many chunks
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("with a trailer"))
		w.Header().Set("X-Checksum", "abc123")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge) // without reading the body
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cancelled <- struct{}{}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, cancelled
}

func sum(b []byte) string {
	var s uint32
	for _, c := range b {
		s = s*31 + uint32(c)
	}
	return fmt.Sprintf("%08x", s)
}

// load loads the sample into the shared engine, or into e.
func load(t testing.TB, cfg adapter.Config, e ...*adapter.Engine) *adapter.Function {
	if cfg.Name == "" {
		cfg.Name = "fetch"
	}
	if len(e) == 0 {
		return sampletest.Load(t, ".", cfg)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = sampletest.TestTimeout
	}
	f, err := e[0].LoadFile(context.Background(), sampletest.Module(t, "."), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f
}

// registry is an engine with its own metrics.
type registry struct{ reg *prometheus.Registry }

func newRegistry() *registry { return &registry{prometheus.NewRegistry()} }

func (r *registry) engine(t testing.TB) *adapter.Engine {
	e, err := adapter.NewEngine(context.Background(), adapter.WithMetrics(adapter.NewMetrics(r.reg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// count reads ferry_outbound_requests_total{function,outcome}.
func (r *registry) count(t testing.TB, function, outcome string) float64 {
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ferry_outbound_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["function"] == function && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func event(t testing.TB, r Request) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDifferential calls the loopback service natively and under ferry
// (allowed to reach it) and compares what each got back.
func TestDifferential(t *testing.T) {
	srv, _ := server(t)
	big := strings.Repeat("ferry ", 200_000) // 1.2 MB upload, streamed in chunks
	f := load(t, adapter.Config{AllowedOutboundHosts: []string{srv.URL}, Timeout: time.Minute})
	for name, r := range map[string]Request{
		"get":      {URL: srv.URL + "/echo?x=1"},
		"post":     {URL: srv.URL + "/echo", Method: "POST", Body: "hello", Headers: map[string]string{"X-Test": "yes"}},
		"upload":   {URL: srv.URL + "/echo", Method: "PUT", Body: big},
		"download": {URL: srv.URL + "/big"},
		"trailer":  {URL: srv.URL + "/trailer"},
		"redirect": {URL: srv.URL + "/redirect?to=/echo%3Fredirected"},
		"notfound": {URL: srv.URL + "/nothing"},
		"early":    {URL: srv.URL + "/early", Method: "PUT", Body: strings.Repeat(big, 4)}, // answered before the body is read
	} {
		t.Run(name, func(t *testing.T) {
			want, err := handler(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(want)
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, r)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() {
				t.Fatalf("%s: %s\n%s", res.ErrorType, res.Payload, res.Logs)
			}
			sampletest.JSONEqual(t, wantJSON, res.Payload)
		})
	}
}

// TestRefused checks deny by default: a host not in allowedOutboundHosts
// fails inside the guest with an error naming it and the key, and a
// redirect to such a host is refused too.
func TestRefused(t *testing.T) {
	srv, _ := server(t)
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	reg := newRegistry()
	e := reg.engine(t)
	f := load(t, adapter.Config{Name: "fetch-refused", AllowedOutboundHosts: []string{srv.URL}}, e)
	for name, r := range map[string]Request{
		"host":     {URL: other.URL + "/x"},
		"redirect": {URL: srv.URL + "/redirect?to=" + other.URL + "/x"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, r)})
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ ErrorType, ErrorMessage string }
			json.Unmarshal(res.Payload, &doc)
			origin := other.URL
			if !res.Failed() || !strings.Contains(doc.ErrorMessage, origin) || !strings.Contains(doc.ErrorMessage, "allowedOutboundHosts") {
				t.Fatalf("want a refusal naming %s and allowedOutboundHosts, got %s", origin, res.Payload)
			}
		})
	}
	// Nothing configured: nothing allowed, not even loopback.
	none := load(t, adapter.Config{Name: "fetch-none"}, e)
	res, _ := none.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/echo"})})
	if !res.Failed() || !strings.Contains(string(res.Payload), "refused") {
		t.Fatalf("default policy let a request out: %s", res.Payload)
	}
	// The instance is fine: an allowed request works next.
	ok, _ := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/echo"})})
	if ok.Failed() {
		t.Fatalf("after a refusal: %s", ok.Payload)
	}
	if got := reg.count(t, "fetch-refused", "refused"); got != 2 {
		t.Fatalf("ferry_outbound_requests_total{outcome=refused} = %v, want 2", got)
	}
	if got := reg.count(t, "fetch-refused", "success"); got != 2 { // the redirect's first hop, and the last call
		t.Fatalf("ferry_outbound_requests_total{outcome=success} = %v, want 2", got)
	}
}

// TestHTTPS calls an HTTPS (HTTP/2) server: TLS is the host's, with the
// engine's transport trusting the test server's certificate as the
// system's roots trust public ones.
func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over TLS %v", r.Proto, r.TLS != nil)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	e, err := adapter.NewEngine(context.Background(), adapter.WithOutboundTransport(srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	f := load(t, adapter.Config{Name: "fetch-https", AllowedOutboundHosts: []string{srv.URL}}, e)
	res, _ := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/"})})
	if res.Failed() || !strings.Contains(string(res.Payload), `"body":"HTTP/2.0 over TLS true"`) {
		t.Fatalf("%s\n%s", res.Payload, res.Logs)
	}
	// Without the test CA (the default transport, system roots) the
	// certificate is refused, inside the guest.
	g := load(t, adapter.Config{Name: "fetch-https-untrusted", AllowedOutboundHosts: []string{srv.URL}})
	res, _ = g.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/"})})
	if !res.Failed() || !strings.Contains(string(res.Payload), "certificate") {
		t.Fatalf("an untrusted certificate was accepted: %s", res.Payload)
	}
}

// TestDeadline keeps a request running past the function's timeout: the
// invocation times out cleanly, the service sees the request cancelled,
// and the next invocation works.
func TestDeadline(t *testing.T) {
	srv, cancelled := server(t)
	f := load(t, adapter.Config{Name: "fetch-deadline", Timeout: time.Second, AllowedOutboundHosts: []string{srv.URL}})
	start := time.Now()
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/hang"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorType != "Sandbox.Timedout" {
		t.Fatalf("want Sandbox.Timedout, got %s: %s", res.ErrorType, res.Payload)
	}
	select {
	case <-cancelled:
	case <-time.After(time.Minute): // generous: a loaded machine is slow, not wrong
		t.Fatal("the service never saw the request cancelled")
	}
	t.Logf("timed out after %v", time.Since(start))
	res, _ = f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/echo"})})
	if res.Failed() {
		t.Fatalf("next invocation: %s", res.Payload)
	}
}

// TestClientTimeout: a client's own Timeout, shorter than the function's,
// ends the request with net/http's timeout error inside the guest (the
// host is told the request's deadline), and the service sees it cancelled.
func TestClientTimeout(t *testing.T) {
	srv, cancelled := server(t)
	f := load(t, adapter.Config{Name: "fetch-client-timeout", Timeout: 10 * time.Second, AllowedOutboundHosts: []string{srv.URL}})
	r := Request{URL: srv.URL + "/hang", TimeoutMs: 300}
	_, nerr := handler(context.Background(), r)
	<-cancelled
	start := time.Now()
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, r)})
	if err != nil {
		t.Fatal(err)
	}
	const want = "Client.Timeout exceeded"
	if nerr == nil || !strings.Contains(nerr.Error(), want) || res.ErrorType == "Sandbox.Timedout" || !strings.Contains(string(res.Payload), want) {
		t.Fatalf("native: %v\nferry (%v): %s", nerr, time.Since(start), res.Payload)
	}
	select {
	case <-cancelled:
	case <-time.After(time.Minute): // generous: a loaded machine is slow, not wrong
		t.Fatal("the service never saw the request cancelled")
	}
}

// BenchmarkOutbound compares one GET to a loopback server made from inside
// ferry (through the host import) with the same GET made natively. Each
// invocation makes 50 requests, so the invocation's own cost is spread
// thin; the per-request figures are reported as ns/req.
func BenchmarkOutbound(b *testing.B) {
	srv, _ := server(b)
	const repeat = 50
	ev := event(b, Request{URL: srv.URL + "/echo", Repeat: repeat})
	f := load(b, adapter.Config{Name: "fetch-bench", AllowedOutboundHosts: []string{srv.URL}})
	var ferryNs, nativeNs float64
	b.Run("ferry", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: ev})
			if err != nil || res.Failed() {
				b.Fatal(err, string(res.Payload))
			}
		}
		ferryNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N*repeat)
		b.ReportMetric(ferryNs, "ns/req")
	})
	b.Run("native", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := handler(context.Background(), Request{URL: srv.URL + "/echo", Repeat: repeat}); err != nil {
				b.Fatal(err)
			}
		}
		nativeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N*repeat)
		b.ReportMetric(nativeNs, "ns/req")
	})
	if nativeNs > 0 {
		b.Logf("per request: ferry %.0f µs, native %.0f µs, ratio %.2f", ferryNs/1e3, nativeNs/1e3, ferryNs/nativeNs)
	}
}

// TestWildcardsStayOffLocalAddresses: an allowedOutboundHosts entry with a
// wildcard host does not reach loopback (nor the metadata service or
// private ranges), whether the URL names the address or a name that
// resolves to it; the check is made on the address dialled, so DNS
// rebinding cannot get past it. An entry that names the host (an IP
// address, localhost) does reach it.
func TestWildcardsStayOffLocalAddresses(t *testing.T) {
	srv, _ := server(t)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	byName := "http://localhost:" + port
	reg := newRegistry()
	e := reg.engine(t)
	wild := load(t, adapter.Config{Name: "fetch-wild", AllowedOutboundHosts: []string{"*://*:*"}}, e)
	for _, u := range []string{srv.URL + "/echo", byName + "/echo", "http://[::ffff:127.0.0.1]:" + port + "/echo", "http://169.254.169.254/latest/meta-data/"} {
		res, err := wild.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: u})})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Failed() || !strings.Contains(string(res.Payload), "reached only through an allowedOutboundHosts entry that names it (not a wildcard)") {
			t.Fatalf("%s through *://*:*: %s", u, res.Payload)
		}
	}
	if got := reg.count(t, "fetch-wild", "refused"); got != 4 {
		t.Fatalf("ferry_outbound_requests_total{outcome=refused} = %v, want 4", got)
	}
	for _, c := range []struct{ entry, url string }{
		{srv.URL, srv.URL + "/echo"},             // the IP address
		{byName, byName + "/echo"},               // localhost
		{"http://localhost:*", byName + "/echo"}, // any port of it
	} {
		f := load(t, adapter.Config{Name: "fetch-named", AllowedOutboundHosts: []string{c.entry}}, e)
		res, _ := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: c.url})})
		if res.Failed() || !strings.Contains(string(res.Payload), `"body":"GET /echo`) {
			t.Fatalf("%s allowed by %s: %s", c.url, c.entry, res.Payload)
		}
	}
}

// TestHostHeaderMatchesURL: a guest may not send an allowed address a Host
// header naming another site (metadata.google.internal, say).
func TestHostHeaderMatchesURL(t *testing.T) {
	srv, _ := server(t)
	f := load(t, adapter.Config{Name: "fetch-host", AllowedOutboundHosts: []string{srv.URL}})
	res, _ := f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/echo", Method: "GET", Headers: map[string]string{"Host": "metadata.google.internal"}})})
	if !res.Failed() || !strings.Contains(string(res.Payload), `its Host header \"metadata.google.internal\" is not the URL's host`) {
		t.Fatalf("%s", res.Payload)
	}
	// The URL's own host, written out, is fine.
	host := strings.TrimPrefix(srv.URL, "http://")
	res, _ = f.Invoke(context.Background(), &adapter.Request{Payload: event(t, Request{URL: srv.URL + "/echo", Method: "GET", Headers: map[string]string{"Host": host}})})
	if res.Failed() {
		t.Fatalf("%s", res.Payload)
	}
}
