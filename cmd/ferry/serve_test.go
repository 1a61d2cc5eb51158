package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// samplesConfig is a ferry.yaml over the bundled samples, with the errors
// sample's async settings shortened so that retries run within a test.
// dir holds its destination files.
func samplesConfig(t testing.TB, dir string) string {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return fmt.Sprintf(`
async:
  spoolDir: %[1]s/spool
functions:
  - name: hello
    source: %[2]s/hello
  - name: http-api
    source: %[2]s/http-api
    http:
      - path: /http-api/{proxy+}
        methods: [GET, POST]
        format: http-api
        cors:
          allowOrigins: ["https://example.com"]
          allowMethods: [GET, POST]
          maxAge: 600
      - path: /url/{proxy+}
        format: function-url
  - name: apigw-rest
    source: %[2]s/apigw-rest
    http:
      - path: /apigw-rest/{proxy+}
        format: rest
        binaryMediaTypes: [image/png]
      - path: /alb/{proxy+}
        format: alb
        multiValueHeaders: true
  - name: errors
    source: %[2]s/errors
    timeout: 2
    concurrency: 2
    async:
      retryDelays: [10ms, 20ms]
      onSuccess: {file: %[1]s/successes.jsonl}
      onFailure: {file: %[1]s/failures.jsonl}
    http:
      - path: /errors
        methods: [POST]
        format: rest
`, dir, abs("../../samples"))
}

// server is `ferry serve` running in this process, as a user runs it.
type server struct {
	url    string
	cancel context.CancelFunc // SIGTERM
	done   chan int
	log    *sampletest.LogBuffer
}

var listening = regexp.MustCompile(`ferry: listening on (http://\S+)`)

// startServe runs `ferry serve -f <yaml>` until the test ends, and waits
// until it is ready.
func startServe(t testing.TB, yaml string, args ...string) *server {
	t.Helper()
	return startServeFile(t, write(t, "ferry.yaml", []byte(yaml)), args...)
}

