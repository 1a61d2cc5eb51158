package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
	"github.com/ferrywasm/ferry/internal/azurehost"
	"github.com/ferrywasm/ferry/internal/sampletest"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// startNative builds this handler natively and runs it as the Functions
// host runs a classic custom handler: a process listening on
// FUNCTIONS_CUSTOMHANDLER_PORT, polled until it answers.
func startNative(t *testing.T) string { return startNativeTB(t) }

func startNativeTB(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "handler")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("the native handler did not listen on %d: %v\n%s", port, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// native sends env to the native handler over loopback HTTP.
func native(t *testing.T, base string, env httpmsg.Request) httpmsg.Response {
	t.Helper()
	req, err := http.NewRequest(env.Method, base+env.URL, bytes.NewReader(env.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = env.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return httpmsg.Response{Status: resp.StatusCode, Header: h, Body: body}
}

func envelope(function string, doc *events.AzureInvocation) httpmsg.Request {
	body, _ := json.Marshal(doc)
	return httpmsg.Request{Method: "POST", URL: "/" + function, Header: map[string][]string{
		"Content-Type":                   {"application/json"},
		"X-Azure-Functions-Invocationid": {lambdaspec.NewGUID()},
	}, Body: body}
}

// TestDifferentialNativeCustomHandler sends the same requests the Functions
// host would send to this handler run natively as a classic custom handler
// and to the same source built to Wasm under ferry, and compares the
// answers: status, headers and body.
func TestDifferentialNativeCustomHandler(t *testing.T) {
	base := startNative(t)
	app, err := azure.Load(".", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	fn := sampletest.Load(t, ".", azurehost.FunctionConfig(app, nil))

	now := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	get, _ := http.NewRequest("GET", "http://localhost:7071/api/HttpExample/books?name=Ada&x=1", nil)
	get.Header.Add("Accept", "text/plain")
	get.Header.Add("Accept", "application/json")
	post, _ := http.NewRequest("POST", "http://localhost:7071/api/HttpExample", nil)
	noName, _ := http.NewRequest("GET", "http://localhost:7071/api/HttpExample", nil)
	msg := &events.AzureQueueMessage{ID: lambdaspec.NewGUID(), PopReceipt: "AgAAAAMAAAAAAAAAAgtnj8x+1QE=", Text: `{"name":"Ada"}`,
		DequeueCount: 1, InsertionTime: now, ExpirationTime: now.Add(7 * 24 * time.Hour), NextVisibleTime: now.Add(10 * time.Minute)}
	poison := *msg
	poison.Text = "poison"
	cases := map[string]httpmsg.Request{
		"HttpExample GET":      envelope("HttpExample", events.NewAzureHTTPInvocation("HttpExample", "req", get, nil, map[string]string{"category": "books"}, now)),
		"HttpExample POST":     envelope("HttpExample", events.NewAzureHTTPInvocation("HttpExample", "req", post, []byte(`{"name":"Grace"}`), nil, now)),
		"HttpExample 400":      envelope("HttpExample", events.NewAzureHTTPInvocation("HttpExample", "req", noName, nil, nil, now)),
		"QueueExample":         envelope("QueueExample", events.NewAzureQueueInvocation("QueueExample", "myQueueItem", msg, now)),
		"QueueExample failing": envelope("QueueExample", events.NewAzureQueueInvocation("QueueExample", "myQueueItem", &poison, now)),
		"TimerExample":         envelope("TimerExample", events.NewAzureTimerInvocation("TimerExample", "myTimer", now.Add(-5*time.Minute), now, now, false, time.UTC, now)),
		"forwarded hello":      {Method: "GET", URL: "/api/hello?name=Ada", Header: map[string][]string{"X-Azure-Functions-Invocationid": {lambdaspec.NewGUID()}}},
		"forwarded hello 400":  {Method: "POST", URL: "/api/hello", Header: map[string][]string{}, Body: []byte("x")},
		"unknown function":     envelope("Nope", &events.AzureInvocation{}),
		"not JSON":             {Method: "POST", URL: "/HttpExample", Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte("{")},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			want := native(t, base, env)
			payload, _ := json.Marshal(&env)
			res, err := fn.Invoke(context.Background(), &adapter.Request{Payload: payload})
			if err != nil || res.Failed() {
				t.Fatalf("ferry: %v %s", err, res.Payload)
			}
			var got httpmsg.Response
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) || !reflect.DeepEqual(http.Header(got.Header), http.Header(want.Header)) {
				t.Errorf("ferry answered\n%d %v %s\nthe native handler\n%d %v %s", got.Status, got.Header, got.Body, want.Status, want.Header, want.Body)
			}
		})
	}
}

// benchEnvelope is an HttpExample invocation, as the Functions host sends
// it for GET /api/HttpExample/books?name=Ada.
func benchEnvelope(b *testing.B) httpmsg.Request {
	r, _ := http.NewRequest("GET", "http://localhost:7071/api/HttpExample/books?name=Ada", nil)
	return envelope("HttpExample", events.NewAzureHTTPInvocation("HttpExample", "req", r, nil, map[string]string{"category": "books"}, time.Now()))
}

func benchPayload(b *testing.B) []byte {
	env := benchEnvelope(b)
	p, err := json.Marshal(&env)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkColdStart: a new instance and its first invocation under ferry.
func BenchmarkColdStart(b *testing.B) { sampletest.ColdStart(b, benchPayload(b)) }

// BenchmarkWarmInvoke: an invocation on a warm instance under ferry.
func BenchmarkWarmInvoke(b *testing.B) { sampletest.WarmInvoke(b, benchPayload(b)) }

// BenchmarkNativeInvoke: the same request served by the handler natively,
// in-process (the baseline of WarmInvoke).
func BenchmarkNativeInvoke(b *testing.B) {
	env := benchEnvelope(b)
	mux := newMux()
	b.Run("azure-app", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, _ := http.NewRequest(env.Method, env.URL, bytes.NewReader(env.Body))
			r.Header = env.Header
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkNativeLoopback: the same request sent to the native handler
// process over loopback HTTP, as the Functions host talks to a classic
// custom handler.
func BenchmarkNativeLoopback(b *testing.B) {
	env := benchEnvelope(b)
	base := startNativeTB(b)
	b.Run("azure-app", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest(env.Method, base+env.URL, bytes.NewReader(env.Body))
			req.Header = env.Header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
