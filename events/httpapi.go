package events

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// httpAPIEvent is the HTTP API event (payload 2.0).
type httpAPIEvent struct {
	lambdaevents.APIGatewayV2HTTPRequest
	RequestContext httpAPIRequestContext `json:"requestContext"`
}

// httpAPIRequestContext drops authentication: aws-lambda-go's struct
// value would always send an empty client certificate, which a handler
// could mistake for mutual TLS. AWS only sends it with mTLS.
type httpAPIRequestContext struct {
	lambdaevents.APIGatewayV2HTTPRequestContext
	Authentication *lambdaevents.APIGatewayV2HTTPRequestContextAuthentication `json:"authentication,omitempty"`
}

const defaultRouteKey = "$default"

func newHTTPAPIEvent(in *incoming) httpAPIEvent {
	stage := in.route.Stage
	if stage == "" {
		stage = defaultRouteKey
	}
	routeKey := defaultRouteKey
	if res := in.route.Resource; res != "" && res != defaultRouteKey {
		method := in.route.Method
		if method == "" {
			method = in.r.Method
		}
		routeKey = strings.ToUpper(method) + " " + res
	}
	// HTTP APIs hand the function the decoded path (verified against AWS
	// by others: REST, function URLs and ALB keep the percent-encoding).
	path := in.decodedPath()
	domain, prefix := in.domain()
	headers, cookies := v2Headers(in.header)
	binary := !isTextContent(in.r.Header.Get("Content-Type"), true) ||
		matchesMediaType(in.r.Header.Get("Content-Type"), in.route.BinaryMediaTypes)
	body, isBase64 := encodedBody(in.body, binary)

	var authorizer *lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if in.route.JWT != nil {
		authorizer = &lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: in.route.JWT}
	}
	return httpAPIEvent{
		APIGatewayV2HTTPRequest: lambdaevents.APIGatewayV2HTTPRequest{
			Version:               "2.0",
			RouteKey:              routeKey,
			RawPath:               path,
			RawQueryString:        in.r.URL.RawQuery,
			Cookies:               cookies,
			Headers:               headers,
			QueryStringParameters: joinedQuery(in.r.URL.RawQuery),
			PathParameters:        pathParameters(in.route.PathParameters),
			Body:                  body,
			IsBase64Encoded:       isBase64,
		},
		RequestContext: httpAPIRequestContext{APIGatewayV2HTTPRequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			Authorizer:   authorizer,
			AccountID:    in.route.account(),
			Stage:        stage,
			RequestID:    in.requestID,
			APIID:        in.apiID(),
			DomainName:   domain,
			DomainPrefix: prefix,
			Time:         in.requestTime(),
			TimeEpoch:    in.now.UnixMilli(),
			HTTP: lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    in.r.Method,
				Path:      path,
				Protocol:  in.r.Proto,
				SourceIP:  in.sourceIP,
				UserAgent: in.r.UserAgent(),
			},
		}},
	}
}

