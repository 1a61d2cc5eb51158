package events

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestHTTPAPIEvent(t *testing.T) {
	route := HTTPRoute{
		Format:         FormatHTTPAPI,
		Resource:       "/items/{id}",
		PathParameters: map[string]string{"id": "a b"},
		FunctionName:   "items",
	}
	srv := httpEventServer(t, route)
	host, port := srvHostPort(t, srv)
	data := fetchHTTPEvent(t, srv, sentRequest{
		method: http.MethodGet,
		target: "/items/a%20b?x=1&x=2&y=hello%20world&z",
		header: http.Header{
			"X-Multi": {"1", "2"},
			"Cookie":  {"a=1; b=2", "c=3"},
		},
	})

	var ev lambdaevents.APIGatewayV2HTTPRequest
	decodeHTTPEvent(t, data, &ev)
	httpEq(t, "version", ev.Version, "2.0")
	httpEq(t, "routeKey", ev.RouteKey, "GET /items/{id}")
	httpEq(t, "rawPath", ev.RawPath, "/items/a b")
	httpEq(t, "rawQueryString", ev.RawQueryString, "x=1&x=2&y=hello%20world&z")
	httpDeepEq(t, "cookies", ev.Cookies, []string{"a=1", "b=2", "c=3"})
	httpEq(t, "headers x-multi", ev.Headers["x-multi"], "1,2")
	httpEq(t, "headers host", ev.Headers["host"], host)
	httpEq(t, "headers user-agent", ev.Headers["user-agent"], httpTestUA)
	httpEq(t, "headers x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1")
	httpEq(t, "headers x-forwarded-port", ev.Headers["x-forwarded-port"], port)
	httpEq(t, "headers x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http")
	if !traceIDPattern.MatchString(ev.Headers["x-amzn-trace-id"]) {
		t.Errorf("x-amzn-trace-id = %q", ev.Headers["x-amzn-trace-id"])
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("cookie header kept beside cookies")
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q not lowercased", k)
		}
	}
	httpDeepEq(t, "queryStringParameters", ev.QueryStringParameters, map[string]string{"x": "1,2", "y": "hello world", "z": ""})
	httpDeepEq(t, "pathParameters", ev.PathParameters, map[string]string{"id": "a b"})
	httpEq(t, "stageVariables", httpRawField(t, data, "stageVariables"), "")
	httpEq(t, "body", httpRawField(t, data, "body"), "")
	httpEq(t, "isBase64Encoded", httpRawField(t, data, "isBase64Encoded"), "false")

	rc := ev.RequestContext
	httpEq(t, "requestContext.routeKey", rc.RouteKey, "GET /items/{id}")
	httpEq(t, "accountId", rc.AccountID, "123456789012")
	httpEq(t, "stage", rc.Stage, "$default")
	httpEq(t, "requestId", rc.RequestID, httpTestRequestID)
	if len(rc.APIID) != 10 {
		t.Errorf("apiId = %q", rc.APIID)
	}
	httpEq(t, "domainName", rc.DomainName, host)
	httpEq(t, "domainPrefix", rc.DomainPrefix, "127.0.0.1")
	httpEq(t, "time", rc.Time, httpTestTime)
	httpEq(t, "timeEpoch", rc.TimeEpoch, httpTestEpoch)
	httpEq(t, "http.method", rc.HTTP.Method, "GET")
	httpEq(t, "http.path", rc.HTTP.Path, "/items/a b")
	httpEq(t, "http.protocol", rc.HTTP.Protocol, "HTTP/1.1")
	httpEq(t, "http.sourceIp", rc.HTTP.SourceIP, "127.0.0.1")
	httpEq(t, "http.userAgent", rc.HTTP.UserAgent, httpTestUA)
	if rc.Authorizer != nil {
		t.Errorf("authorizer = %+v", rc.Authorizer)
	}
	httpEq(t, "requestContext.authentication", httpRawField(t, data, "requestContext.authentication"), "")
}

