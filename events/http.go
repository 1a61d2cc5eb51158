package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// HTTPFormat is the AWS service whose Lambda integration an HTTP route
// imitates. It decides the event a function receives and how its result
// becomes the HTTP response.
type HTTPFormat string

const (
	FormatREST        HTTPFormat = "rest"         // API Gateway REST API, payload 1.0
	FormatHTTPAPI     HTTPFormat = "http-api"     // API Gateway HTTP API, payload 2.0
	FormatFunctionURL HTTPFormat = "function-url" // Lambda function URL
	FormatALB         HTTPFormat = "alb"          // Application Load Balancer target
)

// HTTPFormats lists the formats, in the order messages name them.
var HTTPFormats = []HTTPFormat{FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB}

// ParseHTTPFormat reads a format name as written in configuration. An empty
// name is the HTTP API: it is what `sam init` templates and new AWS consoles
// pick, and its responses are the most forgiving (a bare JSON result works).
func ParseHTTPFormat(s string) (HTTPFormat, error) {
	switch f := HTTPFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatHTTPAPI, nil
	case FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB:
		return f, nil
	}
	return "", fmt.Errorf("unknown HTTP event format %q: want %s, %s, %s or %s",
		s, FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB)
}

// HTTPRoute is what the router knows about the matched route.
type HTTPRoute struct {
	Format HTTPFormat
	// Resource is the configured path template, e.g. "/items/{id}" or
	// "/files/{proxy+}"; "$default" for an HTTP API default route.
	Resource string
	// Method is the configured method of the route ("GET", or "ANY" for a
	// catch-all). HTTP API's routeKey names the configured method, not the
	// request's; empty means the request's method.
	Method string
	// PathParameters are the values for {param} and {proxy+} (key "proxy"),
	// copied into the event as given: the router should decode them, as API
	// Gateway does. Function URLs and ALB have no routes of their own:
	// Resource, Method, PathParameters and Stage do not reach their events.
	PathParameters map[string]string
	// Stage defaults to "Prod" for REST (as `sam local` does) and to
	// "$default" for an HTTP API.
	Stage string
	// BinaryMediaTypes are the API's binary media types ("image/png",
	// "image/*", "*/*"): a request body of such a Content-Type reaches the
	// function base64-encoded.
	BinaryMediaTypes []string
	// MultiValueHeaders is the ALB target group attribute
	// lambda.multi_value_headers.enabled.
	MultiValueHeaders bool
	// TargetGroupARN defaults to
	// arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<function>/<hex>.
	TargetGroupARN string
	// JWT is what a JWT authorizer found in this request's token: HTTP
	// API events carry it in requestContext.authorizer.jwt.
	JWT *lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
	// FunctionName, Region and AccountID fill ids and ARNs; they default to
	// "function", us-east-1 and 123456789012.
	FunctionName, Region, AccountID string
}

func (rt HTTPRoute) region() string {
	if rt.Region != "" {
		return rt.Region
	}
	return defaultRegion
}

func (rt HTTPRoute) account() string {
	if rt.AccountID != "" {
		return rt.AccountID
	}
	return defaultAccount
}

func (rt HTTPRoute) function() string {
	if rt.FunctionName != "" {
		return rt.FunctionName
	}
	return "function"
}

// NewHTTPEvent builds the event for r, as route.Format's service would send
// it, and returns it as JSON. body is the request body, already read (and
// bounded) by the caller; r.Body is not touched. requestID becomes the
// event's request id and now its request time.
func NewHTTPEvent(r *http.Request, body []byte, route HTTPRoute, requestID string, now time.Time) ([]byte, error) {
	in := newIncoming(r, body, route, requestID, now)
	var ev any
	switch route.Format {
	case FormatREST:
		ev = newRESTEvent(in)
	case FormatHTTPAPI:
		httpAPI := newHTTPAPIEvent(in)
		if b, ok := appendHTTPAPIEvent(make([]byte, 0, 1024), &httpAPI); ok {
			return b, nil
		}
		ev = httpAPI
	case FormatFunctionURL:
		ev = newFunctionURLEvent(in)
	case FormatALB:
		ev = newALBEvent(in)
	default:
		return nil, fmt.Errorf("unknown HTTP event format %q", route.Format)
	}
	return marshalEvent(ev)
}

// marshalEvent encodes without HTML escaping, so that bodies and headers
// read in the event as they were sent (AWS does not escape <, > and &).
func marshalEvent(ev any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// incoming is the request as every format sees it, after the gateway added
// its own headers.
type incoming struct {
	r         *http.Request
	body      []byte
	route     HTTPRoute
	requestID string
	now       time.Time
	sourceIP  string
	// header is r.Header plus Host and the headers every AWS front end
	// adds: X-Forwarded-For/-Port/-Proto and X-Amzn-Trace-Id.
	header http.Header
}

func newIncoming(r *http.Request, body []byte, route HTTPRoute, requestID string, now time.Time) *incoming {
	in := &incoming{r: r, body: body, route: route, requestID: requestID, now: now.UTC(), sourceIP: sourceIP(r)}
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		h["Host"] = []string{r.Host}
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		h.Set("X-Forwarded-For", strings.Join(xff, ", ")+", "+in.sourceIP)
	} else {
		h.Set("X-Forwarded-For", in.sourceIP)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Port", localPort(r, proto))
	if h.Get("X-Amzn-Trace-Id") == "" {
		h.Set("X-Amzn-Trace-Id", traceID(requestID, in.now))
	}
	in.header = h
	return in
}

// sourceIP is the address of the TCP peer, as AWS reports it (the client's
// own X-Forwarded-For is not trusted).
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPort is the port the request arrived on, for X-Forwarded-Port.
func localPort(r *http.Request, proto string) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	if proto == "https" {
		return "443"
	}
	return "80"
}

