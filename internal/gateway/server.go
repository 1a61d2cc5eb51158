package gateway

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/gorilla/mux"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
)

// Server is ferry's HTTP front door, one http.Handler for everything a
// pod serves:
//
//	/healthz                  alive (200 as long as the process serves)
//	/readyz                   200 once a deployment is in place, 503 before and while draining
//	/metrics                  Prometheus metrics, when WithMetricsHandler is given
//	/2015-03-31/functions/…   the Lambda Invoke API (see InvokeAPI)
//	every configured route    API Gateway REST / HTTP API, function URL or ALB
//
// The health endpoints answer from the start, so a pod is live while its
// modules compile; everything else waits for Deploy.
type Server struct {
	accessLog  io.Writer
	apiKeys    []string
	creds      Credentials
	region     string
	logJSON    bool
	metrics    http.Handler
	deployment atomic.Pointer[deployed]
	loading    atomic.Pointer[loading] // set while functions load (DeployLoading)
	ready      atomic.Bool
	logMu      sync.Mutex
}

// Deployment is what a Server serves.
type Deployment struct {
	// Functions by name.
	Functions map[string]*adapter.Function
	// Routes maps HTTP requests to functions.
	Routes []Route
	// Queue takes Event invocations; nil refuses them.
	Queue *Queue
	// Mounts serve the requests they match before Routes are tried: an
	// Azure Functions app's routes and queue endpoints (azurehost.Host).
	Mounts []Mount
	// MountOnly names the Functions reachable only through their Mount
	// (an Azure app, whose keys its mount checks): the Lambda API neither
	// lists nor invokes them.
	MountOnly map[string]bool
}

// Mount is a handler for the requests it owns, such as an Azure Functions
// app's front (azurehost.Host.Mount). Owns says whether a request is the
// mount's: also when only the method differs, which the mount answers
// itself. The interface is the gateway's own so that its router (gorilla/mux)
// stays an implementation detail.
type Mount interface {
	http.Handler
	Owns(*http.Request) bool
}

// Route is one HTTP trigger: requests matching Path and Methods invoke
// Function with the event format of HTTP.Format.
type Route struct {
	Function string
	// Path is the route template: literal segments, {param} and a final
	// greedy {proxy+}, as in API Gateway.
	Path string
	// Methods are the methods it accepts; empty or "ANY" accepts all.
	Methods []string
	// HTTP describes the event: Format, Stage, BinaryMediaTypes, ALB's
	// multi-value mode. Resource and PathParameters are filled in per
	// request.
	HTTP events.HTTPRoute
	// CORS, when set, answers preflight requests and adds CORS headers.
	CORS *events.CORS
	// APIKeyRequired refuses requests without one of the server's API
	// keys in x-api-key (WithAPIKeys), as a REST API method with
	// apiKeyRequired: 403 {"message":"Forbidden"}.
	APIKeyRequired bool
	// JWT, when set, is the route's JWT authorizer (HTTP API routes).
	JWT *JWTAuthorizer
}

// ServerOption configures NewServer.
type ServerOption func(*Server)

// WithAccessLog writes one line per HTTP request to w, as JSON when json
// is true.
func WithAccessLog(w io.Writer, json bool) ServerOption {
	return func(s *Server) { s.accessLog, s.logJSON = w, json }
}

// WithMetricsHandler serves h (promhttp's handler, typically) at /metrics.
func WithMetricsHandler(h http.Handler) ServerOption {
	return func(s *Server) { s.metrics = h }
}

// WithCredentials makes the Lambda API (everything under /2015-03-31/,
// the Runtime Interface Emulator's route included) require requests
// signed with AWS Signature Version 4 by one of creds' keys, for service
// lambda in region, as Lambda does. Without it (or with no keys) the
// Lambda API is open: for loopback only (ferry serve enforces that).
func WithCredentials(creds Credentials, region string) ServerOption {
	return func(s *Server) { s.creds, s.region = creds, region }
}

// WithAPIKeys are the API keys routes with APIKeyRequired accept.
func WithAPIKeys(keys []string) ServerOption {
	return func(s *Server) { s.apiKeys = keys }
}

// NewServer returns a server with nothing deployed: not ready yet.
func NewServer(opts ...ServerOption) *Server {
	s := &Server{}
	for _, o := range opts {
		o(s)
	}
	return s
}

// deployed is a Deployment turned into a router.
type deployed struct {
	Deployment
	router http.Handler
}

