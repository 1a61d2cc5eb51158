// Command s3-object handles S3 event notifications: it summarises each
// record (bucket, key, size, event), as a handler that indexes uploads
// would before doing its real work.
package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type object struct {
	Event  string `json:"event"`
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	ETag   string `json:"etag,omitempty"`
	Region string `json:"region"`
}

type summary struct {
	Function string   `json:"function"`
	Objects  []object `json:"objects"`
	Bytes    int64    `json:"bytes"`
}

func handler(ctx context.Context, ev events.S3Event) (summary, error) {
	s := summary{Function: lambdacontext.FunctionName, Objects: []object{}}
	for _, r := range ev.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key) // keys arrive URL-encoded
		if err != nil {
			return summary{}, fmt.Errorf("record %s: bad key %q: %w", r.ResponseElements["x-amz-request-id"], r.S3.Object.Key, err)
		}
		s.Objects = append(s.Objects, object{
			Event:  r.EventName,
			Bucket: r.S3.Bucket.Name,
			Key:    key,
			Size:   r.S3.Object.Size,
			ETag:   r.S3.Object.ETag,
			Region: r.AWSRegion,
		})
		s.Bytes += r.S3.Object.Size
	}
	return s, nil
}

func main() {
	lambda.Start(handler)
}
