package events_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/ferrywasm/ferry/events"
)

// BenchmarkHTTPAPIRequest is the gateway's own work for one HTTP API
// request (cmd/ferry's BenchmarkServeHTTPAPI): the event built from the
// request, and the function's result (samples/http-api's answer) turned
// into the response.
//
//	go test -run '^$' -bench HTTPAPIRequest -benchmem ./events
func BenchmarkHTTPAPIRequest(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/http-api/items/42?name=ferry&tag=a&tag=b", nil)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	route := events.HTTPRoute{Format: events.FormatHTTPAPI, Resource: "/http-api/{proxy+}", Method: "ANY",
		PathParameters: map[string]string{"proxy": "items/42"}, FunctionName: "http-api"}
	reply, _ := json.Marshal(map[string]any{
		"routeKey": "ANY /http-api/{proxy+}", "method": "GET", "rawPath": "/http-api/items/42", "rawQueryString": "name=ferry&tag=a&tag=b",
		"query": map[string]string{"name": "ferry", "tag": "a,b"}, "pathParameters": map[string]string{"proxy": "items/42"},
		"cookies": nil, "userAgent": "Go-http-client/1.1", "accept": "", "body": "", "greeting": "hello, ferry",
	})
	result, err := json.Marshal(lambdaevents.APIGatewayV2HTTPResponse{
		StatusCode: 200, Headers: map[string]string{"content-type": "application/json"},
		Cookies: []string{"visited=yes; Path=/; HttpOnly"}, Body: string(reply),
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.NewHTTPEvent(r, nil, route, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", now); err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		if err := events.WriteHTTPResponse(w, events.FormatHTTPAPI, result); err != nil || w.Code != http.StatusOK {
			b.Fatal(err, w.Code)
		}
	}
}
