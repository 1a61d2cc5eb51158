package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestNewServesAConfig serves a config file without the CLI: gateway.New
// loads its functions on a real engine, a Server serves the deployment
// over loopback, an HTTP route and the Invoke API reach the functions, an
// Event invocation reaches its destination file, and Close drains.
func TestNewServesAConfig(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "success.jsonl")
	yaml := `functions:
  - name: http-api
    module: ` + sampletest.Module(t, "../../samples/http-api") + `
    http:
      - path: /items/{proxy+}
        format: http-api
  - name: hello
    module: ` + sampletest.Module(t, "../../samples/hello") + `
    async:
      onSuccess:
        file: ` + dest + `
async:
  spoolDir: ` + filepath.Join(dir, "spool") + `
`
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close(ctx)
	reg := prometheus.NewRegistry()
	var logs, progress syncBuffer
	d, err := gateway.New(ctx, engine, cfg, gateway.Options{Metrics: reg, Log: &logs, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.NewServer()
	if err := srv.Deploy(d.Deployment); err != nil {
		t.Fatal(err)
	}
	d.Start()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/items/42?name=ferry")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reply struct {
		RouteKey string `json:"routeKey"`
		Greeting string `json:"greeting"`
	}
	if err := json.Unmarshal(body, &reply); resp.StatusCode != 200 || err != nil {
		t.Fatalf("GET /items/42: %d %s (%v)", resp.StatusCode, body, err)
	}
	if reply.RouteKey != "ANY /items/{proxy+}" || reply.Greeting != "hello, ferry" {
		t.Fatalf("GET /items/42: %s", body)
	}

	resp, err = http.Post(ts.URL+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`"Ada"`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `"Hello Ada!"` {
		t.Fatalf("Invoke hello: %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/2015-03-31/functions/hello/invocations", strings.NewReader(`"Grace"`))
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("Invoke hello (Event): %d", resp.StatusCode)
	}
	waitFor(t, "the Event invocation's destination record", func() bool {
		rec, _ := os.ReadFile(dest)
		return bytes.Contains(rec, []byte(`"responsePayload":"Hello Grace!"`))
	})
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.Close(cctx); err != nil {
		t.Fatal(err)
	}
	// Several functions share one log: each line says whose it is.
	for _, want := range []string{"[hello] START RequestId: ", "[hello] REPORT RequestId: ", "[http-api] END RequestId: "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "RequestId: ") && !strings.HasPrefix(line, "[hello] ") && !strings.HasPrefix(line, "[http-api] ") {
			t.Errorf("a log line without its function: %q", line)
		}
	}
	// A progress line per function compiled (the modules were prebuilt).
	for _, want := range []string{"ferry: compiling hello… ", "ferry: compiling http-api… "} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
