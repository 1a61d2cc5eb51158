package events

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestALBEvent(t *testing.T) {
	srv := httpEventServer(t, HTTPRoute{Format: FormatALB, FunctionName: "my_fn.v2", Region: "us-west-2", AccountID: "210987654321"})
	host, port := srvHostPort(t, srv)
	req := sentRequest{
		method: http.MethodGet,
		target: "/lambda%20x?myKey=val1&myKey=val2&enc=hello%20world&plus=a+b&empty",
		header: http.Header{"X-Multi": {"1", "2"}, "Cookie": {"name1=value1", "name2=value2"}},
	}
	data := fetchHTTPEvent(t, srv, req)

	var ev lambdaevents.ALBTargetGroupRequest
	decodeHTTPEvent(t, data, &ev)
	httpEq(t, "httpMethod", ev.HTTPMethod, "GET")
	httpEq(t, "path", ev.Path, "/lambda%20x")
	// Not decoded: ALB leaves that to the function.
	httpDeepEq(t, "queryStringParameters", ev.QueryStringParameters,
		map[string]string{"myKey": "val2", "enc": "hello%20world", "plus": "a+b", "empty": ""})
	httpEq(t, "headers x-multi", ev.Headers["x-multi"], "2")
	httpEq(t, "headers cookie", ev.Headers["cookie"], "name2=value2")
	httpEq(t, "headers host", ev.Headers["host"], host)
	httpEq(t, "headers user-agent", ev.Headers["user-agent"], httpTestUA)
	httpEq(t, "headers x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1")
	httpEq(t, "headers x-forwarded-port", ev.Headers["x-forwarded-port"], port)
	httpEq(t, "headers x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http")
	if !traceIDPattern.MatchString(ev.Headers["x-amzn-trace-id"]) {
		t.Errorf("x-amzn-trace-id = %q", ev.Headers["x-amzn-trace-id"])
	}
	httpEq(t, "multiValueHeaders", httpRawField(t, data, "multiValueHeaders"), "")
	httpEq(t, "multiValueQueryStringParameters", httpRawField(t, data, "multiValueQueryStringParameters"), "")
	httpEq(t, "body", httpRawField(t, data, "body"), `""`)
	httpEq(t, "isBase64Encoded", httpRawField(t, data, "isBase64Encoded"), "false")
	arn := ev.RequestContext.ELB.TargetGroupArn
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-west-2:210987654321:targetgroup/my-fn-v2/[0-9a-f]{16}$`).MatchString(arn) {
		t.Errorf("targetGroupArn = %q", arn)
	}
	checkShape(t, data, "alb-lambda-target-request-headers-only.json", nil, nil, nil)

	srv = httpEventServer(t, HTTPRoute{Format: FormatALB, MultiValueHeaders: true,
		TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefgh"})
	data = fetchHTTPEvent(t, srv, req)
	ev = lambdaevents.ALBTargetGroupRequest{}
	decodeHTTPEvent(t, data, &ev)
	httpDeepEq(t, "multiValueQueryStringParameters", ev.MultiValueQueryStringParameters,
		map[string][]string{"myKey": {"val1", "val2"}, "enc": {"hello%20world"}, "plus": {"a+b"}, "empty": {""}})
	httpDeepEq(t, "multiValueHeaders x-multi", ev.MultiValueHeaders["x-multi"], []string{"1", "2"})
	httpDeepEq(t, "multiValueHeaders cookie", ev.MultiValueHeaders["cookie"], []string{"name1=value1", "name2=value2"})
	httpEq(t, "headers", httpRawField(t, data, "headers"), "")
	httpEq(t, "queryStringParameters", httpRawField(t, data, "queryStringParameters"), "")
	httpEq(t, "targetGroupArn", ev.RequestContext.ELB.TargetGroupArn,
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefgh")
	checkShape(t, data, "alb-lambda-target-request-multivalue-headers.json", nil, nil, nil)
}

// TestALBEventEmptyQuery: without a query string ALB sends an empty
// object, as in its health check event, not null.
func TestALBEventEmptyQuery(t *testing.T) {
	for multi, field := range map[bool]string{false: "queryStringParameters", true: "multiValueQueryStringParameters"} {
		srv := httpEventServer(t, HTTPRoute{Format: FormatALB, MultiValueHeaders: multi})
		data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodGet, target: "/"})
		httpEq(t, field, httpRawField(t, data, field), "{}")
	}
}

func TestALBEventBody(t *testing.T) {
	cases := []struct {
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"image/png", pngBytes, true},
		{"application/octet-stream", []byte("abc"), true},
		{"text/plain; charset=iso-8859-1", []byte("plain"), false},
		{"application/json", []byte(`{"a":1}`), false},
		{"application/javascript", []byte("x()"), false},
		{"application/xml", []byte("<a/>"), false},
		{"", []byte("abc"), true},
		// Text by type but not UTF-8: base64, or the bytes would be lost.
		{"text/plain", []byte("caf\xe9"), true},
	}
	srv := httpEventServer(t, HTTPRoute{Format: FormatALB})
	for _, c := range cases {
		h := http.Header{}
		if c.contentType != "" {
			h.Set("Content-Type", c.contentType)
		}
		var ev lambdaevents.ALBTargetGroupRequest
		decodeHTTPEvent(t, fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPost, target: "/", header: h, body: c.body}), &ev)
		httpEq(t, c.contentType+" isBase64Encoded", ev.IsBase64Encoded, c.wantBase64)
		got := eventBody(t, ev.Body, ev.IsBase64Encoded)
		httpEq(t, c.contentType+" body", string(got), string(c.body))
	}
}

func TestALBResponse(t *testing.T) {
	resp, body := httpRespond(t, FormatALB, string(awsTestdata(t, "alb-lambda-target-response.json")))
	httpEq(t, "status", resp.StatusCode, 200)
	httpEq(t, "body", string(body), "Hello from Lambda")
	httpEq(t, "Content-Type", resp.Header.Get("Content-Type"), "application/json")
	// multiValueHeaders wins over headers for the same name.
	httpDeepEq(t, "Set-Cookie", resp.Header.Values("Set-Cookie"), []string{
		"cookie-name=cookie-value;Domain=myweb.com;Secure;HttpOnly",
		"cookie-name=cookie-value;Expires=May 8, 2019",
	})

	resp, body = httpRespond(t, FormatALB, `{"statusCode":404,"statusDescription":"404 Not Found","isBase64Encoded":true,
		"headers":{"Content-Type":"image/png"},"body":"`+base64.StdEncoding.EncodeToString(pngBytes)+`"}`)
	httpEq(t, "status", resp.StatusCode, 404)
	httpEq(t, "base64 body", string(body), string(pngBytes))

	// statusDescription is not needed, and a bad one does not matter.
	resp, _ = httpRespond(t, FormatALB, `{"statusCode":418,"statusDescription":"whatever"}`)
	httpEq(t, "status without description", resp.StatusCode, 418)
	if v, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q invented", v)
	}

	checkMalformed(t, FormatALB, `{"statusDescription":"200 OK","body":"no status"}`)
}
