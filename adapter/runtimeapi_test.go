package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestContextMatchesRuntimeAPILoop invokes testdata/ctxecho twice with the
// same invocation: through the engine, and built natively under
// aws-lambda-go's own runtime API loop (invoke_loop.go, as on AWS Lambda)
// against a Runtime API served here. Everything the loop puts in the
// handler's context (the whole LambdaContext, TenantID included, the
// trace id as a context value and in _X_AMZN_TRACE_ID, and the base
// context of the handler's options) must be the same.
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

	native, failed, _ := underRuntimeAPILoop(t, nativeBuild(t, "testdata/ctxecho"), map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       requestID,
		"Lambda-Runtime-Invoked-Function-Arn": arn,
		"Lambda-Runtime-Trace-Id":             trace,
		"Lambda-Runtime-Aws-Tenant-Id":        tenant,
		"Lambda-Runtime-Client-Context":       clientContext,
		"Lambda-Runtime-Cognito-Identity":     cognito,
	}, event)
	if failed {
		t.Fatalf("native: %s", native)
	}

	type seen struct {
		Context    map[string]any `json:"context"`
		TraceValue any            `json:"traceValue"`
		TraceEnv   string         `json:"traceEnv"`
		BaseValue  any            `json:"baseValue"`
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
	if got.Context["TenantID"] != tenant || got.BaseValue == nil {
		t.Fatalf("TenantID = %v, want %q; baseValue %v (both sides lost them?): %s", got.Context["TenantID"], tenant, got.BaseValue, g)
	}
}

// nativeBuild builds the program in dir for this machine.
func nativeBuild(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(dir))
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s natively: %v\n%s", dir, err, out)
	}
	return bin
}

// underRuntimeAPILoop runs bin, a handler built natively, for one
// invocation under aws-lambda-go's own runtime API loop (invoke_loop.go,
// as on AWS Lambda), against a Runtime API served here that hands it
// event with headers (a deadline a minute away unless they set one). It
// returns what the loop posted, its response or (failed) its error
// document, and whether the process then exited instead of asking for the
// next event, as aws-lambda-go does after a panic.
func underRuntimeAPILoop(t *testing.T, bin string, headers map[string]string, event string) (body []byte, failed, exited bool) {
	t.Helper()
	type posted struct {
		body   []byte
		failed bool
	}
	response := make(chan posted, 1)
	nextAgain := make(chan struct{}, 1)
	served := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if served {
			nextAgain <- struct{}{}
			<-r.Context().Done() // the process is killed once it answered
			return
		}
		served = true
		h := w.Header()
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		for k, v := range headers {
			h.Set(k, v)
		}
		io.WriteString(w, event)
	})
	reply := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			response <- posted{body, failed}
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", reply(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", reply(true))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.CloseClientConnections()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME="+filepath.Base(bin), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "_HANDLER="+filepath.Base(bin))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	var p posted
	select {
	case p = <-response:
	case <-done:
		t.Fatalf("the native handler exited without answering:\n%s", &stderr)
	case <-time.After(2 * time.Minute):
		t.Fatal("the native handler did not answer")
	}
	select {
	case <-nextAgain:
	case <-done:
		exited = true
	case <-time.After(2 * time.Minute):
		t.Fatal("the native handler neither exited nor asked for the next event")
	}
	return p.body, p.failed, exited
}