// reserved are paths a route cannot take.
var reserved = []string{"/healthz", "/readyz", "/metrics", "/2015-03-31/"}

// Deploy validates d, then serves it in place of what was served before
// (requests already running finish on the old one) and marks the server
// ready.
func (s *Server) Deploy(d Deployment) error {
	if err := s.deploy(d, nil); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}

// deploy serves d, with l the functions still loading (nil: none), and
// wakes the requests that waited for it.
func (s *Server) deploy(d Deployment, l *loading) error {
	r := mux.NewRouter()
	r.SkipClean(true) // API Gateway passes paths as received
	lambdaFunctions := make(map[string]*adapter.Function, len(d.Functions))
	for name, f := range d.Functions {
		if !d.MountOnly[name] {
			lambdaFunctions[name] = f
		}
	}
	dep := &deployed{Deployment: d}
	api := &invokeAPI{functions: lambdaFunctions, queue: d.Queue}
	if l != nil {
		api.waitLoading = func(w http.ResponseWriter, r *http.Request, function string) bool {
			return s.waitLoading(w, r, function, dep)
		}
	}
	api.register(r)
	for _, m := range d.Mounts {
		r.MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool { return m.Owns(req) }).Handler(m)
	}
	seen := map[string]string{}
	for _, rt := range d.Routes {
		f, ok := d.Functions[rt.Function]
		if !ok {
			return fmt.Errorf("route %s: no function %q", rt.Path, rt.Function)
		}
		for _, p := range reserved {
			if rt.Path == strings.TrimSuffix(p, "/") || strings.HasPrefix(rt.Path, p) {
				return fmt.Errorf("route %s: %s is ferry's own", rt.Path, p)
			}
		}
		tmpl, err := muxTemplate(rt.Path)
		if err != nil {
			return fmt.Errorf("route %s: %w", rt.Path, err)
		}
		var methods []string // nil: any method
		for _, m := range rt.Methods {
			if strings.EqualFold(m, "ANY") {
				methods = nil
				break
			}
			methods = append(methods, strings.ToUpper(m))
		}
		shape := paramRE.ReplaceAllString(tmpl, "{}")
		for _, m := range methods {
			if other, dup := seen[m+" "+shape]; dup {
				return fmt.Errorf("route %s %s: also routed to %s", m, rt.Path, other)
			}
			seen[m+" "+shape] = rt.Function
		}
		if methods == nil {
			if other, dup := seen["ANY "+shape]; dup {
				return fmt.Errorf("route ANY %s: also routed to %s", rt.Path, other)
			}
			seen["ANY "+shape] = rt.Function
		}
		if methods == nil {
			rt.HTTP.Method = "ANY" // an HTTP API's routeKey names the route's method
		}
		route := r.Handle(tmpl, s.httpTrigger(rt, f))
		if methods != nil {
			if rt.CORS != nil { // a preflight reaches the route whatever its methods
				methods = append(methods, http.MethodOptions)
			}
			route.Methods(methods...)
		}
	}
	var nf http.Handler = notFound(d.Routes)
	if l != nil {
		nf = s.waitingNotFound(nf, dep)
	}
	r.NotFoundHandler = nf
	r.MethodNotAllowedHandler = nf
	dep.router = r
	s.deployment.Store(dep)
	if old := s.loading.Swap(l); old != nil {
		close(old.changed)
	}
	return nil
}

// SetReady marks the server ready or not (draining) for /readyz.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Deployed returns what is served now, or the zero Deployment.
func (s *Server) Deployed() Deployment {
	if d := s.deployment.Load(); d != nil {
		return d.Deployment
	}
	return Deployment{}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		io.WriteString(w, "ok\n")
		return
	case "/readyz":
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
		return
	case "/metrics":
		if s.metrics != nil {
			s.metrics.ServeHTTP(w, r)
			return
		}
	}
	d := s.deployment.Load()
	if d == nil {
		http.Error(w, "ferry is starting: functions are not loaded yet", http.StatusServiceUnavailable)
		return
	}
	if s.accessLog == nil {
		s.route(d, w, r)
		return
	}
	start := time.Now()
	lw := &loggingWriter{ResponseWriter: w, status: http.StatusOK}
	s.route(d, lw, r)
	s.logAccess(r, lw, start)
}

// isControl says whether r is for the Lambda API, which needs credentials
// once any are configured.
func isControl(r *http.Request) bool {
	return r.URL.Path == "/2015-03-31" || strings.HasPrefix(r.URL.Path, "/2015-03-31/")
}

