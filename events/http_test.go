package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// The HTTP tests send real requests over loopback to servers that run the
// code under test, and compare against the payloads AWS publishes in
// aws-lambda-go's testdata.

var httpTestNow = time.Date(2024, time.March, 5, 7, 8, 9, 123_000_000, time.UTC)

const (
	httpTestRequestID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
	httpTestTime      = "05/Mar/2024:07:08:09 +0000"
	httpTestEpoch     = int64(1709622489123)
	httpTestUA        = "ferry-test/1.0"
)

// pngBytes is the start of a PNG file: not UTF-8, so it can only travel
// base64-encoded.
var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

var traceIDPattern = regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)

// eventServer answers every request with the event NewHTTPEvent builds
// for it under route.
func httpEventServer(t *testing.T, route HTTPRoute) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ev, err := NewHTTPEvent(r, body, route, httpTestRequestID, httpTestNow)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ev)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sentRequest is a request for fetchEvent; target is path and query as
// they go on the wire.
type sentRequest struct {
	method, target string
	header         http.Header
	body           []byte
}

// fetchEvent sends req to srv and returns the event it answered with.
func fetchHTTPEvent(t *testing.T, srv *httptest.Server, req sentRequest) []byte {
	t.Helper()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	r, err := http.NewRequest(req.method, srv.URL+req.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range req.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	r.Header.Set("User-Agent", httpTestUA)
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event server: %s: %s", resp.Status, data)
	}
	return data
}

func decodeHTTPEvent(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// rawField returns the JSON of a top-level or dotted field, "" if absent.
func httpRawField(t *testing.T, data []byte, path string) string {
	t.Helper()
	cur := json.RawMessage(data)
	for _, k := range strings.Split(path, ".") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return ""
		}
		v, ok := m[k]
		if !ok {
			return ""
		}
		cur = v
	}
	return string(cur)
}

func srvHostPort(t *testing.T, srv *httptest.Server) (host, port string) {
	t.Helper()
	hostport := strings.TrimPrefix(srv.URL, "http://")
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return hostport, port
}

