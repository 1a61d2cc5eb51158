package events

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Fuzz targets for every converter that reads what a client or a guest
// sends. .ci/run runs each for a few seconds; `go test -fuzz FuzzX
// ./events` runs one for as long as you like. Seeds are real requests and
// real outputs; the properties are the converters' contracts, not just
// "does not panic".

var fuzzNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// FuzzNewHTTPEvent feeds raw HTTP/1.1 requests (as they arrive on the
// wire) to NewHTTPEvent in every format. An event that is built must
// decode into aws-lambda-go's type for that format, and its body must give
// back the request body byte for byte, base64-encoded or not.
func FuzzNewHTTPEvent(f *testing.F) {
	f.Add("GET /items/42?name=ferry&x=1&x=2 HTTP/1.1\r\nHost: localhost\r\nCookie: a=1; b=2\r\nX-Multi: 1\r\nX-Multi: 2\r\n\r\n", []byte(nil), "image/png")
	f.Add("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Type: image/png\r\n\r\n", []byte("\x89PNG\r\n\x1a\n\x00"), "image/*")
	f.Add("POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain; charset=latin1\r\n\r\n", []byte("caf\xe9"), "")
	f.Add("PUT /a%2Fb/%E2%82%AC?q=%ZZ&&=&k HTTP/1.1\r\nHost: h\r\n\r\n", []byte(`{"k":"<&>"}`), "*/*")
	f.Fuzz(func(t *testing.T, head string, body []byte, binaryType string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			return
		}
		for _, format := range []HTTPFormat{FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB} {
			route := HTTPRoute{Format: format, Resource: "/{proxy+}", Method: "ANY",
				PathParameters:   map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, "/")},
				BinaryMediaTypes: []string{binaryType}, MultiValueHeaders: len(body)%2 == 0}
			ev, err := NewHTTPEvent(r, body, route, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", fuzzNow)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if format == FormatHTTPAPI {
				// Written by appendHTTPAPIEvent: encoding/json's bytes.
				in := newIncoming(r, body, route, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", fuzzNow)
				if want, err := marshalEvent(newHTTPAPIEvent(in)); err != nil || string(ev) != string(want) {
					t.Fatalf("event differs from encoding/json's (%v):\n%s\n%s", err, ev, want)
				}
			}
			// The event decodes into aws-lambda-go's type for its format;
			// all four carry the body the same way.
			mustDecode(t, format, ev, lambdaTypes[format]())
			var carried struct {
				Body            string `json:"body"`
				IsBase64Encoded bool   `json:"isBase64Encoded"`
			}
			mustDecode(t, format, ev, &carried)
			text, b64 := carried.Body, carried.IsBase64Encoded
			got := []byte(text)
			if b64 {
				if got, err = base64.StdEncoding.DecodeString(text); err != nil {
					t.Fatalf("%s: body is not base64: %v", format, err)
				}
			}
			if string(got) != string(body) {
				t.Fatalf("%s: body %q came back as %q (base64 %v)", format, body, got, b64)
			}
		}
	})
}

// lambdaTypes makes the aws-lambda-go value each format's event is.
var lambdaTypes = map[HTTPFormat]func() any{
	FormatREST:        func() any { return new(lambdaevents.APIGatewayProxyRequest) },
	FormatHTTPAPI:     func() any { return new(lambdaevents.APIGatewayV2HTTPRequest) },
	FormatFunctionURL: func() any { return new(lambdaevents.LambdaFunctionURLRequest) },
	FormatALB:         func() any { return new(lambdaevents.ALBTargetGroupRequest) },
}

func mustDecode(t *testing.T, format HTTPFormat, ev []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(ev, v); err != nil {
		t.Fatalf("%s: event does not decode into %T: %v\n%s", format, v, err, ev)
	}
}

// FuzzAppendHTTPAPIEvent puts arbitrary strings in every field of an HTTP
// API event that appendHTTPAPIEvent writes: its bytes must be
// encoding/json's (marshalEvent's).
func FuzzAppendHTTPAPIEvent(f *testing.F) {
	f.Add("a", "<b>&\"c\"", "\u2028\xff\x00\x1f\t", int64(-1), uint8(0))
	f.Add("", "", "", int64(0), uint8(255))
	f.Add("\x7f\u2029é", "k", "€\xe2\x82", int64(1796615508626), uint8(3))
	f.Fuzz(func(t *testing.T, a, b, c string, epoch int64, shape uint8) {
		ev := fuzzHTTPAPIEvent(a, b, c, epoch, shape)
		got, ok := appendHTTPAPIEvent(nil, &ev)
		if !ok {
			t.Fatal("left to encoding/json")
		}
		want, err := marshalEvent(ev)
		if err != nil || string(got) != string(want) {
			t.Fatalf("differs from encoding/json's (%v):\n%s\n%s", err, got, want)
		}
	})
}