// appendHTTPAPIEvent appends ev's JSON as marshalEvent writes it, or
// reports false for the events it leaves to marshalEvent: those with an
// authorizer or a client certificate (routes with JWT, mutual TLS).
// Fields go in encoding/json's order: the request's own, then
// requestContext, which shadows the embedded one, and its fields.
func appendHTTPAPIEvent(b []byte, ev *httpAPIEvent) ([]byte, bool) {
	rc := &ev.RequestContext
	if rc.Authorizer != nil || rc.Authentication != nil {
		return b, false
	}
	b = append(b, '{')
	b = appendStringField(b, "version", ev.Version)
	b = appendStringField(b, "routeKey", ev.RouteKey)
	b = appendStringField(b, "rawPath", ev.RawPath)
	b = appendStringField(b, "rawQueryString", ev.RawQueryString)
	if len(ev.Cookies) > 0 {
		b = appendJSONStrings(appendJSONField(b, "cookies"), ev.Cookies)
	}
	b = appendJSONStringMap(appendJSONField(b, "headers"), ev.Headers)
	if len(ev.QueryStringParameters) > 0 {
		b = appendJSONStringMap(appendJSONField(b, "queryStringParameters"), ev.QueryStringParameters)
	}
	if len(ev.PathParameters) > 0 {
		b = appendJSONStringMap(appendJSONField(b, "pathParameters"), ev.PathParameters)
	}
	if len(ev.StageVariables) > 0 {
		b = appendJSONStringMap(appendJSONField(b, "stageVariables"), ev.StageVariables)
	}
	if ev.Body != "" {
		b = appendStringField(b, "body", ev.Body)
	}
	b = strconv.AppendBool(appendJSONField(b, "isBase64Encoded"), ev.IsBase64Encoded)

	b = append(appendJSONField(b, "requestContext"), '{')
	b = appendStringField(b, "routeKey", rc.RouteKey)
	b = appendStringField(b, "accountId", rc.AccountID)
	b = appendStringField(b, "stage", rc.Stage)
	b = appendStringField(b, "requestId", rc.RequestID)
	b = appendStringField(b, "apiId", rc.APIID)
	b = appendStringField(b, "domainName", rc.DomainName)
	b = appendStringField(b, "domainPrefix", rc.DomainPrefix)
	b = appendStringField(b, "time", rc.Time)
	b = strconv.AppendInt(appendJSONField(b, "timeEpoch"), rc.TimeEpoch, 10)
	h := &rc.HTTP
	b = append(appendJSONField(b, "http"), '{')
	b = appendStringField(b, "method", h.Method)
	b = appendStringField(b, "path", h.Path)
	b = appendStringField(b, "protocol", h.Protocol)
	b = appendStringField(b, "sourceIp", h.SourceIP)
	b = appendStringField(b, "userAgent", h.UserAgent)
	return append(b, '}', '}', '}'), true
}

// v2Headers is payload 2.0's header map: lowercased names, repeated
// headers joined with commas. Cookie headers are taken out and split into
// the cookies array instead.
func v2Headers(h http.Header) (map[string]string, []string) {
	out := make(map[string]string, len(h))
	var cookies []string
	for _, k := range sortedKeys(h) {
		vs, name := h[k], strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		if prev, ok := out[name]; ok {
			// Two spellings of one name (possible only with
			// non-canonical keys): keep both values.
			out[name] = prev + "," + strings.Join(vs, ",")
		} else {
			out[name] = strings.Join(vs, ",")
		}
	}
	return out, cookies
}

// joinedQuery is payload 2.0's queryStringParameters: decoded, repeated
// parameters joined with commas, absent when there are none.
func joinedQuery(rawQuery string) map[string]string {
	q, _ := url.ParseQuery(rawQuery)
	if len(q) == 0 {
		return nil
	}
	out := make(map[string]string, len(q))
	for k, vs := range q {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

// parseHTTPAPIResponse reads a payload 2.0 result. A JSON object with a
// statusCode is a response; any other valid JSON (an object without
// statusCode, a string, a number...) is the body of a 200
// application/json response, sent exactly as the function returned it, so
// a string result reaches the client with its quotes. Invalid JSON is
// malformed.
func parseHTTPAPIResponse(result []byte) (*httpResponse, error) {
	var v lambdaevents.APIGatewayV2HTTPResponse
	if inferred, err := decodeV2Response(result, &v); inferred != nil || err != nil {
		return inferred, err
	}
	// v.MultiValueHeaders is ignored: payload 2.0 has no such field, and
	// API Gateway does not read it.
	return v2Response(v.StatusCode, v.Headers, v.Cookies, v.Body, v.IsBase64Encoded)
}

// decodeV2Response decodes a payload 2.0 result into v, a pointer to an
// aws-lambda-go response type, and returns nil if it is a response (an
// object with statusCode); otherwise the inferred response, or malformed.
//
// A response, what nearly every function returns, is read by
// readV2Response, without reflect; one it cannot read is decoded once: the
// decoding validates it, and a scan of its top-level keys then finds
// statusCode. inferV2Response, which decodes the keys first, decides
// what the scan cannot (a key with escapes), what does not decode into
// v, and words the error.
func decodeV2Response(result []byte, v any) (*httpResponse, error) {
	if r, ok := readV2Response(result); ok {
		switch v := v.(type) {
		case *lambdaevents.APIGatewayV2HTTPResponse:
			*v = r
			return nil, nil
		case *lambdaevents.LambdaFunctionURLResponse:
			// Its fields are the same but for multiValueHeaders, which
			// readV2Response reads only as null.
			*v = lambdaevents.LambdaFunctionURLResponse{StatusCode: r.StatusCode, Headers: r.Headers,
				Body: r.Body, IsBase64Encoded: r.IsBase64Encoded, Cookies: r.Cookies}
			return nil, nil
		}
	}
	if json.Unmarshal(result, v) == nil {
		switch topLevelKey(result, "statusCode") {
		case keyFound:
			return nil, nil
		case keyAbsent:
			return inferredV2Response(result), nil
		}
	}
	if inferred, err := inferV2Response(result); inferred != nil || err != nil {
		return inferred, err
	}
	rv := reflect.ValueOf(v).Elem()
	rv.SetZero() // the first decoding may have filled part of it
	if err := json.Unmarshal(result, v); err != nil {
		return nil, malformed("%v", err)
	}
	return nil, nil
}

type keyPresence int

const (
	keyUnsure keyPresence = iota // not an object, or a key with escapes
	keyFound
	keyAbsent
)

// topLevelKey reports whether the valid JSON data is an object with key
// among its own keys (not those of objects inside it), comparing keys as
// written: one with an escape makes the answer keyUnsure.
func topLevelKey(data []byte, key string) keyPresence {
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i == len(data) || data[i] != '{' {
		return keyUnsure
	}
	depth, atKey := 0, false // atKey: the next string is one of the object's keys
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			start, escaped := i+1, false
			for i = start; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			if depth == 1 && atKey {
				if escaped {
					return keyUnsure
				}
				if string(data[start:i]) == key {
					return keyFound
				}
			}
			atKey = false
		case '{', '[':
			depth++
			atKey = depth == 1
		case '}', ']':
			depth--
		case ',':
			atKey = depth == 1
		}
	}
	return keyAbsent
}

