package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

const (
	testKeyID  = "AKIDFERRYTEST"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFERRYKEY"
)

// signedServer serves functions with credentials required, over loopback;
// Event invocations go through a queue whose successes land in a file.
func signedServer(t *testing.T, functions map[string]*adapter.Function, d gateway.Deployment) string {
	t.Helper()
	s := gateway.NewServer(gateway.WithCredentials(gateway.Credentials{testKeyID: testSecret}, "us-east-1"))
	d.Functions = functions
	if err := s.Deploy(d); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func sdkClient(url, region, id, secret string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestLambdaAPIRequiresSigV4: with keys configured, the SDK signing with
// one of them invokes (payloads, ARNs, qualifiers, Event), lists and gets;
// a wrong secret, an unknown key, another region, an expired or a missing
// signature are refused with Lambda's 403 shapes; HTTP routes stay public.
func TestLambdaAPIRequiresSigV4(t *testing.T) {
	successes := filepath.Join(t.TempDir(), "ok.jsonl")
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello",
		Environment: map[string]string{"API_TOKEN": "do-not-echo-me"},
		Async:       adapter.AsyncConfig{OnSuccess: adapter.Destination{File: successes}}})
	api := sampletest.Load(t, "../../samples/http-api", adapter.Config{Name: "api"})
	functions := map[string]*adapter.Function{"hello": hello, "api": api}
	q, err := gateway.NewQueue(functions, gateway.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	url := signedServer(t, functions, gateway.Deployment{Queue: q, Routes: []gateway.Route{
		{Function: "api", Path: "/hello", HTTP: events.HTTPRoute{Format: events.FormatHTTPAPI}},
	}})
	ctx := context.Background()

	good := sdkClient(url, "us-east-1", testKeyID, testSecret)
	for _, name := range []string{"hello", "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST", "123456789012:function:hello"} {
		out, err := good.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`"signed"`)})
		if err != nil || string(out.Payload) != `"Hello signed!"` {
			t.Fatalf("Invoke %s: %v %+v", name, err, out)
		}
	}
	out, err := good.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Qualifier: aws.String("$LATEST"), Payload: []byte(`"q"`)})
	if err != nil || string(out.Payload) != `"Hello q!"` {
		t.Fatalf("Invoke with Qualifier: %v", err)
	}
	out, err = good.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`"event"`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v", err)
	}
	list, err := good.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 2 {
		t.Fatalf("ListFunctions: %v", err)
	}
	got, err := good.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil || got.Configuration.Environment != nil {
		t.Fatalf("GetFunction: %v %+v", err, got.Configuration.Environment)
	}

	for _, tt := range []struct {
		what   string
		client *lambda.Client
		code   string
	}{
		{"wrong secret", sdkClient(url, "us-east-1", testKeyID, "not-the-secret"), "InvalidSignatureException"},
		{"unknown key", sdkClient(url, "us-east-1", "AKIDUNKNOWN", testSecret), "UnrecognizedClientException"},
		{"another region", sdkClient(url, "eu-west-1", testKeyID, testSecret), "InvalidSignatureException"},
	} {
		_, err := tt.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"x"`)})
		if apiErrorCode(err) != tt.code {
			t.Errorf("%s: Invoke: %v, want %s", tt.what, err, tt.code)
		}
		if _, err := tt.client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); apiErrorCode(err) != tt.code {
			t.Errorf("%s: ListFunctions: %v, want %s", tt.what, err, tt.code)
		}
	}

	// Signed by the SDK's signer, but 10 minutes ago.
	body := []byte(`"old"`)
	req, _ := http.NewRequest(http.MethodPost, url+"/2015-03-31/functions/hello/invocations", bytes.NewReader(body))
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now().Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	status, kind, msg := do(t, req)
	if status != 403 || kind != "InvalidSignatureException" || !strings.Contains(msg, "Signature expired") {
		t.Errorf("expired: %d %s %s", status, kind, msg)
	}
	// The same signature over another body is refused.
	req, _ = http.NewRequest(http.MethodPost, url+"/2015-03-31/functions/hello/invocations", bytes.NewReader(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader(`"tampered"`))
	req.ContentLength = int64(len(`"tampered"`))
	if status, kind, _ := do(t, req); status != 403 || kind != "InvalidSignatureException" {
		t.Errorf("tampered body: %d %s", status, kind)
	}

	// Unsigned: every Lambda API route, the RIE route included.
	for _, tt := range []struct{ method, path string }{
		{"POST", "/2015-03-31/functions/hello/invocations"},
		{"POST", "/2015-03-31/functions/function/invocations"},
		{"GET", "/2015-03-31/functions/"},
		{"GET", "/2015-03-31/functions/hello"},
		{"GET", "/2015-03-31/anything"},
	} {
		req, _ := http.NewRequest(tt.method, url+tt.path, strings.NewReader(`"x"`))
		if status, kind, _ := do(t, req); status != 403 || kind != "MissingAuthenticationTokenException" {
			t.Errorf("unsigned %s %s: %d %s", tt.method, tt.path, status, kind)
		}
	}
	// HTTP routes are public, as API Gateway's are.
	req, _ = http.NewRequest(http.MethodGet, url+"/hello", nil)
	if status, _, body := do(t, req); status != 200 || !strings.Contains(body, `"rawPath":"/hello"`) {
		t.Errorf("HTTP route: %d %s", status, body)
	}

	// The Event invocation ran.
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(successes)
		if bytes.Contains(b, []byte(`"requestPayload":"event"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the signed Event invocation did not run: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func do(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(b)
}

// TestInvokeAPIRefusesForeignARNs: references Lambda would refuse, or that
// name another region or account, are not resolved to a local function.
func TestInvokeAPIRefusesForeignARNs(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	client, _ := lambdaClient(t, map[string]*adapter.Function{"hello": hello})
	ctx := context.Background()
	for _, tt := range []struct{ name, code string }{
		{"x:function:hello", "ValidationException"},
		{"hello:", "ValidationException"},
		{"hello:a:b", "ValidationException"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:hello", "ResourceNotFoundException"},
		{"arn:aws:lambda:us-east-1:999999999999:function:hello", "ResourceNotFoundException"},
		{"999999999999:function:hello", "ResourceNotFoundException"},
		{"arn:aws:lambda:us-east-1:123456789012:function:function", "ResourceNotFoundException"},
	} {
		_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tt.name), Payload: []byte(`"x"`)})
		if apiErrorCode(err) != tt.code {
			t.Errorf("Invoke %q: %v, want %s", tt.name, err, tt.code)
		}
	}
	// A client context that is JSON but not an object is refused, as the
	// guest SDK could not decode it.
	for _, cc := range []string{`[1,2]`, `"s"`, `null`, `42`} {
		_, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"x"`),
			ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
		if apiErrorCode(err) != "InvalidRequestContentException" {
			t.Errorf("client context %s: %v", cc, err)
		}
	}
}

// TestInvokeAPIHidesMountOnlyFunctions: a function served through a mount
// (an Azure app) is neither listed nor invoked by the Lambda API.
func TestInvokeAPIHidesMountOnlyFunctions(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	s := gateway.NewServer()
	if err := s.Deploy(gateway.Deployment{Functions: map[string]*adapter.Function{"app": hello}, MountOnly: map[string]bool{"app": true}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := sdkClient(srv.URL, "us-east-1", "x", "y")
	ctx := context.Background()
	for _, name := range []string{"app", "function"} {
		if _, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`"x"`)}); apiErrorCode(err) != "ResourceNotFoundException" {
			t.Errorf("Invoke %s: %v", name, err)
		}
	}
	if list, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil || len(list.Functions) != 0 {
		t.Errorf("ListFunctions: %v %+v", err, list)
	}
}

// TestAccessLogRedactsKeys: an Azure function key (?code=) or a presigned
// signature in a URL never reaches the access log.
func TestAccessLogRedactsKeys(t *testing.T) {
	for _, json := range []bool{false, true} {
		var log bytes.Buffer
		s := gateway.NewServer(gateway.WithAccessLog(&log, json))
		if err := s.Deploy(gateway.Deployment{}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		for _, path := range []string{"/api/HttpExample?name=x&code=function-key-123", "/x?X-Amz-Signature=sig-456&CODE=other-789"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		srv.Close()
		for _, secret := range []string{"function-key-123", "sig-456", "other-789"} {
			if strings.Contains(log.String(), secret) {
				t.Errorf("json %v: %s in the access log:\n%s", json, secret, log.String())
			}
		}
		if !strings.Contains(log.String(), "name=x") || !strings.Contains(log.String(), "REDACTED") {
			t.Errorf("json %v: log:\n%s", json, log.String())
		}
	}
}

// TestRESTRouteAPIKey: a REST route with APIKeyRequired answers 403
// {"message":"Forbidden"} without one of the server's API keys in
// x-api-key, as API Gateway does; with one it invokes; other routes stay
// open.
func TestRESTRouteAPIKey(t *testing.T) {
	rest := sampletest.Load(t, "../../samples/apigw-rest", adapter.Config{Name: "rest"})
	s := gateway.NewServer(gateway.WithAPIKeys([]string{"key-one", "key-two"}))
	err := s.Deploy(gateway.Deployment{Functions: map[string]*adapter.Function{"rest": rest}, Routes: []gateway.Route{
		{Function: "rest", Path: "/keyed/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatREST}, APIKeyRequired: true},
		{Function: "rest", Path: "/open/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatREST}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tt := range []struct {
		path, key string
		status    int
		kind      string
	}{
		{"/keyed/pets/1", "", 403, "ForbiddenException"},
		{"/keyed/pets/1", "key-three", 403, "ForbiddenException"},
		{"/keyed/pets/1", "key-two", 200, ""},
		{"/open/pets/1", "", 200, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
		if tt.key != "" {
			req.Header.Set("X-Api-Key", tt.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("X-Amzn-Errortype") != tt.kind || (tt.status == 403 && string(b) != `{"message":"Forbidden"}`) {
			t.Errorf("%s key %q: %d %s %s", tt.path, tt.key, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b)
		}
	}
}
