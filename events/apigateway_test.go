package events

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

func TestRESTEvent(t *testing.T) {
	route := HTTPRoute{
		Format:         FormatREST,
		Resource:       "/items/{id}",
		PathParameters: map[string]string{"id": "a b"},
		FunctionName:   "items", Region: "eu-west-1", AccountID: "210987654321",
	}
	srv := httpEventServer(t, route)
	host, port := srvHostPort(t, srv)
	data := fetchHTTPEvent(t, srv, sentRequest{
		method: http.MethodGet,
		target: "/items/a%20b?x=1&x=2&y=hello%20world&z",
		header: http.Header{
			"X-Multi": {"1", "2"},
			"Cookie":  {"a=1; b=2"},
			"Accept":  {"*/*"},
		},
	})

	var ev lambdaevents.APIGatewayProxyRequest
	decodeHTTPEvent(t, data, &ev)
	httpEq(t, "resource", ev.Resource, "/items/{id}")
	httpEq(t, "path", ev.Path, "/items/a%20b")
	httpEq(t, "httpMethod", ev.HTTPMethod, "GET")
	httpEq(t, "headers X-Multi", ev.Headers["X-Multi"], "2")
	httpDeepEq(t, "multiValueHeaders X-Multi", ev.MultiValueHeaders["X-Multi"], []string{"1", "2"})
	httpEq(t, "headers Cookie", ev.Headers["Cookie"], "a=1; b=2")
	httpEq(t, "headers Host", ev.Headers["Host"], host)
	httpEq(t, "headers User-Agent", ev.Headers["User-Agent"], httpTestUA)
	httpEq(t, "headers X-Forwarded-For", ev.Headers["X-Forwarded-For"], "127.0.0.1")
	httpEq(t, "headers X-Forwarded-Proto", ev.Headers["X-Forwarded-Proto"], "http")
	httpEq(t, "headers X-Forwarded-Port", ev.Headers["X-Forwarded-Port"], port)
	if !traceIDPattern.MatchString(ev.Headers["X-Amzn-Trace-Id"]) {
		t.Errorf("X-Amzn-Trace-Id = %q", ev.Headers["X-Amzn-Trace-Id"])
	}
	for k, v := range ev.Headers {
		vs := ev.MultiValueHeaders[k]
		if len(vs) == 0 || vs[len(vs)-1] != v {
			t.Errorf("headers[%s] = %q is not the last of multiValueHeaders %q", k, v, vs)
		}
	}
	httpEq(t, "len(headers)", len(ev.Headers), len(ev.MultiValueHeaders))
	httpDeepEq(t, "queryStringParameters", ev.QueryStringParameters, map[string]string{"x": "2", "y": "hello world", "z": ""})
	httpDeepEq(t, "multiValueQueryStringParameters", ev.MultiValueQueryStringParameters,
		map[string][]string{"x": {"1", "2"}, "y": {"hello world"}, "z": {""}})
	httpDeepEq(t, "pathParameters", ev.PathParameters, map[string]string{"id": "a b"})
	httpEq(t, "stageVariables", httpRawField(t, data, "stageVariables"), "null")
	httpEq(t, "body", httpRawField(t, data, "body"), "null")
	httpEq(t, "isBase64Encoded", httpRawField(t, data, "isBase64Encoded"), "false")

	rc := ev.RequestContext
	httpEq(t, "accountId", rc.AccountID, "210987654321")
	if len(rc.ResourceID) != 6 {
		t.Errorf("resourceId = %q", rc.ResourceID)
	}
	httpEq(t, "stage", rc.Stage, "Prod")
	httpEq(t, "domainName", rc.DomainName, host)
	httpEq(t, "domainPrefix", rc.DomainPrefix, "127.0.0.1")
	httpEq(t, "requestId", rc.RequestID, httpTestRequestID)
	if rc.ExtendedRequestID == "" || rc.ExtendedRequestID == rc.RequestID {
		t.Errorf("extendedRequestId = %q", rc.ExtendedRequestID)
	}
	httpEq(t, "protocol", rc.Protocol, "HTTP/1.1")
	httpEq(t, "identity.sourceIp", rc.Identity.SourceIP, "127.0.0.1")
	httpEq(t, "identity.userAgent", rc.Identity.UserAgent, httpTestUA)
	httpEq(t, "resourcePath", rc.ResourcePath, "/items/{id}")
	httpEq(t, "requestContext.path", rc.Path, "/Prod/items/a%20b")
	httpEq(t, "requestContext.httpMethod", rc.HTTPMethod, "GET")
	httpEq(t, "requestTime", rc.RequestTime, httpTestTime)
	httpEq(t, "requestTimeEpoch", rc.RequestTimeEpoch, httpTestEpoch)
	if len(rc.APIID) != 10 {
		t.Errorf("apiId = %q", rc.APIID)
	}
	if rc.Authorizer != nil {
		t.Errorf("authorizer = %v", rc.Authorizer)
	}

	// The same request again gives the same event: ids are derived, not random.
	if again := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodGet, target: "/items/a%20b?x=1&x=2&y=hello%20world&z",
		header: http.Header{"X-Multi": {"1", "2"}, "Cookie": {"a=1; b=2"}, "Accept": {"*/*"}}}); string(again) != string(data) {
		t.Errorf("events differ:\n%s\n%s", data, again)
	}
}