// inferV2Response returns the inferred response for a result that is not
// a JSON object with statusCode, nil for one that is.
func inferV2Response(result []byte) (*httpResponse, error) {
	// An object is validated by decoding its keys (json.Unmarshal checks
	// the whole input before it decodes): a json.Valid first would scan
	// it once more, on every request.
	if trimmed := bytes.Trim(result, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		var keys map[string]skippedValue
		if json.Unmarshal(trimmed, &keys) != nil {
			return nil, malformed("result is not valid JSON")
		}
		if _, ok := keys["statusCode"]; ok {
			return nil, nil
		}
	} else if !json.Valid(result) {
		return nil, malformed("result is not valid JSON")
	}
	return inferredV2Response(result), nil
}

// inferredV2Response is the response to a result that is valid JSON but
// not an object with statusCode: the result as a JSON body.
func inferredV2Response(result []byte) *httpResponse {
	h := http.Header{"Content-Type": {"application/json"}}
	return &httpResponse{status: http.StatusOK, header: h, body: bytes.Clone(result)}
}

// skippedValue decodes any JSON value into nothing: a map of them lists
// an object's keys without copying its values.
type skippedValue struct{}

func (*skippedValue) UnmarshalJSON([]byte) error { return nil }

// v2Response builds a payload 2.0 (or function URL) response: headers as
// given, each cookie its own Set-Cookie header.
func v2Response(status int, headers map[string]string, cookies []string, body string, isBase64 bool) (*httpResponse, error) {
	if err := validStatus(status); err != nil {
		return nil, err
	}
	b, err := decodeBody(body, isBase64)
	if err != nil {
		return nil, err
	}
	h := responseHeaders(headers, nil)
	for _, c := range cookies {
		if validHeaderValue(c) {
			h.Add("Set-Cookie", c)
		}
	}
	return &httpResponse{status: status, header: h, body: b}, nil
}

// writeHTTPAPIError writes an HTTP API error: JSON {"message": ...} with
// HTTP API's own wording and codes (500 for a failed integration, 503 when
// it timed out).
func writeHTTPAPIError(w http.ResponseWriter, status int) {
	message := http.StatusText(status)
	switch status {
	case http.StatusForbidden, http.StatusNotFound:
		status, message = http.StatusNotFound, "Not Found"
	case http.StatusInternalServerError, http.StatusBadGateway:
		status, message = http.StatusInternalServerError, "Internal Server Error"
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		status, message = http.StatusServiceUnavailable, "Service Unavailable"
	}
	writeJSONMessage(w, status, message)
}

// sortedKeys is for deterministic iteration where order shows.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
