package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

func azureConfig(t *testing.T, dir string) string {
	app, err := filepath.Abs("../../samples/azure-app")
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := filepath.Abs("../../samples/hello")
	return fmt.Sprintf(`
async:
  spoolDir: %[1]s/spool
functions:
  - name: hello
    source: %[3]s
azureApps:
  - path: %[2]s
    stateDir: %[1]s/azure
    environment:
      FERRY_AZURE_FUNCTION_KEYS_HttpExample: k1
`, dir, app, hello)
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeAzureApp serves the Azure sample app next to a Lambda function
// from one ferry.yaml: HTTP trigger with function keys, the queue chain,
// and queue messages kept across a restart.
func TestServeAzureApp(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, azureConfig(t, dir))
	if code, body := httpDo(t, "GET", s.url+"/api/HttpExample/tools?name=Ada", ""); code != 401 {
		t.Errorf("no key: %d %s", code, body)
	}
	code, body := httpDo(t, "GET", s.url+"/api/HttpExample/tools?name=Ada&code=k1", "")
	if code != 200 || !strings.Contains(body, `"greeting":"Hello, Ada.`) {
		t.Fatalf("%d %s", code, body)
	}
	waitFor(t, "the queue-triggered function", func() bool {
		return strings.Contains(s.log.String(), `QueueExample: {"category":"tools"`)
	})
	if !strings.Contains(s.log.String(), "ferry: azure    HttpExample  GET,POST "+s.url+"/api/HttpExample (authLevel function)") {
		t.Errorf("routes not listed:\n%s", s.log)
	}
	// The Lambda side is unchanged.
	out, err := s.lambda().Invoke(context.Background(), &lambda.InvokeInput{FunctionName: strPtr("hello"), Payload: []byte(`"World"`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("hello: %v %v", err, out)
	}
	if code, _ := httpDo(t, "GET", s.url+"/nowhere", ""); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	if code, body := httpDo(t, "POST", s.url+"/admin/queues/outqueue/messages", strings.Repeat("x", 65<<10)); code != 413 || !strings.Contains(body, "<Code>RequestBodyTooLarge</Code>") {
		t.Errorf("a message over 64 KiB: %d %s", code, body)
	}

	// A message not visible yet is still there after a restart.
	code, body = httpDo(t, "POST", s.url+"/admin/queues/outqueue/messages?visibilitytimeout=3600", "later")
	if code != 201 {
		t.Fatalf("put: %d %s", code, body)
	}
	if _, metrics := httpDo(t, "GET", s.url+"/metrics", ""); !strings.Contains(metrics, `ferry_azure_queue_messages{app="azure-app",queue="outqueue"} 1`) ||
		!strings.Contains(metrics, `ferry_invocations_total{function="azure-app",outcome="success",trigger="queue"} 1`) {
		t.Errorf("metrics:\n%s", metrics)
	}
	if status := s.stop(t); status != 0 {
		t.Fatalf("exit %d:\n%s", status, s.log)
	}
	s2 := startServe(t, azureConfig(t, dir))
	code, body = httpDo(t, "GET", s2.url+"/admin/queues/outqueue/messages", "")
	var msgs []map[string]any
	if err := json.Unmarshal([]byte(body), &msgs); code != 200 || err != nil || len(msgs) != 1 || msgs[0]["MessageText"] != "later" {
		t.Errorf("after a restart: %d %s", code, body)
	}
}

// TestServeAzureAppFlag: --azure-app serves an app without a ferry.yaml;
// a folder that is not an app is a usage error.
func TestServeAzureAppFlag(t *testing.T) {
	app, _ := filepath.Abs("../../samples/azure-app")
	t.Chdir(t.TempDir()) // no ferry.yaml here
	var log sampletest.LogBuffer
	done := make(chan int, 1)
	go func() {
		done <- runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--azure-app", "nope"}, io.Discard, &log)
	}()
	if code := <-done; code != 2 || !strings.Contains(log.String(), "not an Azure Functions app folder") {
		t.Errorf("bad app folder: exit %d\n%s", code, log.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log2 sampletest.LogBuffer
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--no-access-log", "--azure-app", app}, io.Discard, &log2)
	}()
	waitFor(t, "ferry: ready", func() bool { return strings.Contains(log2.String(), "ferry: ready") })
	url := listening.FindStringSubmatch(log2.String())[1]
	// No keys configured: a function-level route refuses every request.
	if code, body := httpDo(t, "GET", url+"/api/HttpExample?name=x&code=guess", ""); code != 401 {
		t.Errorf("%d %s", code, body)
	}
	// The app is no Lambda function: neither the Invoke API nor the
	// Runtime Interface Emulator's route reaches it, and it is not listed.
	envelope := `{"function":"HttpExample","request":{"Data":{},"Metadata":{}}}`
	for _, path := range []string{"/2015-03-31/functions/azure-app/invocations", "/2015-03-31/functions/function/invocations"} {
		if code, body := httpDo(t, "POST", url+path, envelope); code != 404 || !strings.Contains(body, "Function not found") {
			t.Errorf("POST %s: %d %s", path, code, body)
		}
	}
	if code, body := httpDo(t, "GET", url+"/2015-03-31/functions/", ""); code != 200 || !strings.Contains(body, `"Functions":[]`) {
		t.Errorf("ListFunctions: %d %s", code, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d\n%s", code, log2.String())
	}
}

func strPtr(s string) *string { return &s }

// TestInvokeAzure: ferry invoke --azure-app sends one invocation document
// to one function; a non-2xx reply is a failed invocation (exit 1).
func TestInvokeAzure(t *testing.T) {
	app, _ := filepath.Abs("../../samples/azure-app")
	for _, tt := range []struct {
		doc, want string
		code      int
	}{
		{`{"Data":{"myQueueItem":"hello"},"Metadata":{"DequeueCount":1,"Id":"m1"}}`, `"ReturnValue":"processed hello"`, 0},
		{`{"Data":{"myQueueItem":"poison"},"Metadata":{"DequeueCount":1,"Id":"m2"}}`, `"cannot process this message"`, 1},
	} {
		var stdout, stderr strings.Builder
		code := runInvoke([]string{"--azure-app", app, "QueueExample", "-e", "-"}, strings.NewReader(tt.doc), &stdout, &stderr)
		if code != tt.code || !strings.Contains(stdout.String(), tt.want) || !strings.Contains(stderr.String(), "Executed 'Functions.QueueExample'") {
			t.Errorf("%s: exit %d, stdout %s\nstderr %s", tt.doc, code, stdout.String(), stderr.String())
		}
	}
	// The README's line, with the invocation document the sample ships.
	var stdout, stderr strings.Builder
	if code := runInvoke([]string{"--azure-app", app, "QueueExample", "-e", filepath.Join(app, "QueueExample", "invocation.json")}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"ReturnValue":"processed hello from invocation.json"`) {
		t.Errorf("the sample's invocation.json: exit %d, stdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if code := runInvoke([]string{"--azure-app", app, "Nope"}, strings.NewReader(""), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `no function "Nope"`) {
		t.Errorf("unknown function: %d %s", code, stderr.String())
	}
}
