package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// generateCase pairs a generator with the flag values to pass and a check
// that those values reached the decoded payload.
type generateCase struct {
	service, event string
	flags          map[string]string
	newPayload     func() any
	check          func(t *testing.T, p any)
}

var generateCases = []generateCase{
	{
		service: "apigateway", event: "aws-proxy",
		flags:      map[string]string{"method": "put", "path": "/orders/7?x=1&x=2", "body": "hi", "stage": "dev", "resource": "/orders/{proxy+}", "account": "210987654321"},
		newPayload: func() any { return &lambdaevents.APIGatewayProxyRequest{} },
		check: func(t *testing.T, p any) {
			e := p.(*lambdaevents.APIGatewayProxyRequest)
			want(t, "httpMethod", e.HTTPMethod, "PUT")
			want(t, "path", e.Path, "/orders/7")
			want(t, "body", e.Body, "hi")
			want(t, "resource", e.Resource, "/orders/{proxy+}")
			want(t, "pathParameters.proxy", e.PathParameters["proxy"], "7")
			want(t, "requestContext.stage", e.RequestContext.Stage, "dev")
			want(t, "requestContext.path", e.RequestContext.Path, "/dev/orders/7")
			want(t, "requestContext.accountId", e.RequestContext.AccountID, "210987654321")
			want(t, "queryStringParameters.x", e.QueryStringParameters["x"], "2")
			if got := e.MultiValueQueryStringParameters["x"]; !reflect.DeepEqual(got, []string{"1", "2"}) {
				t.Errorf("multiValueQueryStringParameters.x = %q", got)
			}
		},
	},
	{
		service: "apigateway", event: "http-api-proxy",
		flags:      map[string]string{"method": "DELETE", "path": "items?a=1&a=2", "body": "", "stage": "beta"},
		newPayload: func() any { return &lambdaevents.APIGatewayV2HTTPRequest{} },
		check: func(t *testing.T, p any) {
			e := p.(*lambdaevents.APIGatewayV2HTTPRequest)
			want(t, "version", e.Version, "2.0")
			want(t, "rawPath", e.RawPath, "/items")
			want(t, "rawQueryString", e.RawQueryString, "a=1&a=2")
			want(t, "queryStringParameters.a", e.QueryStringParameters["a"], "1,2")
			want(t, "requestContext.http.method", e.RequestContext.HTTP.Method, "DELETE")
			want(t, "requestContext.stage", e.RequestContext.Stage, "beta")
			want(t, "body", e.Body, "")
			want(t, "headers.user-agent", e.Headers["user-agent"], sampleUserAgent)
		},
	},
	{
		service: "alb", event: "request",
		flags:      map[string]string{"method": "POST", "path": "/submit", "body": "x=1", "region": "eu-west-1"},
		newPayload: func() any { return &lambdaevents.ALBTargetGroupRequest{} },
		check: func(t *testing.T, p any) {
			e := p.(*lambdaevents.ALBTargetGroupRequest)
			want(t, "httpMethod", e.HTTPMethod, "POST")
			want(t, "path", e.Path, "/submit")
			want(t, "body", e.Body, "x=1")
			if !strings.HasPrefix(e.RequestContext.ELB.TargetGroupArn, "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/") {
				t.Errorf("targetGroupArn = %q", e.RequestContext.ELB.TargetGroupArn)
			}
		},
	},
	{
		service: "lambda", event: "function-url",
		flags:      map[string]string{"method": "GET", "path": "/hello", "body": "", "region": "ap-southeast-2"},
		newPayload: func() any { return &lambdaevents.LambdaFunctionURLRequest{} },
		check: func(t *testing.T, p any) {
			e := p.(*lambdaevents.LambdaFunctionURLRequest)
			want(t, "rawPath", e.RawPath, "/hello")
			want(t, "requestContext.http.method", e.RequestContext.HTTP.Method, "GET")
			if !strings.HasSuffix(e.RequestContext.DomainName, ".lambda-url.ap-southeast-2.on.aws") {
				t.Errorf("domainName = %q", e.RequestContext.DomainName)
			}
		},
	},
	{
		service: "sqs", event: "receive-message",
		flags:      map[string]string{"queue-name": "orders", "body": `{"id":7}`},
		newPayload: func() any { return &lambdaevents.SQSEvent{} },
		check: func(t *testing.T, p any) {
			m := one(t, p.(*lambdaevents.SQSEvent).Records)
			want(t, "body", m.Body, `{"id":7}`)
			want(t, "eventSourceARN", m.EventSourceARN, "arn:aws:sqs:us-east-1:123456789012:orders")
			// md5 of `{"id":7}`, computed independently with md5sum.
			want(t, "md5OfBody", m.Md5OfBody, "f909686c4adf64f7a8c468b29e6e66aa")
		},
	},
	{
		service: "sns", event: "notification",
		flags:      map[string]string{"topic": "alerts", "message": "disk full", "subject": "ops"},
		newPayload: func() any { return &lambdaevents.SNSEvent{} },
		check: func(t *testing.T, p any) {
			r := one(t, p.(*lambdaevents.SNSEvent).Records)
			want(t, "Sns.TopicArn", r.SNS.TopicArn, "arn:aws:sns:us-east-1:123456789012:alerts")
			want(t, "Sns.Message", r.SNS.Message, "disk full")
			want(t, "Sns.Subject", r.SNS.Subject, "ops")
			want(t, "Sns.Type", r.SNS.Type, "Notification")
		},
	},
	{
		service: "s3", event: "put",
		flags:      map[string]string{"bucket": "photos", "key": "2024/cat+picture.jpg", "partition": "aws-cn", "region": "cn-north-1"},
		newPayload: func() any { return &lambdaevents.S3Event{} },
		check: func(t *testing.T, p any) {
			r := one(t, p.(*lambdaevents.S3Event).Records)
			want(t, "eventName", r.EventName, "ObjectCreated:Put")
			want(t, "awsRegion", r.AWSRegion, "cn-north-1")
			want(t, "s3.bucket.name", r.S3.Bucket.Name, "photos")
			want(t, "s3.bucket.arn", r.S3.Bucket.Arn, "arn:aws-cn:s3:::photos")
			want(t, "s3.object.key", r.S3.Object.Key, "2024/cat+picture.jpg")
			want(t, "s3.object.urlDecodedKey", r.S3.Object.URLDecodedKey, "2024/cat picture.jpg")
			if r.S3.Object.Size == 0 || r.S3.Object.ETag == "" {
				t.Errorf("put object lacks size/eTag: %+v", r.S3.Object)
			}
		},
	},
	{
		service: "s3", event: "delete",
		flags:      map[string]string{"bucket": "b", "key": "k"},
		newPayload: func() any { return &lambdaevents.S3Event{} },
		check: func(t *testing.T, p any) {
			r := one(t, p.(*lambdaevents.S3Event).Records)
			want(t, "eventName", r.EventName, "ObjectRemoved:Delete")
			want(t, "s3.bucket.name", r.S3.Bucket.Name, "b")
			want(t, "s3.object.key", r.S3.Object.Key, "k")
		},
	},
	{
		service: "dynamodb", event: "update",
		flags:      map[string]string{"table": "Users"},
		newPayload: func() any { return &lambdaevents.DynamoDBEvent{} },
		check: func(t *testing.T, p any) {
			r := one(t, p.(*lambdaevents.DynamoDBEvent).Records)
			want(t, "eventName", r.EventName, "MODIFY")
			if !strings.Contains(r.EventSourceArn, ":table/Users/stream/") {
				t.Errorf("eventSourceARN = %q", r.EventSourceArn)
			}
			want(t, "NewImage.Message", r.Change.NewImage["Message"].String(), "This item has changed")
			want(t, "OldImage.Message", r.Change.OldImage["Message"].String(), "New item!")
		},
	},
	{
		service: "kinesis", event: "get-records",
		flags:      map[string]string{"stream": "clicks", "data": "payload bytes"},
		newPayload: func() any { return &lambdaevents.KinesisEvent{} },
		check: func(t *testing.T, p any) {
			r := one(t, p.(*lambdaevents.KinesisEvent).Records)
			want(t, "kinesis.data", string(r.Kinesis.Data), "payload bytes")
			want(t, "eventSourceARN", r.EventSourceArn, "arn:aws:kinesis:us-east-1:123456789012:stream/clicks")
		},
	},
	{
		service: "cloudwatch", event: "scheduled-event",
		flags:      map[string]string{"rule": "nightly", "region": "us-west-2", "account": "111122223333"},
		newPayload: func() any { return &lambdaevents.EventBridgeEvent{} },
		check: func(t *testing.T, p any) {
			e := p.(*lambdaevents.EventBridgeEvent)
			want(t, "detail-type", e.DetailType, "Scheduled Event")
			want(t, "source", e.Source, "aws.events")
			want(t, "account", e.AccountID, "111122223333")
			want(t, "region", e.Region, "us-west-2")
			if len(e.Resources) != 1 {
				t.Fatalf("resources = %q", e.Resources)
			}
			want(t, "resources[0]", e.Resources[0], "arn:aws:events:us-west-2:111122223333:rule/nightly")
		},
	},
}