// eventBody returns an event's body as bytes, decoding it when the event
// says it is base64.
func eventBody(t *testing.T, body string, isBase64 bool) []byte {
	t.Helper()
	if !isBase64 {
		return []byte(body)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func httpEq[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func httpDeepEq(t *testing.T, field string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

var (
	awsModuleDir  string
	awsModuleErr  error
	awsModuleOnce sync.Once
)

// awsTestdata reads one of the AWS payloads shipped with aws-lambda-go.
func awsTestdata(t *testing.T, name string) []byte {
	t.Helper()
	awsModuleOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
		awsModuleDir, awsModuleErr = strings.TrimSpace(string(out)), err
	})
	if awsModuleErr != nil || awsModuleDir == "" {
		t.Fatalf("locating aws-lambda-go: %v", awsModuleErr)
	}
	data, err := os.ReadFile(filepath.Join(awsModuleDir, "events", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// jsonKeyPaths lists the dotted key paths of a JSON document. Objects
// whose keys are data (headers, parameters) are leaves, as are the paths
// in leaves; arrays are not entered.
func jsonKeyPaths(t *testing.T, data []byte, leaves ...string) map[string]bool {
	t.Helper()
	isLeaf := map[string]bool{}
	for _, l := range []string{"headers", "multiValueHeaders", "queryStringParameters",
		"multiValueQueryStringParameters", "pathParameters", "stageVariables"} {
		isLeaf[l] = true
	}
	for _, l := range leaves {
		isLeaf[l] = true
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	paths := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, child := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			paths[p] = true
			if !isLeaf[p] {
				walk(p, child)
			}
		}
	}
	walk("", doc)
	return paths
}

// checkShape compares the key paths of an event with an AWS sample:
// keys the sample has that ferry leaves out (authorizer data and the
// like) and keys ferry adds (documented by AWS but missing from the
// sample) must be listed, so any other drift fails.
func checkShape(t *testing.T, got []byte, sample string, leaves, mayLack, mayAdd []string) {
	t.Helper()
	have := jsonKeyPaths(t, got, leaves...)
	want := jsonKeyPaths(t, awsTestdata(t, sample), leaves...)
	lack, add := map[string]bool{}, map[string]bool{}
	for _, k := range mayLack {
		lack[k] = true
	}
	for _, k := range mayAdd {
		add[k] = true
	}
	var missing, extra []string
	for k := range want {
		if !have[k] && !lackedBy(lack, k) {
			missing = append(missing, k)
		}
	}
	for k := range have {
		if !want[k] && !add[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("shape differs from %s:\nmissing %v\nextra   %v", sample, missing, extra)
	}
}

// lackedBy reports whether p or one of its ancestors is in lack.
func lackedBy(lack map[string]bool, p string) bool {
	for {
		if lack[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func TestParseHTTPFormat(t *testing.T) {
	for in, want := range map[string]HTTPFormat{
		"": FormatHTTPAPI, "rest": FormatREST, "http-api": FormatHTTPAPI,
		" Function-URL ": FormatFunctionURL, "ALB": FormatALB,
	} {
		got, err := ParseHTTPFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseHTTPFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"http", "v2", "lambda"} {
		if got, err := ParseHTTPFormat(in); err == nil {
			t.Errorf("ParseHTTPFormat(%q) = %q, want an error", in, got)
		}
	}
}

func TestNewHTTPEventUnknownFormat(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := NewHTTPEvent(r, nil, HTTPRoute{Format: "soap"}, "id", httpTestNow); err == nil {
		t.Error("NewHTTPEvent with an unknown format succeeded")
	}
	rec := httptest.NewRecorder()
	if err := WriteHTTPResponse(rec, "soap", []byte(`{"statusCode":200}`)); err == nil || errors.Is(err, ErrMalformedResponse) {
		t.Errorf("WriteHTTPResponse with an unknown format: %v", err)
	}
}

// TestNewHTTPEventOddRequests feeds requests a server would not produce
// (no port in RemoteAddr, no Host, nil Header, empty path) to every
// format: each must still give a valid event.
func TestNewHTTPEventOddRequests(t *testing.T) {
	odd := []*http.Request{
		{Method: "GET", URL: httpTestURL(t, "/"), RemoteAddr: "10.0.0.1"},
		{Method: "POST", URL: httpTestURL(t, ""), Header: http.Header{"Content-Type": {";;;"}}, Host: "[::1]:80"},
		{Method: "PUT", URL: httpTestURL(t, "/%zz?%zz=%&a;b"), Header: http.Header{"Cookie": {";;"}}},
	}
	for _, f := range []HTTPFormat{FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB} {
		for _, r := range odd {
			for _, body := range [][]byte{nil, pngBytes, []byte("text")} {
				ev, err := NewHTTPEvent(r, body, HTTPRoute{Format: f, MultiValueHeaders: true}, "", time.Time{})
				if err != nil || !json.Valid(ev) {
					t.Errorf("%s %s: %v %s", f, r.URL, err, ev)
				}
			}
		}
	}
}

func httpTestURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse rejects some escapes; keep the raw form.
		return &url.URL{Path: s}
	}
	return u
}

func TestMatchesMediaType(t *testing.T) {
	cases := []struct {
		ct       string
		patterns []string
		want     bool
	}{
		{"image/png", []string{"image/png"}, true},
		{"IMAGE/PNG; q=1", []string{"image/png"}, true},
		{"image/jpeg", []string{"image/*"}, true},
		{"image/jpeg", []string{"image~1*"}, true},
		{"application/octet-stream", []string{"*/*"}, true},
		{"", []string{"*/*"}, true},
		{"", []string{"image/*"}, false},
		{"text/plain", []string{"image/*", "application/pdf"}, false},
		{"application/json", nil, false},
		{"imagex/png", []string{"image/*"}, false},
	}
	for _, c := range cases {
		if got := matchesMediaType(c.ct, c.patterns); got != c.want {
			t.Errorf("matchesMediaType(%q, %q) = %v", c.ct, c.patterns, got)
		}
	}
}

func TestIsTextContent(t *testing.T) {
	cases := []struct {
		ct           string
		checkCharset bool
		want         bool
	}{
		{"text/plain", true, true},
		{"text/html; charset=UTF-8", true, true},
		{"text/plain; charset=iso-8859-1", true, false},
		{"text/plain; charset=iso-8859-1", false, true},
		{"application/json", true, true},
		{"application/json; charset=utf-8", true, true},
		{"application/xml", true, true},
		{"application/javascript", true, true},
		{"application/x-www-form-urlencoded", true, false},
		{"application/problem+json", true, false},
		{"multipart/form-data; boundary=x", true, false},
		{"image/png", true, false},
		{"", true, false},
	}
	for _, c := range cases {
		if got := isTextContent(c.ct, c.checkCharset); got != c.want {
			t.Errorf("isTextContent(%q, %v) = %v", c.ct, c.checkCharset, got)
		}
	}
}

// resultServer runs WriteHTTPResponse on result and records what it
// returned and whether it touched the response first. On error it answers
// like the router will, with WriteHTTPError(502).
type resultServer struct {
	srv     *httptest.Server
	format  HTTPFormat
	mu      sync.Mutex
	err     error
	touched bool
}

// trackingWriter notes whether anything was written or any header set.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func newResultServer(t *testing.T, format HTTPFormat, result []byte) *resultServer {
	t.Helper()
	rs := &resultServer{format: format}
	rs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		err := WriteHTTPResponse(tw, format, result)
		rs.mu.Lock()
		rs.err, rs.touched = err, tw.wrote || len(w.Header()) > 0
		rs.mu.Unlock()
		if err != nil {
			WriteHTTPError(w, format, http.StatusBadGateway)
		}
	}))
	t.Cleanup(rs.srv.Close)
	return rs
}

// get fetches the response and returns it with its body.
func (rs *resultServer) get(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	resp, err := rs.srv.Client().Get(rs.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// respond serves result in format and returns the client's view; it fails
// the test if WriteHTTPResponse reported an error.
func httpRespond(t *testing.T, format HTTPFormat, result string) (*http.Response, []byte) {
	t.Helper()
	rs := newResultServer(t, format, []byte(result))
	resp, body := rs.get(t)
	if rs.err != nil {
		t.Fatalf("WriteHTTPResponse(%s, %s): %v", format, result, rs.err)
	}
	return resp, body
}

// checkMalformed serves a result that must be rejected: WriteHTTPResponse
// returns ErrMalformedResponse without touching the response, and the
// client sees the gateway's 502 (500 for an HTTP API) only.
func checkMalformed(t *testing.T, format HTTPFormat, result string) {
	t.Helper()
	rs := newResultServer(t, format, []byte(result))
	resp, body := rs.get(t)
	if !errors.Is(rs.err, ErrMalformedResponse) {
		t.Errorf("%s %q: err = %v, want ErrMalformedResponse", format, result, rs.err)
	}
	if rs.touched {
		t.Errorf("%s %q: response touched before the error", format, result)
	}
	wantStatus := http.StatusBadGateway
	if format == FormatHTTPAPI {
		wantStatus = http.StatusInternalServerError
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("%s %q: status %d, body %s", format, result, resp.StatusCode, body)
	}
}

// malformedForAll are results no format accepts.
var malformedForAll = []string{
	"", "not json", "{", `{"statusCode":200}}`,
	`{"statusCode":"200"}`, `{"statusCode":200.5}`, `{"statusCode":0}`, `{"statusCode":42}`,
	`{"statusCode":99999}`, `{"statusCode":-1}`, `{"statusCode":200,"body":{"a":1}}`,
	`{"statusCode":200,"isBase64Encoded":true,"body":"!!not base64"}`,
	`{"statusCode":200,"headers":["a"]}`, `{"statusCode":200,"headers":{"a":1}}`,
}

// malformedObjectFormats are, in addition, malformed for REST and ALB,
// which require an object with statusCode.
var malformedWithoutStatus = []string{`null`, `[1,2]`, `"body"`, `42`, `{"body":"x"}`, `{"StatusCode":200}`}

func TestWriteHTTPResponseMalformed(t *testing.T) {
	for _, f := range []HTTPFormat{FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB} {
		for _, result := range malformedForAll {
			checkMalformed(t, f, result)
		}
	}
	for _, f := range []HTTPFormat{FormatREST, FormatALB} {
		for _, result := range malformedWithoutStatus {
			checkMalformed(t, f, result)
		}
	}
}

// FuzzWriteHTTPResponse checks that no result makes WriteHTTPResponse
// panic, and that a rejected result leaves the response untouched.
func FuzzWriteHTTPResponse(f *testing.F) {
	for _, s := range append(append([]string{}, malformedForAll...), malformedWithoutStatus...) {
		f.Add(s)
	}
	f.Add(`{"statusCode":204,"body":"not allowed"}`)
	f.Add(`{"statusCode":200,"headers":{"Bad Name":"x","X-Ok":"a\r\nInjected: 1","Content-Length":"999"},"body":"x"}`)
	f.Add(`{"statusCode":200,"multiValueHeaders":{"X":null},"cookies":["a\nb"]}`)
	f.Fuzz(func(t *testing.T, result string) {
		for _, format := range []HTTPFormat{FormatREST, FormatHTTPAPI, FormatFunctionURL, FormatALB} {
			rec := httptest.NewRecorder()
			err := WriteHTTPResponse(rec, format, []byte(result))
			if err != nil && (rec.Body.Len() > 0 || len(rec.Header()) > 0 || rec.Code != http.StatusOK) {
				t.Errorf("%s: %v, but wrote %d %v %q", format, err, rec.Code, rec.Header(), rec.Body)
			}
		}
	})
}

// TestWriteHTTPResponseSanitizesHeaders: headers net/http cannot send, and
// those the gateway computes itself, are dropped rather than corrupting
// the response.
func TestWriteHTTPResponseSanitizesHeaders(t *testing.T) {
	resp, body := httpRespond(t, FormatREST, `{"statusCode":200,
		"headers":{"Bad Name":"x","X-Injected":"a\r\nEvil: 1","Content-Length":"999","Connection":"close","X-Ok":"fine"},
		"body":"hello"}`)
	httpEq(t, "body", string(body), "hello")
	httpEq(t, "Content-Length", resp.ContentLength, int64(5))
	httpEq(t, "X-Ok", resp.Header.Get("X-Ok"), "fine")
	for _, h := range []string{"Bad Name", "X-Injected", "Evil"} {
		if v, ok := resp.Header[h]; ok {
			t.Errorf("header %s = %q sent", h, v)
		}
	}
}

func TestWriteHTTPError(t *testing.T) {
	cases := []struct {
		format      HTTPFormat
		status      int
		wantStatus  int
		contentType string
		body        string
	}{
		{FormatREST, 404, 403, "application/json", `{"message":"Missing Authentication Token"}`},
		{FormatREST, 403, 403, "application/json", `{"message":"Missing Authentication Token"}`},
		{FormatREST, 502, 502, "application/json", `{"message":"Internal server error"}`},
		{FormatREST, 500, 502, "application/json", `{"message":"Internal server error"}`},
		{FormatREST, 413, 413, "application/json", `{"message":"Request Entity Too Large"}`},
		{FormatREST, 429, 429, "application/json", `{"message":"Too Many Requests"}`},
		{FormatREST, 504, 504, "application/json", `{"message":"Endpoint request timed out"}`},
		{FormatREST, 200, 502, "application/json", `{"message":"Internal server error"}`},
		{FormatHTTPAPI, 200, 500, "application/json", `{"message":"Internal Server Error"}`},
		{FormatHTTPAPI, 404, 404, "application/json", `{"message":"Not Found"}`},
		{FormatHTTPAPI, 403, 404, "application/json", `{"message":"Not Found"}`},
		{FormatHTTPAPI, 502, 500, "application/json", `{"message":"Internal Server Error"}`},
		{FormatHTTPAPI, 504, 503, "application/json", `{"message":"Service Unavailable"}`},
		{FormatHTTPAPI, 413, 413, "application/json", `{"message":"Request Entity Too Large"}`},
		{FormatHTTPAPI, 429, 429, "application/json", `{"message":"Too Many Requests"}`},
		{FormatFunctionURL, 502, 502, "application/json", `Internal Server Error`},
		{FormatFunctionURL, 504, 502, "application/json", `Internal Server Error`},
		{FormatFunctionURL, 404, 404, "application/json", `{"message":"Not Found"}`},
		{FormatFunctionURL, 429, 429, "application/json", `{"message":"Too Many Requests"}`},
		{FormatALB, 502, 502, "text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"},
		{FormatALB, 500, 502, "text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"},
		{FormatALB, 503, 503, "text/html", "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"},
		{FormatALB, 504, 504, "text/html", "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"},
		{FormatALB, 404, 404, "text/html", "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteHTTPError(w, c.format, c.status)
		}))
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		name := string(c.format) + " " + http.StatusText(c.status)
		httpEq(t, name+" status", resp.StatusCode, c.wantStatus)
		httpEq(t, name+" Content-Type", resp.Header.Get("Content-Type"), c.contentType)
		httpEq(t, name+" body", string(body), c.body)
		httpEq(t, name+" Content-Length", resp.ContentLength, int64(len(c.body)))
		switch {
		case c.format == FormatALB:
			httpEq(t, name+" Server", resp.Header.Get("Server"), "awselb/2.0")
		case c.format == FormatREST && c.wantStatus == 403:
			httpEq(t, name+" x-amzn-ErrorType", resp.Header.Get("x-amzn-ErrorType"), "MissingAuthenticationTokenException")
		case c.format == FormatREST && c.wantStatus == 502:
			httpEq(t, name+" x-amzn-ErrorType", resp.Header.Get("x-amzn-ErrorType"), "InternalServerErrorException")
		}
	}
	// ALB's real 502 page is 122 bytes long, its 503 page 162.
	for status, n := range map[int]int{502: 122, 503: 162} {
		rec := httptest.NewRecorder()
		WriteHTTPError(rec, FormatALB, status)
		httpEq(t, "ALB page length", rec.Body.Len(), n)
	}
}

// FuzzInferV2Response: deciding whether a payload 2.0 result is a
// response (an object with statusCode) or a body, and rejecting what is
// not JSON, takes one decode of the keys; it decides as validating the
// whole result first with json.Valid and then reading the keys did.
func FuzzInferV2Response(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200}`, ` {"statusCode":null} `, "\t\r\n{\"statusCode\":1}\n", `{"StatusCode":200}`,
		`{"status\u0043ode":200}`, `{"a":{"statusCode":200}}`, `{"statusCode":1,"statusCode":2}`, `{}`, `{`,
		`{"statusCode":200}}`, `{"statusCode":200} x`, `[{"statusCode":200}]`, `"statusCode"`, `null`, `42`, ``, ` `,
		"\u00a0{\"statusCode\":200}", "\u0085{}", "{\"a\":\"\xff\"}", `{"a":1,}`, `{"statusCode":200,"body":"{\"statusCode\":1}"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, result string) {
		// What inferV2Response did before, as the oracle.
		wantValid, wantResponse := json.Valid([]byte(result)), false
		if trimmed := bytes.TrimSpace([]byte(result)); wantValid && len(trimmed) > 0 && trimmed[0] == '{' {
			var keys map[string]json.RawMessage
			if json.Unmarshal(trimmed, &keys) == nil {
				_, wantResponse = keys["statusCode"]
			}
		}
		inferred, err := inferV2Response([]byte(result))
		switch {
		case !wantValid:
			if err == nil {
				t.Errorf("%q: accepted, want malformed", result)
			}
		case wantResponse:
			if inferred != nil || err != nil {
				t.Errorf("%q: inferred %v %v, want a response", result, inferred, err)
			}
		case err != nil || inferred == nil || !bytes.Equal(inferred.body, []byte(result)):
			t.Errorf("%q: %v %v, want the result as the body", result, inferred, err)
		}
	})
}

