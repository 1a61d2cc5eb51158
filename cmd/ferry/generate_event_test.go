package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestGenerateEventS3Put(t *testing.T) {
	// Flags on both sides of the positional arguments.
	var out, errOut bytes.Buffer
	code := runGenerateEvent([]string{"--bucket", "b", "s3", "put", "--key", "k"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr not empty:\n%s", errOut.String())
	}
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	var ev lambdaevents.S3Event
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("got %d records", len(ev.Records))
	}
	r := ev.Records[0]
	if r.S3.Bucket.Name != "b" || r.S3.Object.Key != "k" || r.EventName != "ObjectCreated:Put" || r.AWSRegion != "us-east-1" {
		t.Errorf("bucket %q key %q event %q region %q", r.S3.Bucket.Name, r.S3.Object.Key, r.EventName, r.AWSRegion)
	}
}

func TestGenerateEventErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown service", []string{"ec2", "start"}, `ferry generate-event: unknown service "ec2"; valid services: alb, apigateway,`},
		{"flag the event does not take", []string{"sqs", "receive-message", "--bucket", "b"}, `ferry generate-event: sqs receive-message does not take flag "bucket"`},
		{"undefined flag", []string{"s3", "put", "--nope", "x"}, "ferry generate-event: flag provided but not defined: -nope"},
		{"one positional", []string{"s3"}, "ferry generate-event: want SERVICE EVENT, got 1 arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runGenerateEvent(tc.args, &out, &errOut)
			if code != 2 || out.Len() != 0 {
				t.Fatalf("exit %d, stdout %q", code, out.String())
			}
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
				t.Errorf("stderr = %q, want one line starting %q", errOut.String(), tc.want)
			}
		})
	}
}

func TestGenerateEventUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runGenerateEvent(nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "s3           put") {
		t.Errorf("no args: exit %d, stderr:\n%s", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := runGenerateEvent([]string{"-h"}, &out, &errOut); code != 0 || errOut.Len() != 0 || !strings.Contains(out.String(), "cloudwatch   scheduled-event") {
		t.Errorf("-h: exit %d, stdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	// Through the top-level dispatcher, as a user types it.
	code, stdout, stderr := ferry(t, "", "generate-event", "cloudwatch", "scheduled-event", "--rule", "nightly")
	if code != 0 || !strings.Contains(stdout, `"detail-type": "Scheduled Event"`) || !strings.Contains(stdout, "rule/nightly") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
