package events

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestFunctionURLEvent(t *testing.T) {
	route := HTTPRoute{Format: FormatFunctionURL, FunctionName: "hello", Region: "eu-west-1", AccountID: "210987654321",
		// A function URL has no routes: these must not leak into the event.
		Resource: "/ignored/{x}", PathParameters: map[string]string{"x": "y"}, Stage: "ignored"}
	srv := httpEventServer(t, route)
	host, port := srvHostPort(t, srv)
	data := fetchHTTPEvent(t, srv, sentRequest{
		method: http.MethodPost,
		target: "/my/path%2Fwith%20escapes?parameter1=value1&parameter1=value2&parameter2=a%26b",
		header: http.Header{
			"Header2":      {"value1", "value2"},
			"Cookie":       {"cookie1=1; cookie2=2"},
			"Content-Type": {"text/plain"},
		},
		body: []byte("Hello from client!"),
	})

	var ev lambdaevents.LambdaFunctionURLRequest
	decodeHTTPEvent(t, data, &ev)
	httpEq(t, "version", ev.Version, "2.0")
	httpEq(t, "routeKey", httpRawField(t, data, "routeKey"), `"$default"`)
	httpEq(t, "rawPath", ev.RawPath, "/my/path%2Fwith%20escapes")
	httpEq(t, "rawQueryString", ev.RawQueryString, "parameter1=value1&parameter1=value2&parameter2=a%26b")
	httpDeepEq(t, "cookies", ev.Cookies, []string{"cookie1=1", "cookie2=2"})
	httpEq(t, "headers header2", ev.Headers["header2"], "value1,value2")
	httpEq(t, "headers host", ev.Headers["host"], host)
	httpEq(t, "headers content-type", ev.Headers["content-type"], "text/plain")
	httpEq(t, "headers x-forwarded-port", ev.Headers["x-forwarded-port"], port)
	httpEq(t, "headers x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1")
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("cookie header kept beside cookies")
	}
	httpDeepEq(t, "queryStringParameters", ev.QueryStringParameters, map[string]string{"parameter1": "value1,value2", "parameter2": "a&b"})
	httpEq(t, "body", ev.Body, "Hello from client!")
	httpEq(t, "isBase64Encoded", ev.IsBase64Encoded, false)
	httpEq(t, "pathParameters", httpRawField(t, data, "pathParameters"), "")

	rc := ev.RequestContext
	httpEq(t, "accountId", rc.AccountID, "210987654321")
	httpEq(t, "requestId", rc.RequestID, httpTestRequestID)
	if !regexp.MustCompile(`^[a-z0-9]{32}$`).MatchString(rc.APIID) {
		t.Errorf("apiId = %q", rc.APIID)
	}
	httpEq(t, "domainName", rc.DomainName, rc.APIID+".lambda-url.eu-west-1.on.aws")
	httpEq(t, "domainPrefix", rc.DomainPrefix, rc.APIID)
	httpEq(t, "time", rc.Time, httpTestTime)
	httpEq(t, "timeEpoch", rc.TimeEpoch, httpTestEpoch)
	httpEq(t, "http.method", rc.HTTP.Method, "POST")
	httpEq(t, "http.path", rc.HTTP.Path, "/my/path%2Fwith%20escapes")
	httpEq(t, "http.protocol", rc.HTTP.Protocol, "HTTP/1.1")
	httpEq(t, "http.sourceIp", rc.HTTP.SourceIP, "127.0.0.1")
	httpEq(t, "http.userAgent", rc.HTTP.UserAgent, httpTestUA)
	httpEq(t, "requestContext.routeKey", httpRawField(t, data, "requestContext.routeKey"), `"$default"`)
	httpEq(t, "requestContext.stage", httpRawField(t, data, "requestContext.stage"), `"$default"`)
	if rc.Authorizer != nil {
		t.Errorf("authorizer = %+v", rc.Authorizer)
	}

	checkShape(t, data, "lambda-urls-request.json",
		[]string{"requestContext.authorizer"},
		[]string{"requestContext.authorizer"},
		// Documented placeholders, absent from aws-lambda-go's sample.
		[]string{"routeKey", "requestContext.routeKey", "requestContext.stage"})
}

func TestFunctionURLEventBinary(t *testing.T) {
	srv := httpEventServer(t, HTTPRoute{Format: FormatFunctionURL})
	var ev lambdaevents.LambdaFunctionURLRequest
	data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPut, target: "/img",
		header: http.Header{"Content-Type": {"image/png"}}, body: pngBytes})
	decodeHTTPEvent(t, data, &ev)
	httpEq(t, "isBase64Encoded", ev.IsBase64Encoded, true)
	httpEq(t, "body", ev.Body, base64.StdEncoding.EncodeToString(pngBytes))
	httpEq(t, "cookies", httpRawField(t, data, "cookies"), "")

	ev = lambdaevents.LambdaFunctionURLRequest{}
	decodeHTTPEvent(t, fetchHTTPEvent(t, srv, sentRequest{method: http.MethodGet, target: "/"}), &ev)
	httpEq(t, "empty body", ev.Body, "")
	httpEq(t, "empty isBase64Encoded", ev.IsBase64Encoded, false)
}