func TestRESTEventShape(t *testing.T) {
	srv := httpEventServer(t, HTTPRoute{Format: FormatREST, Resource: "/{proxy+}", PathParameters: map[string]string{"proxy": "hello/world"}})
	data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPost, target: "/hello/world?name=me",
		header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"a": 1}`)})
	checkShape(t, data, "apigw-request.json",
		[]string{"requestContext.authorizer"},
		[]string{
			// Caller identity fields only authenticated callers have.
			"requestContext.identity.cognitoIdentityPoolId", "requestContext.identity.accountId",
			"requestContext.identity.cognitoIdentityId", "requestContext.identity.caller",
			"requestContext.identity.apiKey", "requestContext.identity.apiKeyId",
			"requestContext.identity.accessKey", "requestContext.identity.cognitoAuthenticationType",
			"requestContext.identity.cognitoAuthenticationProvider", "requestContext.identity.userArn",
			"requestContext.identity.user", "requestContext.identity.clientCert",
		},
		// Always sent by API Gateway (see its payload 1.0 example), absent
		// from this sample.
		[]string{"isBase64Encoded"})
}

func TestRESTEventBody(t *testing.T) {
	cases := []struct {
		name        string
		binaryTypes []string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"png as binary media type", []string{"image/*"}, "image/png", pngBytes, true},
		{"json with other binary types", []string{"image/png"}, "application/json", []byte(`{"a":"<&>"}`), false},
		{"anything with */*", []string{"*/*"}, "application/json", []byte(`{"a":1}`), true},
		{"no binary types", nil, "application/octet-stream", []byte("plain bytes"), false},
		// Not UTF-8: a JSON string cannot carry it, so it goes base64
		// even though no binary type matches.
		{"png without binary types", nil, "image/png", pngBytes, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httpEventServer(t, HTTPRoute{Format: FormatREST, Resource: "/files/{proxy+}",
				PathParameters: map[string]string{"proxy": "a/b/c.png"}, BinaryMediaTypes: c.binaryTypes, Stage: "dev"})
			data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodPost, target: "/files/a/b/c.png",
				header: http.Header{"Content-Type": {c.contentType}}, body: c.body})
			var ev lambdaevents.APIGatewayProxyRequest
			decodeHTTPEvent(t, data, &ev)
			httpEq(t, "isBase64Encoded", ev.IsBase64Encoded, c.wantBase64)
			got := eventBody(t, ev.Body, ev.IsBase64Encoded)
			httpEq(t, "body", string(got), string(c.body))
			httpDeepEq(t, "pathParameters", ev.PathParameters, map[string]string{"proxy": "a/b/c.png"})
			httpEq(t, "resource", ev.Resource, "/files/{proxy+}")
			httpEq(t, "stage", ev.RequestContext.Stage, "dev")
			httpEq(t, "requestContext.path", ev.RequestContext.Path, "/dev/files/a/b/c.png")
			httpEq(t, "Content-Length", ev.Headers["Content-Length"], strconv.Itoa(len(c.body)))
			httpEq(t, "queryStringParameters", httpRawField(t, data, "queryStringParameters"), "null")
			httpEq(t, "multiValueQueryStringParameters", httpRawField(t, data, "multiValueQueryStringParameters"), "null")
		})
	}
}

func TestRESTEventNoPathParameters(t *testing.T) {
	srv := httpEventServer(t, HTTPRoute{Format: FormatREST, Resource: "/"})
	data := fetchHTTPEvent(t, srv, sentRequest{method: http.MethodDelete, target: "/"})
	httpEq(t, "pathParameters", httpRawField(t, data, "pathParameters"), "null")
	httpEq(t, "body", httpRawField(t, data, "body"), "null")
	httpEq(t, "httpMethod", httpRawField(t, data, "httpMethod"), `"DELETE"`)
}

func TestRESTResponse(t *testing.T) {
	t.Run("headers merged", func(t *testing.T) {
		resp, body := httpRespond(t, FormatREST, `{"statusCode":201,
			"headers":{"X-Single":"a","X-Both":"from headers"},
			"multiValueHeaders":{"X-Multi":["1","2"],"x-both":["m1","m2"]},
			"body":"created"}`)
		httpEq(t, "status", resp.StatusCode, 201)
		httpEq(t, "body", string(body), "created")
		httpEq(t, "X-Single", resp.Header.Get("X-Single"), "a")
		httpDeepEq(t, "X-Multi", resp.Header.Values("X-Multi"), []string{"1", "2"})
		httpDeepEq(t, "X-Both", resp.Header.Values("X-Both"), []string{"m1", "m2"})
		httpEq(t, "Content-Type", resp.Header.Get("Content-Type"), "application/json")
	})
	t.Run("base64 body", func(t *testing.T) {
		resp, body := httpRespond(t, FormatREST, `{"statusCode":200,"headers":{"Content-Type":"image/png"},
			"isBase64Encoded":true,"body":"`+base64.StdEncoding.EncodeToString(pngBytes)+`"}`)
		httpEq(t, "body", string(body), string(pngBytes))
		httpEq(t, "Content-Type", resp.Header.Get("Content-Type"), "image/png")
	})
	t.Run("minimal", func(t *testing.T) {
		resp, body := httpRespond(t, FormatREST, `{"statusCode":204}`)
		httpEq(t, "status", resp.StatusCode, 204)
		httpEq(t, "body", string(body), "")
	})
	t.Run("testdata", func(t *testing.T) {
		resp, body := httpRespond(t, FormatREST, string(awsTestdata(t, "apigw-response.json")))
		httpEq(t, "status", resp.StatusCode, 200)
		httpEq(t, "body", string(body), "Hello World")
		httpEq(t, "Via", resp.Header.Get("Via"), "1.1 fb7cca60f0ecd82ce07790c9c5eef16c.cloudfront.net (CloudFront)")
		httpEq(t, "Accept-Language", resp.Header.Get("Accept-Language"), "en-US,en;q=0.8")
		httpEq(t, "Content-Type", resp.Header.Get("Content-Type"), "application/json")
	})
	t.Run("cookies field is not REST", func(t *testing.T) {
		resp, _ := httpRespond(t, FormatREST, `{"statusCode":200,"cookies":["a=1"]}`)
		if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
			t.Errorf("Set-Cookie = %q", v)
		}
	})
}