// startServeFile runs `ferry serve -f file` on a free loopback port until
// the test ends, and waits until it is ready.
func startServeFile(t testing.TB, file string, args ...string) *server {
	t.Helper()
	// A later --addr in args wins: the flag package keeps the last value.
	return startServeArgs(t, file, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
}

// startServeArgs runs `ferry serve -f file` with exactly args until the
// test ends, and waits until it is ready.
func startServeArgs(t testing.TB, file string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{cancel: cancel, done: make(chan int, 1), log: &sampletest.LogBuffer{}}
	go func() { s.done <- runServe(ctx, append([]string{"-f", file}, args...), io.Discard, s.log) }()
	deadline := time.Now().Add(5 * time.Minute) // first run builds the samples
	for !strings.Contains(s.log.String(), "ferry: ready") {
		select {
		case code := <-s.done:
			t.Fatalf("ferry serve exited with %d:\n%s", code, s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferry serve not ready:\n%s", s.log)
		}
	}
	s.url = listening.FindStringSubmatch(s.log.String())[1]
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// stop sends the equivalent of SIGTERM and returns the exit status.
func (s *server) stop(t *testing.T) int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for Cleanup
		return code
	case <-time.After(time.Minute):
		t.Fatalf("ferry serve did not stop:\n%s", s.log)
		return -1
	}
}

func (s *server) lambda() *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.url),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFERRY", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// waitFor polls cond until it holds; a generous deadline, not a timing
// assertion: 5 minutes, since what it waits for may be a Go build (a
// --watch rebuild took over a minute on a loaded 2-core machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// records reads a JSON-lines destination file.
func records(t *testing.T, path string) []map[string]any {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// TestServeLambdaAPI drives `ferry serve` with aws-sdk-go-v2's Lambda
// client, as a user points it at ferry with an endpoint URL.
func TestServeLambdaAPI(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, samplesConfig(t, dir))
	client := s.lambda()
	ctx := context.Background()

	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"SDK"`), LogType: types.LogTypeTail})
	if err != nil || string(out.Payload) != `"Hello SDK!"` || out.StatusCode != 200 {
		t.Fatalf("RequestResponse: %v %+v", err, out)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult)); id == "" || !strings.Contains(string(tail), "REPORT RequestId: "+id) {
		t.Fatalf("LogType Tail: %q", tail)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("$LATEST"), Payload: []byte(`"q"`)})
	if err != nil || string(out.Payload) != `"Hello q!"` {
		t.Fatalf("qualifier $LATEST: %v %s", err, out.Payload)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("live")}); !isErr[*types.ResourceNotFoundException](err) {
		t.Fatalf("unknown qualifier: %v", err)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v %+v", err, out)
	}
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"error","field":"zip"}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType":"ValidationError"`) {
		t.Fatalf("function error: %v %+v %s", err, out, out.Payload)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")}); !isErr[*types.ResourceNotFoundException](err) {
		t.Fatalf("unknown function: %v", err)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{"name":`)}); !isErr[*types.InvalidRequestContentException](err) {
		t.Fatalf("malformed JSON: %v", err)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: bytes.Repeat([]byte(" "), 6<<20+1)}); !isErr[*types.RequestTooLargeException](err) {
		t.Fatalf("oversized: %v", err)
	}
	list, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 4 || aws.ToString(list.Functions[0].FunctionName) != "apigw-rest" {
		t.Fatalf("ListFunctions: %v %+v", err, list)
	}

	// Event: 202 at once; a success reaches onSuccess, a failure is tried
	// three times and then reaches onFailure, all with one request id.
	ok, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"mode":"ok"}`)})
	if err != nil || ok.StatusCode != 202 {
		t.Fatalf("Event: %v %+v", err, ok)
	}
	bad, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"mode":"error","field":"async"}`)})
	if err != nil || bad.StatusCode != 202 {
		t.Fatalf("Event: %v %+v", err, bad)
	}
	waitFor(t, "the failed event at its destination", func() bool { return len(records(t, filepath.Join(dir, "failures.jsonl"))) == 1 })
	waitFor(t, "the event at its destination", func() bool { return len(records(t, filepath.Join(dir, "successes.jsonl"))) == 1 })
	f := records(t, filepath.Join(dir, "failures.jsonl"))[0]
	rc := f["requestContext"].(map[string]any)
	if rc["condition"] != "RetriesExhausted" || rc["approximateInvokeCount"] != 3.0 ||
		f["requestPayload"].(map[string]any)["field"] != "async" ||
		f["responsePayload"].(map[string]any)["errorType"] != "ValidationError" ||
		f["responseContext"].(map[string]any)["functionError"] != "Unhandled" {
		t.Fatalf("failure record: %v", f)
	}
	if n := strings.Count(s.log.String(), "START RequestId: "+rc["requestId"].(string)); n != 3 {
		t.Fatalf("the failed event ran %d times, want 3:\n%s", n, s.log)
	}
	sr := records(t, filepath.Join(dir, "successes.jsonl"))[0]["requestContext"].(map[string]any)
	if sr["condition"] != "Success" || sr["approximateInvokeCount"] != 1.0 {
		t.Fatalf("success record: %v", sr)
	}

	// A saturated function throttles with 429 and Retry-After, and keeps
	// serving.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"wait","ms":1500}`)})
		}()
	}
	waitFor(t, "two busy instances", func() bool {
		return strings.Contains(get(t, s.url+"/metrics"), `ferry_instances{function="errors",state="busy"} 2`)
	})
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"ok"}`)}); !isErr[*types.TooManyRequestsException](err) {
		t.Fatalf("saturated: %v", err)
	}
	wg.Wait()
	if out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"ok"}`)}); err != nil || out.FunctionError != nil {
		t.Fatalf("after throttling: %v", err)
	}

	m := get(t, s.url+"/metrics")
	for _, want := range []string{
		`ferry_invocations_total{function="errors",outcome="error",trigger="event"} 3`,
		`ferry_invocations_total{function="hello",outcome="success",trigger="invoke"} 2`,
		`ferry_throttles_total{function="errors"} 1`,
		`ferry_async_queue_depth 0`,
		`ferry_cold_starts_total{function="hello"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestServeHTTPRoutes sends real HTTP requests through each trigger format
// to the samples written for it.
func TestServeHTTPRoutes(t *testing.T) {
	s := startServe(t, samplesConfig(t, t.TempDir()))

	// HTTP API (payload 2.0): greedy path parameter, raw query string,
	// cookies both ways, headers lowercased.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/http-api/items/42?name=ferry&tag=a&tag=b", nil)
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("Accept", "application/json")
	resp, body := do(t, req)
	var v2 struct {
		RouteKey, Method, RawPath, RawQueryString, Greeting, Accept string
		Query, PathParameters                                       map[string]string
		Cookies                                                     []string
	}
	if err := json.Unmarshal(body, &v2); err != nil || resp.StatusCode != 200 {
		t.Fatalf("http-api: %d %s", resp.StatusCode, body)
	}
	if v2.RouteKey != "GET /http-api/{proxy+}" || v2.RawPath != "/http-api/items/42" || v2.RawQueryString != "name=ferry&tag=a&tag=b" ||
		v2.Query["tag"] != "a,b" || v2.PathParameters["proxy"] != "items/42" || v2.Greeting != "hello, ferry" ||
		strings.Join(v2.Cookies, ";") != "a=1;b=2" || v2.Accept != "application/json" {
		t.Fatalf("http-api event: %+v", v2)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 1 || c[0] != "visited=yes; Path=/; HttpOnly" || resp.Header.Get("Apigw-Requestid") == "" && resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("http-api response headers: %v", resp.Header)
	}

	// CORS preflight is answered from the config, not by the function.
	req, _ = http.NewRequest(http.MethodOptions, s.url+"/http-api/items", nil)
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, _ = do(t, req)
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "https://example.com" || resp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// REST (payload 1.0): multi-value query, binary body as base64,
	// multi-value response headers merged.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00binary")
	req, _ = http.NewRequest(http.MethodPut, s.url+"/apigw-rest/pets/7?x=1&x=2", bytes.NewReader(png))
	req.Header.Set("Content-Type", "image/png")
	resp, body = do(t, req)
	var v1 struct {
		Method, Resource, Path, Stage, Body string
		PathParams                          map[string]string `json:"pathParameters"`
		Query                               map[string][]string
		Base64                              bool `json:"isBase64Encoded"`
	}
	json.Unmarshal(body, &v1)
	if resp.StatusCode != 200 || resp.Header.Values("X-Sample")[1] != "payload-1.0" {
		t.Fatalf("apigw-rest: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if raw, _ := base64.StdEncoding.DecodeString(v1.Body); !v1.Base64 || !bytes.Equal(raw, png) {
		t.Fatalf("binary body: %s", body)
	}
	if !strings.Contains(string(body), `"x":["1","2"]`) || !strings.Contains(string(body), `"/apigw-rest/{proxy+}"`) {
		t.Fatalf("rest event: %s", body)
	}

	// ALB in multi-value mode: the REST handler reads the same 1.0 fields.
	resp, body = do(t, mustRequest(http.MethodGet, s.url+"/alb/pets?x=1&x=2", ""))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"x":["1","2"]`) || !strings.Contains(string(body), `"path":"/alb/pets"`) ||
		strings.Join(resp.Header.Values("X-Sample"), ",") != "apigw-rest,payload-1.0" {
		t.Fatalf("alb: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// Function URL: the payload 2.0 shape with routeKey $default.
	req = mustRequest(http.MethodPost, s.url+"/url/a?name=url", "plain text")
	req.Header.Set("Content-Type", "text/plain")
	resp, body = do(t, req)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"routeKey":"$default"`) || !strings.Contains(string(body), `"body":"plain text"`) || !strings.Contains(string(body), `"greeting":"hello, url"`) {
		t.Fatalf("function-url: %d %s", resp.StatusCode, body)
	}

	// Gateway errors in each service's shape.
	for _, c := range []struct {
		req    *http.Request
		status int
		body   string
	}{
		// errors answers {"ok":true}: no statusCode is malformed for REST.
		{mustRequest(http.MethodPost, s.url+"/errors", `{"mode":"ok"}`), 502, `{"message":"Internal server error"}`},
		{mustRequest(http.MethodPost, s.url+"/errors", `{"mode":"panic"}`), 502, `{"message":"Internal server error"}`},
		{mustRequest(http.MethodGet, s.url+"/apigw-rest", ""), 403, `{"message":"Missing Authentication Token"}`},
		{mustRequest(http.MethodGet, s.url+"/errors", ""), 403, `{"message":"Missing Authentication Token"}`},
		{mustRequest(http.MethodGet, s.url+"/http-api", ""), 404, `{"message":"Not Found"}`},
		{mustRequest(http.MethodPost, s.url+"/http-api/x", strings.Repeat("x", 6<<20+1)), 413, ""},
	} {
		resp, body := do(t, c.req)
		if resp.StatusCode != c.status || (c.body != "" && strings.TrimSpace(string(body)) != c.body) {
			t.Errorf("%s %s: %d %s, want %d %s", c.req.Method, c.req.URL.Path, resp.StatusCode, body, c.status, c.body)
		}
	}

	// Health.
	if got := get(t, s.url+"/healthz"); got != "ok\n" {
		t.Fatalf("healthz: %q", got)
	}
	if got := get(t, s.url+"/readyz"); got != "ready\n" {
		t.Fatalf("readyz: %q", got)
	}
}

func mustRequest(method, url, body string) *http.Request {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	return req
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestServeSpoolRestart stops ferry with events still queued and starts it
// again: each event runs exactly once across the two processes.
func TestServeSpoolRestart(t *testing.T) {
	dir := t.TempDir()
	yaml := samplesConfig(t, dir)
	s := startServe(t, yaml, "--drain-timeout", "5s")
	client := s.lambda()
	ctx := context.Background()
	// errors runs two at a time: two slow events hold both instances
	// while the rest wait in the queue.
	const n = 8
	var ids []string
	for i := range n {
		payload := `{"mode":"ok"}`
		if i < 2 {
			payload = `{"mode":"wait","ms":1000}`
		}
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), InvocationType: types.InvocationTypeEvent, Payload: []byte(payload)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("Event: %v", err)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		ids = append(ids, id)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log)
	}
	before := len(records(t, filepath.Join(dir, "successes.jsonl")))
	if before == n {
		t.Fatalf("every event ran before the stop; the test needs some left queued")
	}
	spooled, _ := filepath.Glob(filepath.Join(dir, "spool", "*"))
	if len(spooled) == 0 {
		t.Fatalf("nothing spooled, %d of %d ran:\n%s", before, n, s.log)
	}

	startServe(t, yaml)
	waitFor(t, "every event to run", func() bool { return len(records(t, filepath.Join(dir, "successes.jsonl"))) >= n })
	time.Sleep(200 * time.Millisecond) // a duplicate would show up here
	seen := map[string]int{}
	for _, r := range records(t, filepath.Join(dir, "successes.jsonl")) {
		seen[r["requestContext"].(map[string]any)["requestId"].(string)]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s ran %d times", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events ran, want %d: %v", len(seen), n, seen)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "spool", "*")); len(left) != 0 {
		t.Fatalf("spool not emptied: %v", left)
	}
}

// TestServeSIGTERM runs the ferry binary, sends it SIGTERM while requests
// are in flight, and checks that every one of them completes and the
// process exits 0.
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ferry binary")
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	file := write(t, "ferry.yaml", []byte(samplesConfig(t, dir)))
	cmd := exec.Command(bin, "serve", "-f", file, "--addr", "127.0.0.1:0")
	log := &sampletest.LogBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, "ferry serve to be ready", func() bool { return strings.Contains(log.String(), "ferry: ready") })
	url := listening.FindStringSubmatch(log.String())[1]

	const inflight = 2 // errors' concurrency
	results := make(chan error, inflight)
	for range inflight {
		go func() {
			resp, err := http.Post(url+"/2015-03-31/functions/errors/invocations", "application/json", strings.NewReader(`{"mode":"wait","ms":1500}`))
			if err != nil {
				results <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != `{"ok":true}` {
				err = fmt.Errorf("%d %s", resp.StatusCode, b)
			}
			results <- err
		}()
	}
	waitFor(t, "both invocations in flight", func() bool {
		return strings.Contains(get(t, url+"/metrics"), `ferry_instances{function="errors",state="busy"} 2`)
	})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the accepted requests drain: the
	// process is still running (its exit is the drain's end) when a dial
	// to its port fails.
	host := strings.TrimPrefix(url, "http://")
	waitFor(t, "new connections to be refused", func() bool {
		c, err := net.Dial("tcp", host)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-exited:
		t.Fatalf("ferry exited (%v) before new connections were seen refused during the drain\n%s", err, log)
	default:
	}
	for range inflight {
		if err := <-results; err != nil {
			t.Errorf("in-flight request failed during drain: %v", err)
		}
	}
	if err := <-exited; err != nil {
		t.Fatalf("exit: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "ferry: stopped") {
		t.Fatalf("no clean stop:\n%s", log)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still accepting after exit")
	}
}

// TestServeConfigErrors checks that a broken config names the file and
// line, and exits 2 without serving.
func TestServeConfigErrors(t *testing.T) {
	file := write(t, "ferry.yaml", []byte("functions:\n  - name: a\n    module: missing.wasm\n    memroy: 256\n"))
	var stderr bytes.Buffer
	code := runServe(context.Background(), []string{"-f", file, "--addr", "127.0.0.1:0"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "ferry.yaml:4") || !strings.Contains(stderr.String(), "memroy") {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
}

// TestServeWatch edits a source function while `ferry serve --watch`
// runs: the change is rebuilt and served; a change that does not compile
// leaves the previous build serving.
func TestServeWatch(t *testing.T) {
	// The handler lives inside the module so that it builds with ferry's
	// guest SDK, as a user's handler does inside their own module.
	dir, err := os.MkdirTemp("testdata", "watch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	source := func(body string) {
		src := "package main\n\nimport \"github.com/ferrywasm/ferry/hostabi/guest/lambda\"\n\nfunc main() {\n\tlambda.Start(func() (string, error) { " + body + " })\n}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	source(`return "v1", nil`)
	abs, _ := filepath.Abs(dir)
	s := startServe(t, "functions:\n  - name: live\n    source: "+abs+"\n", "--watch")
	// An edit before the watcher has its fingerprints goes unseen.
	waitFor(t, "the watcher", func() bool { return strings.Contains(s.log.String(), "ferry: watch: watching") })
	invoke := func() string {
		resp, err := http.Post(s.url+"/2015-03-31/functions/live/invocations", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := invoke(); got != `"v1"` {
		t.Fatalf("before: %s", got)
	}
	// A log written into the source folder is no build input: over
	// several watch periods it triggers nothing.
	logFile := filepath.Join(dir, "serve.log")
	for range 4 {
		if err := os.WriteFile(logFile, []byte(time.Now().String()), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(watchPeriod)
	}
	if strings.Contains(s.log.String(), "live rebuilt") {
		t.Fatalf("a log file in the source folder triggered a rebuild:\n%s", s.log.String())
	}
	source(`return "v2", nil`)
	waitFor(t, "the rebuild", func() bool { return strings.Contains(s.log.String(), "live rebuilt and reloaded") })
	if got := invoke(); got != `"v2"` {
		t.Fatalf("after the edit: %s", got)
	}
	time.Sleep(3 * watchPeriod) // time for a second rebuild, were one coming
	if n := strings.Count(s.log.String(), "live rebuilt and reloaded"); n != 1 {
		t.Fatalf("one edit made %d rebuilds:\n%s", n, s.log.String())
	}
	source(`return v3, nil`) // does not compile
	waitFor(t, "the failed rebuild", func() bool { return strings.Contains(s.log.String(), "live not reloaded") })
	if got := invoke(); got != `"v2"` {
		t.Fatalf("after a broken edit: %s", got)
	}
}