// traceID is an X-Ray trace header, Root=1-<epoch hex>-<24 hex>, derived
// from the request id so a request's events are reproducible.
func traceID(requestID string, now time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hashHex("trace:"+requestID, 24))
}

// hashHex is n hex digits derived from s: stable, plausible ids (API ids,
// resource ids, ARNs) without randomness, so events can be diffed.
func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// hashBase36 is like hashHex but over [0-9a-z], the alphabet of API
// Gateway API ids and function URL ids.
func hashBase36(s string, n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(s))
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[sum[i%len(sum)]%36]
	}
	return string(out)
}

// extendedRequestID looks like API Gateway's base64 request ids ("TWegAcC4EowCHnA=").
func extendedRequestID(requestID string) string {
	sum := sha256.Sum256([]byte("ext:" + requestID))
	return base64.StdEncoding.EncodeToString(sum[:11])
}

// apiID is the id of the API the route belongs to, ten characters like the
// real ones ("gy415nuibc").
func (in *incoming) apiID() string {
	return hashBase36("api:"+string(in.route.Format)+":"+in.route.function(), 10)
}

// domain returns the request's Host, which API Gateway reports as
// domainName, and its first label as domainPrefix (the whole host when it
// is an IP address, whose first label means nothing).
func (in *incoming) domain() (name, prefix string) {
	name = in.r.Host
	host := name
	if h, _, err := net.SplitHostPort(name); err == nil {
		host = h
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return name, host
	}
	prefix, _, _ = strings.Cut(host, ".")
	return name, prefix
}

// requestTime is API Gateway's requestContext time, e.g. "15/May/2020:06:01:09 +0000".
func (in *incoming) requestTime() string { return in.now.Format(restTimeLayout) }

// escapedPath is the path as the client sent it (percent-encoding kept),
// which is what REST APIs, function URLs and ALB report.
func (in *incoming) escapedPath() string {
	p := in.r.URL.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// decodedPath is the path with percent-encoding removed, as HTTP APIs
// report it.
func (in *incoming) decodedPath() string {
	if in.r.URL.Path == "" {
		return "/"
	}
	return in.r.URL.Path
}

// encodedBody returns the body as the event carries it: base64 when binary
// says so or when the bytes are not UTF-8 (a JSON string cannot carry them
// losslessly), as is otherwise.
func encodedBody(body []byte, binary bool) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if binary || !utf8.Valid(body) {
		return base64.StdEncoding.EncodeToString(body), true
	}
	return string(body), false
}

// mediaType is the lowercased type/subtype of a Content-Type and its
// parameters; a value mime cannot parse still yields its type/subtype.
func mediaType(contentType string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt, params
}

// matchesMediaType reports whether contentType is one of the binary media
// types configured on an API. Patterns are type/subtype, type/* or */*
// (CloudFormation's "~1" escape for "/" is accepted too); "*/*" also
// matches a request without Content-Type, since API Gateway then treats
// every payload as binary.
func matchesMediaType(contentType string, patterns []string) bool {
	mt, _ := mediaType(contentType)
	typ, _, _ := strings.Cut(mt, "/")
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(p, "~1", "/")))
		switch {
		case p == "*/*":
			return true
		case mt == "":
		case p == mt:
			return true
		case strings.HasSuffix(p, "/*") && strings.TrimSuffix(p, "/*") == typ:
			return true
		}
	}
	return false
}

// isTextContent reports whether a request body of contentType reaches the
// function as text rather than base64. ALB documents the list: text/*,
// application/json, application/javascript and application/xml; HTTP APIs
// and function URLs use the same list (measured against AWS), and there a
// charset other than UTF-8 makes the body binary too. A missing
// Content-Type is binary.
func isTextContent(contentType string, checkCharset bool) bool {
	mt, params := mediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "text/"):
	case mt == "application/json", mt == "application/javascript", mt == "application/xml":
	default:
		return false
	}
	if cs, ok := params["charset"]; ok && checkCharset {
		return strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
	}
	return true
}

// ErrMalformedResponse is returned (wrapped, with the reason) by
// WriteHTTPResponse when a function's result is not a response the
// format's service would accept; the service answers 502 instead.
var ErrMalformedResponse = errors.New("malformed Lambda proxy response")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}

