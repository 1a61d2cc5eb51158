package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestServeCredentials: without keys ferry serve stays on loopback and
// says the control surface is open; beyond loopback it refuses to start
// unless --insecure-open (which warns); with keys in the environment it
// listens anywhere and the SDK signing with them works while unsigned
// calls get 403. The secret appears in no log.
func TestServeCredentials(t *testing.T) {
	yaml := "functions:\n  - name: hello\n    module: " + sampletest.Module(t, "../../samples/hello") +
		"\n    environment:\n      TOKEN: env-secret-value\n"
	file := write(t, "ferry.yaml", []byte(yaml))
	for _, k := range []string{"FERRY_ADDR", "FERRY_INSECURE_OPEN", "FERRY_ACCESS_KEYS", "FERRY_ACCESS_KEYS_FILE", "FERRY_AWS_ACCESS_KEY_ID", "FERRY_AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
	}

	var stderr strings.Builder
	code := runServe(context.Background(), []string{"-f", file, "--addr", "0.0.0.0:0"}, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "refusing to listen on 0.0.0.0:") || !strings.Contains(stderr.String(), "--insecure-open") {
		t.Fatalf("no keys beyond loopback: exit %d\n%s", code, stderr.String())
	}

	s := startServeArgs(t, file, "--addr", "0.0.0.0:0", "--insecure-open")
	if !strings.Contains(s.log.String(), "WARNING: --insecure-open") {
		t.Errorf("no warning:\n%s", s.log)
	}
	s.stop(t)

	s = startServeArgs(t, file, "--addr", "127.0.0.1:0")
	if !strings.Contains(s.log.String(), "listening on loopback only") {
		t.Errorf("no notice that the control surface is open:\n%s", s.log)
	}
	if code, body := httpDo(t, "POST", s.url+"/2015-03-31/functions/hello/invocations", `"open"`); code != 200 || body != `"Hello open!"` {
		t.Errorf("loopback without keys: %d %s", code, body)
	}
	s.stop(t)

	const id, secret = "AKIDSERVE", "serve-secret-access-key"
	t.Setenv("FERRY_AWS_ACCESS_KEY_ID", id)
	t.Setenv("FERRY_AWS_SECRET_ACCESS_KEY", secret)
	s = startServeArgs(t, file, "--addr", "0.0.0.0:0")
	client := lambda.New(lambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"keys"`)})
	if err != nil || string(out.Payload) != `"Hello keys!"` {
		t.Fatalf("signed Invoke: %v", err)
	}
	got, err := client.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil || got.Configuration.Environment != nil {
		t.Errorf("GetFunction: %v %+v", err, got)
	}
	wrong := lambda.New(lambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, "guess", ""),
	})
	_, err = wrong.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v", err)
	}
	for _, path := range []string{"/2015-03-31/functions/hello/invocations", "/2015-03-31/functions/function/invocations"} {
		resp, err := http.Post(s.url+path, "application/json", strings.NewReader(`"x"`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
			t.Errorf("unsigned %s: %d %s", path, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
	if metrics := get(t, s.url+"/metrics"); strings.Contains(metrics, secret) || strings.Contains(metrics, "env-secret-value") {
		t.Error("/metrics carries a secret")
	}
	s.stop(t)
	if strings.Contains(s.log.String(), secret) || strings.Contains(s.log.String(), "env-secret-value") {
		t.Errorf("a secret is in the log:\n%s", s.log)
	}
}