// FuzzDecodeV2Response: a payload 2.0 result decoded once, with its
// top-level keys scanned, reads as it did decoded twice (the keys, then
// the response).
func FuzzDecodeV2Response(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"body":"x"}`, `{"StatusCode":200}`, `{"status\u0043ode":200}`, `{"statusCode":"200"}`,
		`{"a":{"statusCode":200},"StatusCode":201}`, `{"body":"\"statusCode\"","statusCode":204}`, `{"a":["statusCode",{"statusCode":1}],"b":2}`,
		`{"statusCode":0}`, `{"statusCode":1,"statusCode":2}`, `{}`, `null`, `"s"`, `[1]`, `{"a\\":1,"statusCode":200}`, `{`, ``,
		`{"headers":{"a":"b"},"cookies":["c=d"],"statusCode":302,"isBase64Encoded":true,"body":"aGk="}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, result string) {
		// What parseHTTPAPIResponse did before, as the oracle.
		var want lambdaevents.APIGatewayV2HTTPResponse
		wantInferred, wantErr := inferV2Response([]byte(result))
		if wantInferred == nil && wantErr == nil {
			if err := json.Unmarshal([]byte(result), &want); err != nil {
				wantErr = malformed("%v", err)
			}
		}
		var got lambdaevents.APIGatewayV2HTTPResponse
		inferred, err := decodeV2Response([]byte(result), &got)
		switch {
		case fmt.Sprint(err) != fmt.Sprint(wantErr):
			t.Errorf("%q: error %v, want %v", result, err, wantErr)
		case (inferred == nil) != (wantInferred == nil):
			t.Errorf("%q: inferred %v, want %v", result, inferred, wantInferred)
		case inferred != nil && (inferred.status != wantInferred.status || !bytes.Equal(inferred.body, wantInferred.body) || !reflect.DeepEqual(inferred.header, wantInferred.header)):
			t.Errorf("%q: inferred %+v, want %+v", result, inferred, wantInferred)
		case inferred == nil && wantErr == nil && !reflect.DeepEqual(got, want):
			t.Errorf("%q: decoded %+v, want %+v", result, got, want)
		}
	})
}