func TestHTTPAPIRouteKey(t *testing.T) {
	cases := []struct {
		route HTTPRoute
		want  string
	}{
		{HTTPRoute{Resource: "/items/{id}", Method: "any"}, "ANY /items/{id}"},
		{HTTPRoute{Resource: "/items/{id}"}, "POST /items/{id}"},
		{HTTPRoute{Resource: "$default"}, "$default"},
		{HTTPRoute{}, "$default"},
	}
	for _, c := range cases {
		c.route.Format = FormatHTTPAPI
		c.route.Stage = "dev"
		srv := httpEventServer(t, c.route)
		var ev lambdaevents.APIGatewayV2HTTPRequest
		decodeHTTPEvent(t, fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPost, target: "/items/1"}), &ev)
		httpEq(t, "routeKey", ev.RouteKey, c.want)
		httpEq(t, "requestContext.routeKey", ev.RequestContext.RouteKey, c.want)
		httpEq(t, "stage", ev.RequestContext.Stage, "dev")
		httpEq(t, "queryStringParameters", len(ev.QueryStringParameters), 0)
	}
}

func TestHTTPAPIEventShape(t *testing.T) {
	srv := httpEventServer(t, HTTPRoute{Format: FormatHTTPAPI, PathParameters: map[string]string{"proxy": "hello/world"}})
	data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodGet, target: "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
		header: http.Header{"Cookie": {"cookie1; cookie2"}, "Content-Type": {"text/plain"}}, body: []byte("hi")})
	checkShape(t, data, "apigw-v2-request-iam.json",
		[]string{"requestContext.authorizer", "requestContext.authentication"},
		[]string{"stageVariables", "requestContext.authorizer", "requestContext.authentication"},
		nil)
	data = fetchHTTPEvent(t, srv, sentRequest{method: http.MethodGet, target: "/"})
	checkShape(t, data, "apigw-v2-request-no-authorizer.json",
		[]string{"requestContext.authentication"},
		[]string{"requestContext.authentication"},
		[]string{"pathParameters"})
}

// TestHTTPAPIEventBody: HTTP APIs pass text/*, JSON, XML and JavaScript
// bodies as text, everything else base64, and so does a configured binary
// media type.
func TestHTTPAPIEventBody(t *testing.T) {
	cases := []struct {
		contentType string
		binaryTypes []string
		body        []byte
		wantBase64  bool
	}{
		{"image/png", nil, pngBytes, true},
		{"application/octet-stream", nil, []byte("hello world"), true},
		{"application/json", nil, []byte(`{"a":"<&>"}`), false},
		{"application/json; charset=utf-8", nil, []byte(`{"a":1}`), false},
		{"text/plain; charset=iso-8859-1", nil, []byte("caf\xe9"), true},
		{"text/csv", nil, []byte("a,b"), false},
		{"application/xml", nil, []byte("<a/>"), false},
		{"application/x-www-form-urlencoded", nil, []byte("a=1&b=2"), true},
		{"", nil, []byte("no type"), true},
		{"application/json", []string{"application/json"}, []byte(`{"a":1}`), true},
	}
	for _, c := range cases {
		srv := httpEventServer(t, HTTPRoute{Format: FormatHTTPAPI, BinaryMediaTypes: c.binaryTypes})
		h := http.Header{}
		if c.contentType != "" {
			h.Set("Content-Type", c.contentType)
		}
		var ev lambdaevents.APIGatewayV2HTTPRequest
		decodeHTTPEvent(t, fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPost, target: "/upload", header: h, body: c.body}), &ev)
		httpEq(t, c.contentType+" isBase64Encoded", ev.IsBase64Encoded, c.wantBase64)
		got := eventBody(t, ev.Body, ev.IsBase64Encoded)
		httpEq(t, c.contentType+" body", string(got), string(c.body))
	}
}