func want(t *testing.T, field, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func one[T any](t *testing.T, records []T) T {
	t.Helper()
	if len(records) != 1 {
		t.Fatalf("got %d records, want 1", len(records))
	}
	return records[0]
}

// decodeStrict decodes data into p, failing on any field the aws-lambda-go
// type does not declare: a misspelt key would be silently dropped by Lambda
// handlers, so it must fail here.
func decodeStrict(t *testing.T, data []byte, p any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		t.Fatalf("decode into %T: %v\n%s", p, err, data)
	}
	if dec.More() {
		t.Fatalf("trailing data after the event:\n%s", data)
	}
}

func TestGenerateEvents(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range generateCases {
		covered[tc.service+" "+tc.event] = true
		t.Run(tc.service+"/"+tc.event, func(t *testing.T) {
			out, err := Generate(tc.service, tc.event, tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			first := tc.newPayload()
			decodeStrict(t, out, first)
			tc.check(t, first)

			// decode → encode → decode must be stable: the sample survives
			// a handler that echoes its event.
			again, err := json.MarshalIndent(first, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			second := tc.newPayload()
			decodeStrict(t, again, second)
			if !reflect.DeepEqual(first, second) {
				t.Errorf("round trip changed the event:\nfirst:  %+v\nsecond: %+v", first, second)
			}
			if !bytes.Equal(bytes.TrimSpace(out), again) {
				t.Errorf("re-encoding changed the JSON:\n%s\nvs\n%s", out, again)
			}

			// Defaults alone also give a decodable event.
			def, err := Generate(tc.service, tc.event, nil)
			if err != nil {
				t.Fatal(err)
			}
			decodeStrict(t, def, tc.newPayload())
		})
	}
	for _, g := range Generators() {
		if !covered[g.Service+" "+g.Event] {
			t.Errorf("generator %s %s has no test case", g.Service, g.Event)
		}
	}
}

// TestGenerateDefaultsLikeSAM pins defaults users of `sam local
// generate-event` rely on.
func TestGenerateDefaultsLikeSAM(t *testing.T) {
	out, err := Generate("apigateway", "aws-proxy", nil)
	if err != nil {
		t.Fatal(err)
	}
	var e lambdaevents.APIGatewayProxyRequest
	decodeStrict(t, out, &e)
	want(t, "httpMethod", e.HTTPMethod, "POST")
	want(t, "path", e.Path, "/examplepath")
	want(t, "resource", e.Resource, "/{proxy+}")
	want(t, "stage", e.RequestContext.Stage, "prod")
	want(t, "body", e.Body, `{"message": "hello world"}`)

	out, err = Generate("kinesis", "get-records", nil)
	if err != nil {
		t.Fatal(err)
	}
	// On the wire the data is base64, as Kinesis delivers it.
	var raw struct {
		Records []struct {
			Kinesis struct{ Data string }
		}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	want(t, "kinesis.data", one(t, raw.Records).Kinesis.Data, base64.StdEncoding.EncodeToString([]byte("Hello, this is a test 123.")))
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, service, event string
		flags                map[string]string
		wantErr              []string
	}{
		{"unknown service", "ec2", "start", nil, []string{`unknown service "ec2"`, "apigateway", "s3", "sqs"}},
		{"unknown event", "s3", "copy", nil, []string{`unknown event "copy" for service s3`, "delete, put"}},
		{"flag of another event", "s3", "put", map[string]string{"queue-name": "q"}, []string{`does not take flag "queue-name"`, "bucket", "key", "partition", "region", "account"}},
		{"empty bucket", "s3", "put", map[string]string{"bucket": ""}, []string{`flag "bucket" must not be empty`}},
		{"bad account", "sqs", "receive-message", map[string]string{"account": "12"}, []string{`invalid account "12"`}},
		{"bad region", "sqs", "receive-message", map[string]string{"region": "moon"}, []string{`invalid region "moon"`}},
		{"bad method", "apigateway", "aws-proxy", map[string]string{"method": "FETCH"}, []string{`invalid method "FETCH"`}},
		{"bad query", "alb", "request", map[string]string{"path": "/a?x=%zz"}, []string{"invalid query string"}},
		{"bad key escape", "s3", "put", map[string]string{"key": "a%zz"}, []string{`invalid key "a%zz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Generate(tc.service, tc.event, tc.flags)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestGeneratorsSortedAndComplete(t *testing.T) {
	gs := Generators()
	if len(gs) != 11 {
		t.Fatalf("got %d generators, want 11", len(gs))
	}
	for i, g := range gs {
		if g.Description == "" || len(g.Flags) < 2 || g.Flags[0] != "region" || g.Flags[1] != "account" {
			t.Errorf("generator %+v: want a description and region, account first", g)
		}
		if i > 0 && gs[i-1].Service+" "+gs[i-1].Event >= g.Service+" "+g.Event {
			t.Errorf("not sorted at %s %s", g.Service, g.Event)
		}
	}
	// The returned slice is a copy: callers cannot change what Generate accepts.
	gs[0].Flags[0] = "mutated"
	if Generators()[0].Flags[0] != "region" {
		t.Error("Generators returned shared flag slices")
	}
}
