package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// s3Server starts an S3-compatible server (gofakes3) on loopback with a
// bucket of objects, put there with the SDK natively, and points this
// process's SDK at it through the standard environment variables.
func s3Server(t testing.TB) (url string, env map[string]string) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	env = map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIDFERRYTEST",
		"AWS_SECRET_ACCESS_KEY": "ferry-secret",
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL_S3":   srv.URL,
		"S3_FORCE_PATH_STYLE":   "true",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	// A CA bundle of this machine's would make the SDK want its own
	// client type; the function's environment has none.
	t.Setenv("AWS_CA_BUNDLE", "")
	c, err := newClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ferry-bucket")}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string][]byte{
		"hello.txt":     []byte("Hello from S3!"),
		"dir/data.json": []byte(`{"ok":true}`),
		"big.bin":       bytes.Repeat([]byte("ferry-s3-"), 400_000), // 3.6 MB, read in many chunks
	} {
		ct := "text/plain"
		if strings.HasSuffix(key, ".json") {
			ct = "application/json"
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ferry-bucket"), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentType: aws.String(ct)}); err != nil {
			t.Fatal(err)
		}
	}
	client = c
	return srv.URL, env
}

// TestDifferential reads the same objects natively and under ferry, the
// SDK configured by the same environment, and compares what each got.
func TestDifferential(t *testing.T) {
	url, env := s3Server(t)
	f := sampletest.Load(t, ".", adapter.Config{Name: "s3-reader", Environment: env, AllowedOutboundHosts: []string{url}, Timeout: 10e9})
	for _, r := range []Request{
		{Bucket: "ferry-bucket", Key: "hello.txt"},
		{Bucket: "ferry-bucket", Key: "dir/data.json"},
		{Bucket: "ferry-bucket", Key: "big.bin"},
		{Bucket: "ferry-bucket", Key: "missing"},
		{Bucket: "no-such-bucket", Key: "x"},
	} {
		t.Run(r.Key, func(t *testing.T) {
			ev, _ := json.Marshal(r)
			want, nerr := handler(context.Background(), r)
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: ev})
			if err != nil {
				t.Fatal(err)
			}
			if nerr != nil {
				// The SDK's errors carry request ids that differ run to
				// run; the error type and the S3 error code must match.
				var doc struct{ ErrorType, ErrorMessage string }
				json.Unmarshal(res.Payload, &doc)
				code := "NoSuchKey"
				if r.Bucket == "no-such-bucket" {
					code = "NoSuchBucket"
				}
				if !res.Failed() || doc.ErrorType != "OperationError" || !strings.Contains(doc.ErrorMessage, code) || !strings.Contains(nerr.Error(), code) {
					t.Fatalf("native: %v\nferry: %s", nerr, res.Payload)
				}
				return
			}
			if res.Failed() {
				t.Fatalf("%s: %s\n%s", res.ErrorType, res.Payload, res.Logs)
			}
			wantJSON, _ := json.Marshal(want)
			sampletest.JSONEqual(t, wantJSON, res.Payload)
		})
	}
}

// TestRefused: without the endpoint in allowedOutboundHosts the SDK's
// request fails inside the guest, naming the host and the key.
func TestRefused(t *testing.T) {
	url, env := s3Server(t)
	f := sampletest.Load(t, ".", adapter.Config{Name: "s3-reader-refused", Environment: env, Timeout: 10e9})
	res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"bucket":"ferry-bucket","key":"hello.txt"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || !strings.Contains(string(res.Payload), url) || !strings.Contains(string(res.Payload), "allowedOutboundHosts") {
		t.Fatalf("want a refusal naming %s: %s", url, res.Payload)
	}
}