// WriteHTTPResponse turns the function's successful result into the HTTP
// response, as format's service does. When the result is not a valid
// response for the format it returns an error wrapping ErrMalformedResponse
// and writes nothing, so the caller can still send
// WriteHTTPError(w, format, http.StatusBadGateway). Errors writing to w
// (a client that went away) are not reported: the status line is out by
// then and nothing else can be done.
func WriteHTTPResponse(w http.ResponseWriter, format HTTPFormat, result []byte) error {
	var (
		resp *httpResponse
		err  error
	)
	switch format {
	case FormatREST:
		resp, err = parseRESTResponse(result)
	case FormatHTTPAPI:
		resp, err = parseHTTPAPIResponse(result)
	case FormatFunctionURL:
		resp, err = parseFunctionURLResponse(result)
	case FormatALB:
		resp, err = parseALBResponse(result)
	default:
		return fmt.Errorf("unknown HTTP event format %q", format)
	}
	if err != nil {
		return err
	}
	resp.write(w)
	return nil
}

// httpResponse is a fully validated response, built before anything is
// written so that a malformed result never leaves a partial response.
type httpResponse struct {
	status int
	header http.Header
	body   []byte
}

func (resp *httpResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	if _, ok := h["Content-Type"]; !ok {
		// A nil entry stops net/http from sniffing a Content-Type the
		// service would not have sent.
		h["Content-Type"] = nil
	}
	if bodyAllowed(resp.status) {
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// bodyAllowed reports whether a response with status may carry a body
// (and so a Content-Length); 204 and 304 may not.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// validStatus rejects codes net/http cannot send as a final response
// (WriteHeader panics below 100; 1xx are interim responses).
func validStatus(code int) error {
	if code < 200 || code > 599 {
		if code == 0 {
			return malformed("statusCode missing or 0")
		}
		return malformed("statusCode %d out of range", code)
	}
	return nil
}

// decodeBody turns a response body into bytes, base64-decoding it when the
// function said it is encoded.
func decodeBody(body string, isBase64 bool) ([]byte, error) {
	if !isBase64 {
		return []byte(body), nil
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, malformed("body is not valid base64: %v", err)
	}
	return b, nil
}

// decodeObject decodes a result that must be a JSON object and reports its
// keys, so that a field's presence (statusCode) can be told from its zero
// value.
func decodeObject(result []byte, v any) (map[string]json.RawMessage, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(result, &keys); err != nil || keys == nil {
		return nil, malformed("result is not a JSON object")
	}
	if err := json.Unmarshal(result, v); err != nil {
		return nil, malformed("%v", err)
	}
	return keys, nil
}

// responseHeaders merges a proxy response's headers and multiValueHeaders
// the way API Gateway documents it: both are sent, and where a name is in
// both, only the multiValueHeaders values are. Header names are
// case-insensitive. Headers net/http cannot send (bad names, CR/LF in
// values) are dropped, and so are the hop-by-hop headers and Content-Length,
// which the gateway computes itself.
func responseHeaders(single map[string]string, multi map[string][]string) http.Header {
	h := http.Header{}
	for k, vs := range multi {
		if !sendableHeader(k) {
			continue
		}
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vs {
			if validHeaderValue(v) {
				h[ck] = append(h[ck], v)
			}
		}
	}
	inMulti := make(map[string]bool, len(multi))
	for k := range multi {
		inMulti[http.CanonicalHeaderKey(k)] = true
	}
	for k, v := range single {
		ck := http.CanonicalHeaderKey(k)
		if inMulti[ck] || !sendableHeader(k) || !validHeaderValue(v) {
			continue
		}
		h[ck] = append(h[ck], v)
	}
	return h
}

var gatewayOwnedHeaders = map[string]bool{
	"Connection": true, "Content-Length": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func sendableHeader(name string) bool {
	if name == "" || gatewayOwnedHeaders[http.CanonicalHeaderKey(name)] {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}

// WriteHTTPError writes the gateway's own error response for status, in
// the shape format's service uses. status names the condition the way a
// REST API reports it, so a router can use one code for every format:
//
//   - 403 or 404: no route. REST answers 403 {"message":"Missing
//     Authentication Token"}; HTTP API and function URL 404
//     {"message":"Not Found"}; ALB 404.
//   - 413: request too large; 429: throttled.
//   - 500 or 502: the function failed or returned a malformed result. REST
//     and ALB answer 502; HTTP API 500 {"message":"Internal Server Error"};
//     function URL 502 "Internal Server Error".
//   - 504: the integration timed out. REST answers 504 {"message":"Endpoint
//     request timed out"}; HTTP API 503 {"message":"Service Unavailable"};
//     function URL 502 (to Lambda a timeout is a function error); ALB 504.
//
// Codes below 400 are not errors and are treated as 500. API Gateway
// errors are JSON; ALB errors are its small HTML status pages.
func WriteHTTPError(w http.ResponseWriter, format HTTPFormat, status int) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	switch format {
	case FormatHTTPAPI:
		writeHTTPAPIError(w, status)
	case FormatFunctionURL:
		writeFunctionURLError(w, status)
	case FormatALB:
		writeALBError(w, status)
	default:
		writeRESTError(w, status)
	}
}

// writeJSONMessage writes API Gateway's {"message": ...} error body.
func writeJSONMessage(w http.ResponseWriter, status int, message string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