// TestFailuresMatchRuntimeAPILoop fails testdata/failing in each way a
// handler can, through the engine and natively under aws-lambda-go's own
// runtime API loop, and compares the error documents: errorType and
// errorMessage, and of a panic's stack trace the frames from the runtime's
// panic down to the handler's last (labels, paths, lines; above them each
// side has its own invoker, as many frames deep), and whether the instance
// is discarded where the loop's process exits. The guest SDK mirrors the
// loop's error handling (hostabi/guest/lambda/invoke_wasip1.go); this is
// what keeps it honest.
func TestFailuresMatchRuntimeAPILoop(t *testing.T) {
	f := sampletest.Load(t, "testdata/failing", adapter.Config{Name: "failing", Timeout: time.Minute, Concurrency: 1})
	bin := nativeBuild(t, "testdata/failing")
	cases := []struct {
		name, mode, clientContext, cognito string
		stack                              bool // a panic's: has a stack trace
	}{
		{name: "error", mode: "error"},
		{name: "value-error", mode: "value-error"},
		{name: "document", mode: "document"},
		{name: "panic-error", mode: "panic-error", stack: true},
		{name: "panic-string", mode: "panic-string", stack: true},
		{name: "panic-document", mode: "panic-document"},
		{name: "nil-map", mode: "nil-map", stack: true},
		{name: "client-context", mode: "ok", clientContext: `{"Client":`},
		{name: "cognito-identity", mode: "ok", cognito: `not json`},
	}
	type document struct {
		ErrorMessage string                                     `json:"errorMessage"`
		ErrorType    string                                     `json:"errorType"`
		StackTrace   []messages.InvokeResponse_Error_StackFrame `json:"stackTrace"`
	}
	decode := func(who string, b []byte) document {
		var doc document
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s's error document %s: %v", who, b, err)
		}
		return doc
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			event := `{"Mode":"` + c.mode + `"}`
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(event),
				ClientContext: []byte(c.clientContext), CognitoIdentity: []byte(c.cognito)})
			if err != nil || !res.Failed() {
				t.Fatalf("ferry did not fail: %v %s", err, res.Payload)
			}
			discarded := f.Stats().Instances == 0
			headers := map[string]string{"Lambda-Runtime-Aws-Request-Id": res.RequestID}
			if c.clientContext != "" {
				headers["Lambda-Runtime-Client-Context"] = c.clientContext
			}
			if c.cognito != "" {
				headers["Lambda-Runtime-Cognito-Identity"] = c.cognito
			}
			body, failed, exited := underRuntimeAPILoop(t, bin, headers, event)
			if !failed {
				t.Fatalf("native did not fail: %s", body)
			}
			got, want := decode("ferry", res.Payload), decode("native", body)
			if got.ErrorType != want.ErrorType || got.ErrorMessage != want.ErrorMessage {
				t.Errorf("ferry %s %q, native %s %q", got.ErrorType, got.ErrorMessage, want.ErrorType, want.ErrorMessage)
			}
			if discarded != exited {
				t.Errorf("instance discarded: %v; native process exited: %v", discarded, exited)
			}
			if (len(want.StackTrace) > 0) != c.stack {
				t.Fatalf("native stack trace %v, want one: %v", want.StackTrace, c.stack)
			}
			if !c.stack {
				if len(got.StackTrace) > 0 {
					t.Errorf("ferry has a stack trace, native none: %v", got.StackTrace)
				}
				return
			}
			gi, gs := handlerFrames(got.StackTrace)
			wi, ws := handlerFrames(want.StackTrace)
			if len(ws) == 0 || gi != wi || !slices.Equal(gs, ws) || len(got.StackTrace) > 32 {
				t.Errorf("stack traces differ:\nferry:  %v\nnative: %v", got.StackTrace, want.StackTrace)
			}
		})
	}
}

// handlerFrames returns the frames of a panic's stack trace from the
// runtime's panic to testdata/failing's handler function, and the index
// of the first.
func handlerFrames(stack []messages.InvokeResponse_Error_StackFrame) (int, []messages.InvokeResponse_Error_StackFrame) {
	first := slices.IndexFunc(stack, func(f messages.InvokeResponse_Error_StackFrame) bool { return f.Path == "runtime/panic.go" })
	last := slices.IndexFunc(stack, func(f messages.InvokeResponse_Error_StackFrame) bool {
		return f.Path == "failing/main.go" && f.Label == "handler"
	})
	if first < 0 || last < first {
		return first, nil
	}
	return first, stack[first : last+1]
}
