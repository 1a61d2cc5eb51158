package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// lambdaClient returns aws-sdk-go-v2's Lambda client pointed at the Invoke
// API over loopback, the way a user points it at ferry with an endpoint
// URL.
func lambdaClient(t *testing.T, functions map[string]*adapter.Function) (*lambda.Client, string) {
	s := gateway.NewServer()
	if err := s.Deploy(gateway.Deployment{Functions: functions}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFERRY", "secret", ""),
		RetryMaxAttempts: 1,
	}), srv.URL
}

func TestInvokeAPIWithSDK(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello", Environment: map[string]string{"K": "V"}})
	errs := sampletest.Load(t, "../../samples/errors", adapter.Config{Name: "errors", Concurrency: 1, Timeout: 10 * time.Second}) // its calls that are not about time must not time out on a loaded machine
	ctxecho := sampletest.Load(t, "../../adapter/testdata/ctxecho", adapter.Config{Name: "ctxecho"})
	client, _ := lambdaClient(t, map[string]*adapter.Function{"hello": hello, "errors": errs, "ctxecho": ctxecho})
	ctx := context.Background()

	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"SDK"`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `"Hello SDK!"` || out.StatusCode != 200 || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("Invoke: %d %s %v", out.StatusCode, out.Payload, out.FunctionError)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if !strings.Contains(string(tail), "REPORT RequestId: ") || !strings.Contains(string(tail), "hello invoked as hello") {
		t.Fatalf("LogResult: %q", tail)
	}

	// By ARN, partial ARN and qualifier.
	for _, name := range []string{"arn:aws:lambda:us-east-1:123456789012:function:hello", "123456789012:function:hello", "hello:$LATEST"} {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`"arn"`)})
		if err != nil || string(out.Payload) != `"Hello arn!"` {
			t.Fatalf("Invoke %s: %v %s", name, err, out.Payload)
		}
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("prod")}); !isErr[*types.ResourceNotFoundException](err) {
		t.Fatalf("unknown qualifier: %v", err)
	}

	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v %+v", err, out)
	}

	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"error","field":"x"}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorType":"ValidationError"`) {
		t.Fatalf("function error: %v %v %s", err, out.FunctionError, out.Payload)
	}

	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")}); !isErr[*types.ResourceNotFoundException](err) || !strings.Contains(err.Error(), "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope") {
		t.Fatalf("unknown function: %v", err)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{"bad json`)}); !isErr[*types.InvalidRequestContentException](err) {
		t.Fatalf("bad JSON: %v", err)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: bytes.Repeat([]byte(" "), 6291457)}); !isErr[*types.RequestTooLargeException](err) {
		t.Fatalf("oversized: %v", err)
	}

	// Client context reaches the function's LambdaContext.
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"t1"}}`))
	out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ctxecho"), ClientContext: aws.String(cc)})
	if err != nil || !strings.Contains(string(out.Payload), `"tenant":"t1"`) {
		t.Fatalf("client context: %v %s", err, out.Payload)
	}

	// JSON that is not an object is refused as Lambda refuses it, before
	// the guest SDK would fail to read it into a ClientContext.
	for _, bad := range []string{`"a string"`, `[1,2]`, `null`, `42`, ` `} {
		cc := base64.StdEncoding.EncodeToString([]byte(bad))
		if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ctxecho"), ClientContext: aws.String(cc)}); !isErr[*types.InvalidRequestContentException](err) || !strings.Contains(err.Error(), "Client context must be a valid Base64-encoded JSON object") {
			t.Fatalf("client context %s: %v", bad, err)
		}
	}

	// A saturated function throttles instead of queueing.
	started := make(chan struct{})
	go func() {
		close(started)
		errs.Invoke(ctx, &adapter.Request{Payload: []byte(`{"mode":"sleep"}`)})
	}()
	<-started
	for errs.Stats().Busy == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("errors"), Payload: []byte(`{"mode":"ok"}`)}); !isErr[*types.TooManyRequestsException](err) {
		t.Fatalf("saturated: %v", err)
	}

	list, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 3 || aws.ToString(list.Functions[1].FunctionName) != "errors" || aws.ToInt32(list.Functions[2].MemorySize) != 128 {
		t.Fatalf("ListFunctions: %v %+v", err, list)
	}
	got, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil || aws.ToString(got.Configuration.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:hello" || got.Configuration.Environment != nil {
		t.Fatalf("GetFunction: %v %+v", err, got)
	}
}

// TestInvokeAPIRIERoute checks the Runtime Interface Emulator's route and
// an Event invocation's clear refusal, with plain HTTP as curl sends it.
func TestInvokeAPIRIERoute(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	_, url := lambdaClient(t, map[string]*adapter.Function{"hello": hello})
	resp, err := http.Post(url+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(`"RIE"`))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.String() != `"Hello RIE!"` {
		t.Fatalf("RIE route: %d %s", resp.StatusCode, body.String())
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/2015-03-31/functions/hello/invocations", strings.NewReader(`"x"`))
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidParameterValueException" {
		t.Fatalf("Event: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestInvokeAPITenantID invokes with aws-sdk-go-v2's TenantId (the
// X-Amz-Tenant-Id header): the handler sees it as lambdacontext's TenantID.
func TestInvokeAPITenantID(t *testing.T) {
	ctxecho := sampletest.Load(t, "../../adapter/testdata/ctxecho", adapter.Config{Name: "ctxecho"})
	client, _ := lambdaClient(t, map[string]*adapter.Function{"ctxecho": ctxecho})
	for _, tenant := range []string{"blue", ""} {
		in := &lambda.InvokeInput{FunctionName: aws.String("ctxecho"), Payload: []byte(`{}`)}
		if tenant != "" {
			in.TenantId = aws.String(tenant)
		}
		out, err := client.Invoke(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			Context struct{ TenantID string } `json:"context"`
		}
		if err := json.Unmarshal(out.Payload, &reply); err != nil || reply.Context.TenantID != tenant {
			t.Fatalf("tenant %q: the handler saw %q (%v): %s", tenant, reply.Context.TenantID, err, out.Payload)
		}
	}
}