func TestHTTPAPIResponse(t *testing.T) {
	inferred := []struct{ result, body string }{
		{`{"message":"Hello from Lambda!"}`, `{"message":"Hello from Lambda!"}`},
		// A string result is the body as is, quotes included (what
		// Lambda's docs show the client receiving).
		{`"Hello, world!"`, `"Hello, world!"`},
		{`42`, `42`},
		{`[1, 2]`, `[1, 2]`},
		{`null`, `null`},
		{`{"StatusCode":201}`, `{"StatusCode":201}`},
	}
	for _, format := range []HTTPFormat{FormatHTTPAPI, FormatFunctionURL} {
		for _, c := range inferred {
			resp, body := httpRespond(t, format, c.result)
			httpEq(t, c.result+" status", resp.StatusCode, 200)
			httpEq(t, c.result+" Content-Type", resp.Header.Get("Content-Type"), "application/json")
			httpEq(t, c.result+" body", string(body), c.body)
		}

		resp, body := httpRespond(t, format, `{"statusCode":201,"headers":{"X-A":"b","content-type":"text/plain"},
			"cookies":["a=1; Path=/","b=2; HttpOnly"],"body":"made"}`)
		httpEq(t, "status", resp.StatusCode, 201)
		httpEq(t, "body", string(body), "made")
		httpEq(t, "X-A", resp.Header.Get("X-A"), "b")
		httpEq(t, "Content-Type", resp.Header.Get("Content-Type"), "text/plain")
		httpDeepEq(t, "Set-Cookie", resp.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2; HttpOnly"})

		resp, body = httpRespond(t, format, `{"statusCode":200,"isBase64Encoded":true,"headers":{"Content-Type":"image/png"},
			"body":"`+base64.StdEncoding.EncodeToString(pngBytes)+`"}`)
		httpEq(t, "base64 body", string(body), string(pngBytes))
		httpEq(t, "base64 status", resp.StatusCode, 200)

		// Payload 2.0 has no multiValueHeaders; API Gateway ignores them.
		resp, _ = httpRespond(t, format, `{"statusCode":200,"multiValueHeaders":{"X-M":["1","2"]}}`)
		if v := resp.Header.Values("X-M"); len(v) != 0 {
			t.Errorf("%s: multiValueHeaders sent: %q", format, v)
		}
		// No Content-Type given: none is made up (net/http would sniff one).
		resp, _ = httpRespond(t, format, `{"statusCode":200,"body":"<html></html>"}`)
		if v, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("%s: Content-Type %q invented", format, v)
		}

		resp, body = httpRespond(t, format, string(awsTestdata(t, "lambda-urls-response.json")))
		httpEq(t, "testdata status", resp.StatusCode, 201)
		httpEq(t, "testdata body", string(body), `{ "message": "Hello, world!" }`)
		httpEq(t, "testdata My-Custom-Header", resp.Header.Get("My-Custom-Header"), "Custom Value")
		httpDeepEq(t, "testdata Set-Cookie", resp.Header.Values("Set-Cookie"),
			[]string{"Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"})
	}
}

// TestAppendHTTPAPIEvent: appendHTTPAPIEvent writes encoding/json's bytes
// for events of every shape, and leaves to encoding/json what it does not
// write (FuzzAppendHTTPAPIEvent tries arbitrary strings).
func TestAppendHTTPAPIEvent(t *testing.T) {
	for shape := range 256 {
		ev := fuzzHTTPAPIEvent("Ab", "<&>\u2028\u2029\"\\/", "é\x00\x1f\x7f\xff\t\n\r\b\f", -42, uint8(shape))
		got, ok := appendHTTPAPIEvent(nil, &ev)
		want, err := marshalEvent(ev)
		if !ok || err != nil || string(got) != string(want) {
			t.Fatalf("shape %08b (%v, %v):\n%s\n%s", shape, ok, err, got, want)
		}
	}
	var jwt, mtls httpAPIEvent
	jwt.RequestContext.Authorizer = &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
	mtls.RequestContext.Authentication = &lambdaevents.APIGatewayV2HTTPRequestContextAuthentication{}
	for _, ev := range []httpAPIEvent{jwt, mtls} {
		if _, ok := appendHTTPAPIEvent(nil, &ev); ok {
			t.Errorf("%+v: written, not left to encoding/json", ev.RequestContext)
		}
	}
}
