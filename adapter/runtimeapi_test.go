package adapter_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestContextMatchesRuntimeAPILoop invokes testdata/ctxecho twice with the
// same invocation: through the engine, and built natively under
// aws-lambda-go's own runtime API loop (invoke_loop.go, as on AWS Lambda)
// against a Runtime API served here. Everything the loop puts in the
// handler's context (the whole LambdaContext, TenantID included, and the
// trace id as a context value and in _X_AMZN_TRACE_ID) must be the same.
// A new aws-lambda-go that puts something more in the context fails here.
func TestContextMatchesRuntimeAPILoop(t *testing.T) {
	const (
		requestID = "11111111-2222-4333-8444-555555555555"
		arn       = "arn:aws:lambda:us-east-1:123456789012:function:ctxecho"
		trace     = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		tenant    = "blue"
		event     = `{"k":"v"}`
	)
	clientContext := `{"Client":{"installation_id":"inst-1","app_title":"app","app_version_code":"3","app_package_name":"p"},"env":{"e":"1"},"custom":{"c":"2"}}`
	cognito := `{"cognitoIdentityId":"us-east-1:id","cognitoIdentityPoolId":"us-east-1:pool"}`

	f := sampletest.Load(t, "testdata/ctxecho", adapter.Config{Name: "ctxecho", Timeout: time.Minute})
	res, err := f.Invoke(context.Background(), &adapter.Request{
		Payload: []byte(event), RequestID: requestID, TraceID: trace, InvokedFunctionARN: arn, TenantID: tenant,
		ClientContext: []byte(clientContext), CognitoIdentity: []byte(cognito),
	})
	if err != nil || res.Failed() {
		t.Fatalf("ferry: %v %s", err, res.Payload)
	}
	ferry := res.Payload

	bin := filepath.Join(t.TempDir(), "ctxecho")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "testdata/ctxecho"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ctxecho natively: %v\n%s", err, out)
	}
	response := make(chan []byte, 1)
	served := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if served {
			<-r.Context().Done() // the process is killed once it answered
			return
		}
		served = true
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", requestID)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", arn)
		h.Set("Lambda-Runtime-Trace-Id", trace)
		h.Set("Lambda-Runtime-Aws-Tenant-Id", tenant)
		h.Set("Lambda-Runtime-Client-Context", clientContext)
		h.Set("Lambda-Runtime-Cognito-Identity", cognito)
		io.WriteString(w, event)
	})
	reply := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		response <- body
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", reply)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", reply)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.CloseClientConnections()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=ctxecho", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "_HANDLER=ctxecho")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var native []byte
	select {
	case native = <-response:
	case <-time.After(2 * time.Minute):
		t.Fatal("the native handler did not answer")
	}

	type seen struct {
		Context    map[string]any `json:"context"`
		TraceValue any            `json:"traceValue"`
		TraceEnv   string         `json:"traceEnv"`
		Event      map[string]any `json:"event"`
	}
	var got, want seen
	if err := json.Unmarshal(ferry, &got); err != nil {
		t.Fatalf("ferry: %v: %s", err, ferry)
	}
	if err := json.Unmarshal(native, &want); err != nil {
		t.Fatalf("native: %v: %s", err, native)
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("the handler's context differs:\nferry:  %s\nnative: %s", g, w)
	}
	if got.Context["TenantID"] != tenant {
		t.Fatalf("TenantID = %v, want %q (both sides lost it?): %s", got.Context["TenantID"], tenant, g)
	}
}