// fuzzHTTPAPIEvent is an HTTP API event made of three strings; shape's bits
// choose nil, empty or filled for its maps, slices and body.
func fuzzHTTPAPIEvent(a, b, c string, epoch int64, shape uint8) httpAPIEvent {
	strs := func(bit uint8) map[string]string {
		switch {
		case shape&bit != 0:
			return map[string]string{a: b, b: c, c: a, "z" + a: ""}
		case shape&(bit<<1) != 0:
			return map[string]string{}
		}
		return nil
	}
	var cookies []string
	if shape&1 != 0 {
		cookies = []string{a, b, c}
	} else if shape&2 != 0 {
		cookies = []string{}
	}
	var ev httpAPIEvent
	ev.Version, ev.RouteKey, ev.RawPath, ev.RawQueryString = a, b, c, a+b
	ev.Cookies, ev.Headers, ev.QueryStringParameters = cookies, strs(4), strs(16)
	ev.PathParameters, ev.StageVariables = strs(64), strs(2)
	if shape&8 != 0 {
		ev.Body = a + b + c
	}
	ev.IsBase64Encoded = shape&32 != 0
	rc := &ev.RequestContext
	rc.RouteKey, rc.AccountID, rc.Stage, rc.RequestID = b, c, a, c+a
	rc.APIID, rc.DomainName, rc.DomainPrefix, rc.Time, rc.TimeEpoch = a, b, c, b+c, epoch
	rc.HTTP.Method, rc.HTTP.Path, rc.HTTP.Protocol, rc.HTTP.SourceIP, rc.HTTP.UserAgent = c, b, a, b, a+c
	return ev
}

// FuzzParseSchedule: any expression is parsed or refused with an error;
// a parsed one names instants that move forward and stay in UTC.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"rate(1 minute)", "rate(7 days)", "cron(0 12 * * ? *)",
		"cron(0/15 8-17 ? * MON-FRI *)", "cron(0 9 ? * 2#1 *)", "cron(0 0 L * ? 2030)",
		"cron(0 0 15W * ? *)", "cron(59 23 31 12 ? 2199)", "rate(0 minutes)", "cron(* * * * * *)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSchedule(expr)
		if err != nil {
			return
		}
		at := fuzzNow
		for range 3 {
			next := s.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) || next.Location() != time.UTC {
				t.Fatalf("%s: Next(%v) = %v", expr, at, next)
			}
			at = next
		}
	})
}

// FuzzParseNCronSchedule is the same contract for Azure's NCRONTAB.
func FuzzParseNCronSchedule(f *testing.F) {
	for _, s := range []string{"0 */5 * * * *", "0 30 9 * * 1-5", "*/10 * * * * *", "0 0 0 29 2 *",
		"0 0 0 31 * SUN", "0 0 12 * JAN-MAR MON,FRI", "0 0 0 * * 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if strings.HasPrefix(expr, "%") {
			return // app-setting references read the environment
		}
		s, err := ParseNCronSchedule(expr, time.UTC)
		if err != nil {
			return
		}
		at := fuzzNow
		for range 3 {
			next := s.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) {
				t.Fatalf("%s: Next(%v) = %v", expr, at, next)
			}
			at = next
		}
	})
}

// FuzzAzureReply covers what a custom handler sends back: the reply
// envelope, an http output binding and a queue output binding. Each is
// read or refused, and what is read is usable (a status a server can send,
// headers net/http can write, queue messages as strings).
func FuzzAzureReply(f *testing.F) {
	f.Add([]byte(`{"Outputs":{"res":{"statusCode":201,"headers":{"X-A":"b"},"body":"hi"},"msg":["a",{"b":1}]},"Logs":["l"],"ReturnValue":null}`))
	f.Add([]byte(`{"Outputs":{"res":{"status":"404","body":{"x":[1,2]}}}}`))
	f.Add([]byte(`{"Outputs":{"res":"plain"},"ReturnValue":"\"quoted\""}`))
	f.Add([]byte(`{"Outputs":{"res":{"statusCode":99999,"headers":{"Bad Name":"x","X":"a\r\nb"}}}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		reply, err := ParseAzureReply(body)
		if err != nil {
			return
		}
		for name := range reply.Outputs {
			v, ok := reply.Output(name)
			if !ok {
				continue
			}
			if resp, err := ParseAzureHTTPOutput(v); err == nil {
				if resp.Status < 100 || resp.Status > 999 {
					t.Fatalf("status %d from %s", resp.Status, v)
				}
			}
			if msgs, err := AzureQueueOutput(v); err == nil && len(msgs) == 0 && string(v) != "[]" {
				t.Fatalf("no message from %s", v)
			}
		}
	})
}