// route checks a Lambda API request's signature, then serves r.
func (s *Server) route(d *deployed, w http.ResponseWriter, r *http.Request) {
	if len(s.creds) > 0 && isControl(r) {
		// The signature covers the body's hash, so the body is read
		// first, bounded by the largest payload Lambda accepts.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
		if err != nil {
			serviceError(w, http.StatusBadRequest, "InvalidRequestContentException", "message", "Could not read request body: "+err.Error(), nil)
			return
		}
		if len(body) > maxRequestSize {
			serviceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "message",
				fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxRequestSize), nil)
			return
		}
		if aerr := verifySigV4(r, body, s.creds, s.region, time.Now()); aerr != nil {
			aerr.write(w)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	d.router.ServeHTTP(w, r)
}

// loggingWriter remembers what the access log needs.
type loggingWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (l *loggingWriter) WriteHeader(code int) {
	l.status = code
	l.ResponseWriter.WriteHeader(code)
}

func (l *loggingWriter) Write(p []byte) (int, error) {
	n, err := l.ResponseWriter.Write(p)
	l.bytes += n
	return n, err
}

func (s *Server) logAccess(r *http.Request, lw *loggingWriter, start time.Time) {
	d := time.Since(start)
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	reqID := lw.Header().Get("X-Amzn-Requestid")
	var line []byte
	if s.logJSON {
		line, _ = json.Marshal(map[string]any{
			"time": start.UTC().Format(time.RFC3339Nano), "type": "access", "remoteAddr": host,
			"method": r.Method, "path": loggedURI(r), "protocol": r.Proto, "status": lw.status,
			"bytes": lw.bytes, "durationMs": float64(d.Microseconds()) / 1000, "requestId": reqID,
		})
		line = append(line, '\n')
	} else {
		line = appendAccessLine(make([]byte, 0, 160), start, host, r.Method+" "+loggedURI(r)+" "+r.Proto, lw.status, lw.bytes, d, reqID)
	}
	s.logMu.Lock()
	s.accessLog.Write(line)
	s.logMu.Unlock()
}

// appendAccessLine appends the text access log line
// "<time> <host> "<request>" <status> <bytes> <ms>ms <request id>" to b.
// Appended by hand, not with fmt: it is written for every request.
func appendAccessLine(b []byte, start time.Time, host, request string, status, bytes int, d time.Duration, reqID string) []byte {
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, request)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(bytes), 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
	b = append(b, "ms "...)
	b = append(b, reqID...)
	return append(b, '\n')
}

// secretParams are query parameters that carry credentials: an Azure
// function key (code) and a presigned AWS request's signature and token.
var secretParams = []string{"code", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Credential"}

// loggedURI is r's path and query for the access log, credentials
// replaced by REDACTED.
func loggedURI(r *http.Request) string {
	uri := r.URL.RequestURI()
	if r.URL.RawQuery == "" {
		return uri
	}
	q := r.URL.Query()
	redacted := false
	for k := range q {
		for _, p := range secretParams {
			if strings.EqualFold(k, p) {
				q[k] = []string{"REDACTED"}
				redacted = true
			}
		}
	}
	if !redacted {
		return uri
	}
	return r.URL.EscapedPath() + "?" + q.Encode()
}

var paramRE = regexp.MustCompile(`\{([^{}]*)\}`)

// muxTemplate turns an API Gateway path template into gorilla/mux's:
// {name} matches one segment, a final {name+} the rest of the path.
func muxTemplate(path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", errors.New("a path starts with /")
	}
	var err error
	out := paramRE.ReplaceAllStringFunc(path, func(m string) string {
		name := m[1 : len(m)-1]
		greedy := strings.HasSuffix(name, "+")
		name = strings.TrimSuffix(name, "+")
		if name == "" || strings.ContainsAny(name, ":+") {
			err = fmt.Errorf("bad parameter %s", m)
		}
		if greedy {
			if !strings.HasSuffix(path, m) {
				err = fmt.Errorf("greedy parameter %s must be last", m)
			}
			return "{" + name + ":.+}"
		}
		return "{" + name + "}"
	})
	return out, err
}

