// Command s3-reader is a Lambda handler that reads an object from S3 with
// the AWS SDK for Go v2, written as for AWS. The one ferry-specific line is
// config.WithHTTPClient(lambda.HTTPClient()): the SDK builds its own HTTP
// client, so it is handed ferry's, whose requests the host sends (within
// allowedOutboundHosts). On AWS, lambda.HTTPClient() is http.DefaultClient.
//
// Credentials and region come from the environment, the standard way
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or
// AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN); AWS_ENDPOINT_URL_S3 points
// the SDK at an S3-compatible service, and S3_FORCE_PATH_STYLE=true makes
// it address buckets in the path, as such services often need.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

// Request names the object.
type Request struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

// Response describes it; Body is the object's text when it is under 4 KB.
type Response struct {
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	ETag        string `json:"etag"`
	SHA256      string `json:"sha256"`
	Body        string `json:"body,omitempty"`
}

// client is made once per execution environment, in main, as AWS advises.
var client *s3.Client

func newClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(lambda.HTTPClient()))
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("S3_FORCE_PATH_STYLE") == "true"
	}), nil
}

func handler(ctx context.Context, req Request) (*Response, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	h := sha256.New()
	var head []byte
	n, err := io.Copy(h, io.TeeReader(out.Body, &prefix{buf: &head, max: 4 << 10}))
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", req.Bucket, req.Key, err)
	}
	resp := &Response{
		Bucket: req.Bucket, Key: req.Key, Size: n,
		ContentType: aws.ToString(out.ContentType), ETag: aws.ToString(out.ETag),
		SHA256: hex.EncodeToString(h.Sum(nil)),
	}
	if n < 4<<10 {
		resp.Body = string(head)
	}
	return resp, nil
}

// prefix keeps the first max bytes written to it.
type prefix struct {
	buf *[]byte
	max int
}

func (p *prefix) Write(b []byte) (int, error) {
	if room := p.max - len(*p.buf); room > 0 {
		*p.buf = append(*p.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

func main() {
	var err error
	if client, err = newClient(context.Background()); err != nil {
		panic(err)
	}
	lambda.Start(handler)
}