// FuzzReadV2Response: what readV2Response reads is what encoding/json
// decodes, for a result that is a response (an object with statusCode).
func FuzzReadV2Response(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"content-type":"application/json"},"multiValueHeaders":null,"body":"{\"greeting\":\"hello, ferry\",\"path\":\"\/a\\\\b\"}","cookies":["visited=yes; Path=/; HttpOnly"]}`,
		` { "statusCode" : -0 , "body" : null , "isBase64Encoded" : true , "headers" : { } , "cookies" : [ ] } `,
		`{"statusCode":1e2}`, `{"statusCode":01}`, `{"statusCode":2.0}`, `{"statusCode":99999999999999999999}`, `{"StatusCode":200}`,
		`{"statusCode":200,"statusCode":201}`, `{"statusCode":200,"headers":{"a":"b","a":"c"}}`, `{"statusCode":200,"headers":{"a":null}}`,
		`{"statusCode":200,"body":"caf\u00e9"}`, `{"statusCode":200,"body":"caf` + "\xe9" + `"}`, `{"statusCode":200,"body":"é\b\f\n\r\t"}`,
		`{"statusCode":200,"multiValueHeaders":{"a":["b"]}}`, `{"statusCode":200,}`, `{"statusCode":200}x`, `{"body":"x"}`,
		`{"statusCode":200,"cookies":["a",null]}`, `{"statusCode":200,"isBase64Encoded":"true"}`, `{"statusCode":200 "body":""}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, result string) {
		got, ok := readV2Response([]byte(result))
		if !ok {
			return
		}
		var want lambdaevents.APIGatewayV2HTTPResponse
		if err := json.Unmarshal([]byte(result), &want); err != nil || topLevelKey([]byte(result), "statusCode") != keyFound {
			t.Fatalf("%q: read, but encoding/json: %v, statusCode %v", result, err, topLevelKey([]byte(result), "statusCode"))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read %#v, encoding/json %#v", result, got, want)
		}
		var url lambdaevents.LambdaFunctionURLResponse
		if inferred, err := decodeV2Response([]byte(result), &url); inferred != nil || err != nil ||
			url.StatusCode != want.StatusCode || url.Body != want.Body || url.IsBase64Encoded != want.IsBase64Encoded ||
			!reflect.DeepEqual(url.Headers, want.Headers) || !reflect.DeepEqual(url.Cookies, want.Cookies) {
			t.Fatalf("%q: function URL response %#v (%v, %v), want %#v", result, url, inferred, err, want)
		}
	})
}

// TestReadV2ResponseReads: what Go guests return, aws-lambda-go's response
// types as encoding/json writes them, is read by readV2Response, not left
// to encoding/json.
func TestReadV2ResponseReads(t *testing.T) {
	for _, resp := range []any{
		lambdaevents.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"},
			Cookies: []string{"visited=yes; Path=/; HttpOnly"}, Body: `{"greeting":"hello, <ferry> & \"you\"","path":"/a\\b\n"}`},
		lambdaevents.APIGatewayV2HTTPResponse{StatusCode: 404, Body: "caf\u00e9 \u2028", IsBase64Encoded: true},
		lambdaevents.LambdaFunctionURLResponse{StatusCode: 302, Headers: map[string]string{}, Cookies: []string{}},
	} {
		result, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := readV2Response(result)
		var want lambdaevents.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(result, &want); !ok || err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %v %#v, want %#v", result, ok, got, want)
		}
	}
}