// notFound answers a request no route takes the way the gateway whose
// routes share its first path segment would (REST API: 403 Missing
// Authentication Token; HTTP API, function URL: 404; ALB: 404), and the
// Invoke API's own paths the way Lambda does.
func notFound(routes []Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/2015-03-31/") {
			serviceError(w, http.StatusNotFound, "UnknownOperationException", "message", "Unknown operation "+r.Method+" "+r.URL.Path, nil)
			return
		}
		format := events.FormatHTTPAPI
		best := -1
		allREST := len(routes) > 0
		for _, rt := range routes {
			if rt.HTTP.Format != events.FormatREST {
				allREST = false
			}
			if n := commonSegments(rt.Path, r.URL.Path); n > best {
				best, format = n, rt.HTTP.Format
			}
		}
		if best == 0 && allREST {
			format = events.FormatREST
		} else if best == 0 {
			format = events.FormatHTTPAPI
		}
		status := http.StatusNotFound
		if format == events.FormatREST {
			status = http.StatusForbidden
		}
		events.WriteHTTPError(w, format, status)
	})
}

// commonSegments counts the leading literal path segments a and b share.
func commonSegments(template, path string) int {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	n := 0
	for n < len(ts) && n < len(ps) && ts[n] == ps[n] && !strings.HasPrefix(ts[n], "{") {
		n++
	}
	return n
}

// validAPIKey says whether key is one of the server's API keys.
func (s *Server) validAPIKey(key string) bool {
	ok := false
	for _, k := range s.apiKeys {
		if key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(k)) == 1 {
			ok = true
		}
	}
	return ok
}

// httpTrigger serves one route: the request becomes the event, the
// function's result the response.
func (s *Server) httpTrigger(rt Route, f *adapter.Function) http.Handler {
	format := rt.HTTP.Format
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.CORS != nil && r.Method == http.MethodOptions && rt.CORS.Preflight(w, r) {
			return
		}
		if rt.APIKeyRequired && !s.validAPIKey(r.Header.Get("X-Api-Key")) {
			w.Header()["x-amzn-ErrorType"] = []string{"ForbiddenException"}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"Forbidden"}`)
			return
		}
		var jwt *lambdaevents.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
		if rt.JWT != nil {
			var err error
			if jwt, err = rt.JWT.Authorize(r.Context(), r, time.Now()); err != nil {
				// API Gateway's answers; why the token was refused stays
				// here (a client probing tokens learns nothing).
				w.Header().Set("Content-Type", "application/json")
				if errors.Is(err, errForbidden) {
					w.WriteHeader(http.StatusForbidden)
					io.WriteString(w, `{"message":"Forbidden"}`)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"message":"Unauthorized"}`)
				return
			}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
		if err != nil {
			events.WriteHTTPError(w, format, http.StatusBadRequest)
			return
		}
		if len(body) > maxRequestSize {
			events.WriteHTTPError(w, format, http.StatusRequestEntityTooLarge)
			return
		}
		route := rt.HTTP
		route.JWT = jwt
		route.Resource = rt.Path
		route.PathParameters = mux.Vars(r)
		route.FunctionName = f.Config().Name
		route.Region, route.AccountID = f.Config().Region, f.Config().AccountID
		requestID := adapter.NewRequestID()
		payload, err := events.NewHTTPEvent(r, body, route, requestID, time.Now())
		if err != nil {
			events.WriteHTTPError(w, format, http.StatusBadRequest)
			return
		}
		if len(payload) > maxRequestSize { // base64 grows a body by a third
			events.WriteHTTPError(w, format, http.StatusRequestEntityTooLarge)
			return
		}
		if format != events.FormatALB {
			w.Header().Set("X-Amzn-Requestid", requestID)
		}
		// Behind a gateway a request waits for an instance at most as
		// long as the function may run, then is throttled.
		ctx, cancel := context.WithTimeout(r.Context(), f.Config().Timeout)
		defer cancel()
		res, err := f.Invoke(ctx, &adapter.Request{
			Payload: payload, RequestID: requestID, Trigger: adapter.TriggerHTTP,
			TraceID: r.Header.Get("X-Amzn-Trace-Id"),
		})
		switch {
		case errors.Is(err, adapter.ErrTooManyRequests):
			events.WriteHTTPError(w, format, http.StatusTooManyRequests)
			return
		case err != nil:
			events.WriteHTTPError(w, format, http.StatusServiceUnavailable)
			return
		case res.Failed():
			events.WriteHTTPError(w, format, http.StatusBadGateway)
			return
		}
		if rt.CORS != nil {
			rt.CORS.Apply(w.Header(), r)
		}
		if err := events.WriteHTTPResponse(w, format, res.Payload); err != nil {
			events.WriteHTTPError(w, format, http.StatusBadGateway)
		}
	})
}
