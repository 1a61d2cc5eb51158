// Package azurehost runs Azure Functions apps (package azure loads their
// definitions) on ferry's engine: each app's functions run through one
// ferry function (the custom handler compiled to Wasm): HTTP triggers as
// routes under /api, timer triggers on their NCRONTAB schedules, queue
// triggers from in-process queues that persist across restarts.
//
// Payload shapes are in events/azure.go; the HTTP envelope the handler is
// invoked with is in hostabi/ABI.md.
package azurehost

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
	"github.com/ferrywasm/ferry/internal/atomicfile"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Triggers, for metrics (adapter.Request.Trigger).
const (
	TriggerQueue = "queue"
	TriggerTimer = "timer"
)

// Keys are the function keys that authorise HTTP requests to functions
// with authLevel function (any function key of the function, or a host
// key) and admin (the master key only), sent as the x-functions-key header
// or the code query parameter, as on Azure.
type Keys struct {
	Master    string
	Host      []string
	Functions map[string][]string
}

// KeysFromEnv reads keys from the environment: FERRY_AZURE_MASTER_KEY,
// FERRY_AZURE_HOST_KEYS (comma-separated) and FERRY_AZURE_FUNCTION_KEYS_<Function>
// (comma-separated; the function's name as written in its folder).
func KeysFromEnv(getenv func(string) string, app *azure.App) Keys {
	if getenv == nil {
		getenv = os.Getenv
	}
	split := func(s string) []string {
		var out []string
		for _, k := range strings.Split(s, ",") {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, k)
			}
		}
		return out
	}
	k := Keys{Master: getenv("FERRY_AZURE_MASTER_KEY"), Host: split(getenv("FERRY_AZURE_HOST_KEYS")), Functions: map[string][]string{}}
	for _, f := range app.Functions {
		if v := split(getenv("FERRY_AZURE_FUNCTION_KEYS_" + f.Name)); v != nil {
			k.Functions[f.Name] = v
		}
	}
	return k
}

// Options configures NewHost.
type Options struct {
	// StateDir keeps queue messages (StateDir/queues) and timer status
	// (StateDir/timers) across restarts; "" keeps them in memory only.
	StateDir string
	// Clock drives timers and queue times; nil is the system clock.
	Clock Clock
	// Log receives the host's log lines (Executing/Executed, the
	// handler's Logs, queue moves); nil discards them.
	Log io.Writer
	// Keys authorise HTTP requests.
	Keys Keys
	// Observe, when set, is called after every invocation.
	Observe func(*Record)
	// NoTimers keeps Start from firing timer triggers: another process
	// fires them through POST /admin/functions/{name} (ferry k8s's
	// CronJobs), so that each tick runs once for all replicas.
	NoTimers bool
}

// Record describes one finished invocation, for Options.Observe.
type Record struct {
	Function     string
	InvocationID string
	Trigger      string
	// Request is the envelope sent to the custom handler.
	Request httpmsg.Request
	// Response is the handler's response (nil if it gave none).
	Response *httpmsg.Response
	// Reply is the parsed invocation reply (nil when forwarded or failed
	// before one was read).
	Reply *events.AzureReply
	// Err is why the invocation failed; nil on success.
	Err error
}

// Host serves one app through one ferry function (its custom handler).
type Host struct {
	app   *azure.App
	fn    *adapter.Function
	opts  Options
	clock Clock
	queue *Queues
	logMu sync.Mutex

	stop    chan struct{}
	stopCtx context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	// runMu orders the admin API's wg.Add with Close's wg.Wait.
	runMu  sync.Mutex
	closed bool
	// statusMu serialises timer status updates.
	statusMu sync.Mutex
}

// lease is how long a queue message being processed stays invisible: long
// enough for any invocation; a restart makes it visible again at once.
const lease = 10 * time.Minute

// NewHost prepares app to be served by fn (the app's custom handler
// loaded into an engine). It opens the app's queues; Start starts its
// timers and queue consumers, Handler serves its HTTP triggers.
func NewHost(app *azure.App, fn *adapter.Function, opts Options) (*Host, error) {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	qdir := ""
	if opts.StateDir != "" {
		qdir = filepath.Join(opts.StateDir, "queues")
	}
	qs, err := OpenQueues(qdir, opts.Clock)
	if err != nil {
		return nil, err
	}
	for _, note := range qs.MovedAside {
		fmt.Fprintf(opts.Log, "azure queues: %s\n", note)
	}
	h := &Host{app: app, fn: fn, opts: opts, clock: opts.Clock, queue: qs, stop: make(chan struct{})}
	h.stopCtx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// App returns the app served.
func (h *Host) App() *azure.App { return h.app }

// Queues returns the app's queues.
func (h *Host) Queues() *Queues { return h.queue }

// Function returns the function definition named name, or nil.
func (h *Host) Function(name string) *azure.FunctionDef {
	for _, f := range h.app.Functions {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

func (h *Host) logf(format string, args ...any) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	fmt.Fprintf(h.opts.Log, "[%s] "+format+"\n", append([]any{time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}, args...)...)
}

// Start starts the timers (running runOnStartup and past-due ones now)
// and the queue consumers.
func (h *Host) Start() {
	if h.started {
		return
	}
	h.started = true
	for _, f := range h.app.Functions {
		switch f.Trigger.Type {
		case azure.TimerTrigger:
			if h.opts.NoTimers {
				continue
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.runTimer(f)
			}()
		case azure.QueueTrigger:
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.consume(f)
			}()
		}
	}
}

// Close stops timers and consumers and waits, until ctx ends, for the
// invocations they started. Messages still being processed then stay on
// their queue and run again at the next start.
func (h *Host) Close(ctx context.Context) error {
	h.runMu.Lock()
	if h.closed {
		h.runMu.Unlock()
		return nil
	}
	h.closed = true
	h.runMu.Unlock()
	close(h.stop)
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("azure app %s: invocations still running at shutdown; their messages run again at the next start", h.app.Name)
	}
}

// Call sends the custom handler one invocation document (the Functions
// host's {"Data":…,"Metadata":…}) for function, as the host would, and
// returns what the handler answered. It is what `ferry invoke --azure-app`
// runs; outputs are not delivered.
func (h *Host) Call(ctx context.Context, function string, body []byte) (*Record, error) {
	f := h.Function(function)
	if f == nil {
		return nil, fmt.Errorf("app %s has no function %q", h.app.Name, function)
	}
	if !json.Valid(body) {
		return nil, errors.New("the invocation document is not JSON")
	}
	rec := h.send(ctx, f, adapter.TriggerInvoke, body)
	return rec, nil
}

// invocationEnvelope is the request the Functions host POSTs to
// /<FunctionName>.
func invocationEnvelope(function, id string, body []byte) httpmsg.Request {
	return httpmsg.Request{
		Method: http.MethodPost,
		URL:    "/" + function,
		Header: map[string][]string{
			"Content-Type":                   {"application/json"},
			"X-Azure-Functions-Invocationid": {id},
			"User-Agent":                     {"ferry (Azure Functions custom handler host)"},
		},
		Body: body,
	}
}

// send runs one invocation of f with the invocation document body.
func (h *Host) send(ctx context.Context, f *azure.FunctionDef, trigger string, body []byte) *Record {
	id := lambdaspec.NewGUID()
	return h.exchange(ctx, f, trigger, id, invocationEnvelope(f.Name, id, body), true)
}

// exchange sends env to the handler and reads its response (and, when
// reply is true, the invocation reply in it).
func (h *Host) exchange(ctx context.Context, f *azure.FunctionDef, trigger, id string, env httpmsg.Request, reply bool) *Record {
	rec := &Record{Function: f.Name, InvocationID: id, Trigger: trigger, Request: env}
	start := time.Now()
	h.logf("Executing 'Functions.%s' (Reason='%s', Id=%s)", f.Name, reason(trigger), id)
	defer func() {
		outcome := "Succeeded"
		if rec.Err != nil {
			outcome = "Failed"
		}
		if rec.Reply != nil {
			for _, l := range rec.Reply.Logs {
				h.logf("%s: %s", id, l)
			}
		}
		h.logf("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", f.Name, outcome, id, time.Since(start).Milliseconds())
		if rec.Err != nil {
			h.logf("%s: %v", id, rec.Err)
		}
		if h.opts.Observe != nil {
			h.opts.Observe(rec)
		}
	}()
	payload, err := json.Marshal(&env)
	if err != nil {
		rec.Err = err
		return rec
	}
	res, err := h.fn.Invoke(ctx, &adapter.Request{Payload: payload, RequestID: id, Trigger: trigger})
	if err != nil {
		rec.Err = err
		return rec
	}
	if res.Failed() {
		rec.Err = fmt.Errorf("the custom handler failed: %s", res.Payload)
		return rec
	}
	var resp httpmsg.Response
	if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.Status == 0 {
		rec.Err = fmt.Errorf("the custom handler's answer is not an HTTP response envelope (hostabi/ABI.md): %.200s", res.Payload)
		return rec
	}
	rec.Response = &resp
	if !reply {
		return rec
	}
	if resp.Status < 200 || resp.Status > 299 {
		rec.Err = fmt.Errorf("the custom handler answered %d %s: %.500s", resp.Status, http.StatusText(resp.Status), bytes.TrimSpace(resp.Body))
		// The Functions host still reads Logs from a failed reply.
		rec.Reply, _ = events.ParseAzureReply(resp.Body)
		return rec
	}
	rec.Reply, rec.Err = events.ParseAzureReply(resp.Body)
	return rec
}

func reason(trigger string) string {
	switch trigger {
	case adapter.TriggerHTTP:
		return "This function was programmatically called via the host APIs."
	case TriggerTimer:
		return "Timer fired"
	case TriggerQueue:
		return "New queue message detected"
	}
	return "This function was programmatically called via the host APIs."
}

// deliver writes the reply's queue outputs; errors are logged.
func (h *Host) deliver(f *azure.FunctionDef, rec *Record) error {
	var errs []error
	for _, o := range f.Outputs {
		if o.Type != "queue" {
			continue
		}
		v, ok := rec.Reply.Output(o.Name)
		if !ok {
			continue
		}
		msgs, err := events.AzureQueueOutput(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("output %s: %v", o.Name, err))
			continue
		}
		for _, m := range msgs {
			if _, err := h.queue.Put(o.QueueName, m, 0, 0); err != nil {
				errs = append(errs, fmt.Errorf("output %s to queue %s: %v", o.Name, o.QueueName, err))
			}
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		h.logf("%s: %v", rec.InvocationID, err)
	}
	return err
}

// ---- HTTP triggers ----

// Handler returns the app's HTTP front: every HTTP trigger under
// /<routePrefix>/<route>, the queue endpoints under /admin/queues/, and
// POST /admin/functions/{name} for the app's functions.
// It matches only those paths (Mount gives it to the gateway).
func (h *Host) Handler() *mux.Router {
	r := mux.NewRouter()
	r.SkipClean(true)
	r.MethodNotAllowedHandler = http.NotFoundHandler() // Azure: a method not in "methods" is a 404
	for _, f := range h.app.Functions {
		if f.Trigger.Type != azure.HTTPTrigger {
			continue
		}
		for _, tmpl := range h.templates(f) {
			rt := r.Handle(tmpl, h.httpTrigger(f))
			if len(f.Trigger.Methods) > 0 {
				rt.Methods(f.Trigger.Methods...)
			}
		}
	}
	r.HandleFunc("/admin/queues/{queue}/messages", h.putMessage).Methods(http.MethodPost)
	r.HandleFunc("/admin/queues/{queue}/messages", h.peekMessages).Methods(http.MethodGet)
	// Only this app's functions match, so that several apps can share a
	// server: another app's function is that app's to run.
	r.HandleFunc("/admin/functions/{function}", h.runFunction).Methods(http.MethodPost).
		MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool {
			return h.Function(strings.TrimPrefix(req.URL.Path, "/admin/functions/")) != nil
		})
	return r
}

// Mount returns the app's HTTP front (Handler) as the gateway mounts it
// (gateway.Mount): served before the gateway's own routes, for the
// requests it owns.
func (h *Host) Mount() Mount { return Mount{h.Handler()} }

// Mount is an app's HTTP front as a gateway mount.
type Mount struct{ router *mux.Router }

func (m Mount) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.router.ServeHTTP(w, r) }

// Owns reports whether one of the app's routes matches r, also when only
// the method differs (the app answers that with Azure's 404).
func (m Mount) Owns(r *http.Request) bool {
	var rm mux.RouteMatch
	return m.router.Match(r, &rm) && (rm.MatchErr == nil || rm.MatchErr == mux.ErrMethodMismatch)
}

// Paths returns the paths of the app's HTTP triggers as route templates,
// for listings.
func (h *Host) Paths(f *azure.FunctionDef) []string { return h.templates(f) }

var routeParamRE = regexp.MustCompile(`\{([^{}]*)\}`)

// templates turns a function's route (Azure's ASP.NET-style template:
// {name}, {name:constraint}, {name?}, {*rest}) into gorilla/mux templates
// under the route prefix. An optional parameter yields a template with and
// one without it.
func (h *Host) templates(f *azure.FunctionDef) []string {
	route := f.Trigger.Route
	if route == "" {
		route = f.Name
	}
	base := "/"
	if h.app.RoutePrefix != "" {
		base += h.app.RoutePrefix + "/"
	}
	full := base + strings.TrimPrefix(route, "/")
	optional := false
	out := routeParamRE.ReplaceAllStringFunc(full, func(m string) string {
		name := m[1 : len(m)-1]
		if strings.HasPrefix(name, "*") {
			return "{" + strings.TrimPrefix(name, "*") + ":.*}"
		}
		if strings.HasSuffix(name, "?") {
			optional = true
			name = strings.TrimSuffix(name, "?")
		}
		pattern := "[^/]+"
		if n, c, ok := strings.Cut(name, ":"); ok {
			name = n
			switch strings.ToLower(strings.SplitN(c, "(", 2)[0]) {
			case "int", "long":
				pattern = "-?[0-9]+"
			case "alpha":
				pattern = "[A-Za-z]+"
			case "bool":
				pattern = "(?i:true|false)"
			case "guid":
				pattern = "[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
			}
		}
		return "{" + name + ":" + pattern + "}"
	})
	if !optional {
		return []string{out}
	}
	// The optional parameter is the last segment in practice.
	without := out[:strings.LastIndex(out, "/{")]
	if without == "" {
		without = "/"
	}
	return []string{out, without}
}

// authorized checks a request's key against the function's auth level.
func (h *Host) authorized(f *azure.FunctionDef, r *http.Request) bool {
	level := f.Trigger.AuthLevel
	if level == "anonymous" {
		return true
	}
	key := r.Header.Get("X-Functions-Key")
	if key == "" {
		key = r.URL.Query().Get("code")
	}
	if key == "" {
		return false
	}
	var valid []string
	if h.opts.Keys.Master != "" {
		valid = append(valid, h.opts.Keys.Master)
	}
	if level == "function" {
		valid = append(valid, h.opts.Keys.Host...)
		for name, keys := range h.opts.Keys.Functions {
			if strings.EqualFold(name, f.Name) {
				valid = append(valid, keys...)
			}
		}
	}
	ok := false
	for _, v := range valid {
		if subtle.ConstantTimeCompare([]byte(v), []byte(key)) == 1 {
			ok = true
		}
	}
	return ok
}

// maxHTTPBody is Azure Functions' request size limit (100 MB).
const maxHTTPBody = 100 << 20

func (h *Host) httpTrigger(f *azure.FunctionDef) http.Handler {
	forward := h.app.ForwardHTTP && f.HTTPOnly()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(f, r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody+1))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if len(body) > maxHTTPBody {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		id := lambdaspec.NewGUID()
		if forward {
			header := r.Header.Clone()
			header.Set("X-Azure-Functions-Invocationid", id)
			if r.Host != "" {
				header.Set("Host", r.Host)
			}
			env := httpmsg.Request{Method: r.Method, URL: r.URL.RequestURI(), Header: header, Body: body}
			rec := h.exchange(r.Context(), f, adapter.TriggerHTTP, id, env, false)
			if rec.Response == nil {
				writeInvokeError(w, rec.Err)
				return
			}
			for k, v := range rec.Response.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Response.Status)
			w.Write(rec.Response.Body)
			return
		}
		inv := events.NewAzureHTTPInvocation(f.Name, f.Trigger.Name, r, body, mux.Vars(r), h.clock.Now())
		doc, err := json.Marshal(inv)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		rec := h.exchange(r.Context(), f, adapter.TriggerHTTP, id, invocationEnvelope(f.Name, id, doc), true)
		if rec.Err != nil {
			writeInvokeError(w, rec.Err)
			return
		}
		if err := h.deliver(f, rec); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		out := f.HTTPOutput()
		v, ok := rec.Reply.Output(out)
		if out == "" || !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		resp, err := events.ParseAzureHTTPOutput(v)
		if err != nil {
			h.logf("%s: %v", id, err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
	})
}

// writeInvokeError answers a request whose invocation failed: 429 when no
// instance was free in time, else 500 with no body, as Azure does.
func writeInvokeError(w http.ResponseWriter, err error) {
	if errors.Is(err, adapter.ErrTooManyRequests) {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
}

// ---- the queue endpoints ----

// putMessage is POST /admin/queues/{queue}/messages: Storage's Put
// Message, loosely. The body is the message text, or Storage's
// <QueueMessage><MessageText>…</MessageText></QueueMessage>;
// visibilitytimeout and messagettl are in seconds (messagettl -1: never
// expires). 201 with the message's properties as JSON.
func (h *Host) putMessage(w http.ResponseWriter, r *http.Request) {
	if !h.adminAuthorized(w, r) {
		return
	}
	name := mux.Vars(r)["queue"]
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageSize*2))
	if err != nil {
		storageError(w, http.StatusBadRequest, "InvalidInput", err.Error())
		return
	}
	text := string(body)
	if t := bytes.TrimSpace(body); bytes.HasPrefix(t, []byte("<QueueMessage>")) {
		var x struct {
			MessageText string `xml:"MessageText"`
		}
		if err := xmlUnmarshal(t, &x); err != nil {
			storageError(w, http.StatusBadRequest, "InvalidXmlDocument", err.Error())
			return
		}
		text = x.MessageText
	}
	seconds := func(key string, def time.Duration) (time.Duration, bool) {
		v := r.URL.Query().Get(key)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			storageError(w, http.StatusBadRequest, "InvalidQueryParameterValue",
				"Value for one of the query parameters specified in the request URI is invalid.\nQueryParameterName:"+key+"\nQueryParameterValue:"+v)
			return 0, false
		}
		// Storage's ranges: visibilitytimeout 0 to 7 days; messagettl
		// -1 (never expires) or at least 1 s, here at most 100 years so
		// that times stay representable.
		max := int64(100 * 365 * 24 * 3600)
		if key == "visibilitytimeout" {
			max = int64(MaxVisibilityTimeout / time.Second)
		}
		if n == -1 && key == "messagettl" {
			return -1, true
		}
		if n < 0 || (n == 0 && key == "messagettl") || n > max {
			storageError(w, http.StatusBadRequest, "OutOfRangeQueryParameterValue",
				"One of the query parameters specified in the request URI is outside the permissible range.\nQueryParameterName:"+key+"\nQueryParameterValue:"+v)
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	delay, ok := seconds("visibilitytimeout", 0)
	if !ok {
		return
	}
	ttl, ok := seconds("messagettl", 0)
	if !ok {
		return
	}
	if ttl > 0 && delay >= ttl {
		storageError(w, http.StatusBadRequest, "OutOfRangeQueryParameterValue",
			"One of the query parameters specified in the request URI is outside the permissible range.\nQueryParameterName:visibilitytimeout\nQueryParameterValue:"+r.URL.Query().Get("visibilitytimeout"))
		return
	}
	m, err := h.queue.Put(name, text, delay, ttl)
	if errors.Is(err, ErrQueueFull) {
		storageError(w, http.StatusServiceUnavailable, "ServerBusy", err.Error())
		return
	}
	if err != nil {
		if len(text) > MaxMessageSize {
			storageError(w, http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", err.Error())
			return
		}
		storageError(w, http.StatusBadRequest, "InvalidInput", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(messageJSON(m))
}

// peekMessages is GET /admin/queues/{queue}/messages: every message of
// the queue, visible or not, as JSON.
func (h *Host) peekMessages(w http.ResponseWriter, r *http.Request) {
	if !h.adminAuthorized(w, r) {
		return
	}
	msgs := h.queue.Peek(mux.Vars(r)["queue"])
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = messageJSON(m)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func messageJSON(m events.AzureQueueMessage) map[string]any {
	return map[string]any{
		"MessageId": m.ID, "InsertionTime": m.InsertionTime.UTC().Format(http.TimeFormat),
		"ExpirationTime": m.ExpirationTime.UTC().Format(http.TimeFormat), "PopReceipt": m.PopReceipt,
		"TimeNextVisible": m.NextVisibleTime.UTC().Format(http.TimeFormat), "DequeueCount": m.DequeueCount,
		"MessageText": m.Text,
	}
}

// runFunction is POST /admin/functions/{function}: the Functions host's
// way to run a non-HTTP-triggered function on demand. The body is
// {"input": <string, number or boolean>} (or {}); the answer is 202
// Accepted and the function runs in the background, as in Azure. A timer
// function gets a TimerInfo with IsPastDue false and its ScheduleStatus
// (Last: the last run recorded in StateDir, Next: the schedule's next
// occurrence), and the run is recorded as the last one; a queue-triggered
// function gets the input as a message's text (DequeueCount 1, not put on
// the queue, not retried), and its outputs are delivered.
func (h *Host) runFunction(w http.ResponseWriter, r *http.Request) {
	if !h.adminAuthorized(w, r) {
		return
	}
	name := mux.Vars(r)["function"]
	f := h.Function(name)
	if f == nil {
		adminError(w, http.StatusNotFound, fmt.Sprintf("app %s has no function %q", h.app.Name, name))
		return
	}
	var body struct {
		Input json.RawMessage `json:"input"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageSize*2))
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		err = json.Unmarshal(b, &body)
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, `the body is not {"input": "…"}: `+err.Error())
		return
	}
	input := ""
	if in := bytes.TrimSpace(body.Input); len(in) > 0 && string(in) != "null" {
		switch in[0] {
		case '"':
			json.Unmarshal(in, &input)
		case '{', '[':
			adminError(w, http.StatusBadRequest, "input must be a string, a number or a boolean (a JSON payload goes in a string)")
			return
		default:
			input = string(in)
		}
	}
	var run func()
	switch f.Trigger.Type {
	case azure.TimerTrigger:
		run = func() { h.fireTimerNow(f) }
	case azure.QueueTrigger:
		if len(input) > MaxMessageSize {
			adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("input is over %d bytes, a queue message's limit", MaxMessageSize))
			return
		}
		run = func() { h.runMessage(f, input) }
	default:
		adminError(w, http.StatusBadRequest, fmt.Sprintf("function %s is %s-triggered: call its HTTP route", f.Name, f.Trigger.Type))
		return
	}
	h.runMu.Lock()
	if h.closed {
		h.runMu.Unlock()
		adminError(w, http.StatusServiceUnavailable, "the app is shutting down")
		return
	}
	h.wg.Add(1)
	h.runMu.Unlock()
	go func() {
		defer h.wg.Done()
		run()
	}()
	w.WriteHeader(http.StatusAccepted)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// fireTimerNow runs timer function f once, on demand (not past due).
func (h *Host) fireTimerNow(f *azure.FunctionDef) {
	h.statusMu.Lock()
	st := h.loadStatus(f)
	h.statusMu.Unlock()
	now := h.clock.Now()
	inv := events.NewAzureTimerInvocation(f.Name, f.Trigger.Name, st.Last, f.Schedule.Next(now), st.LastUpdated, false, f.Schedule.Location(), now)
	doc, _ := json.Marshal(inv)
	rec := h.send(h.stopCtx, f, TriggerTimer, doc)
	if rec.Response == nil && (errors.Is(rec.Err, adapter.ErrTooManyRequests) || errors.Is(rec.Err, adapter.ErrClosed)) {
		return
	}
	now = h.clock.Now()
	h.statusMu.Lock()
	h.saveStatus(f, timerStatus{Last: now, Next: f.Schedule.Next(now), LastUpdated: now})
	h.statusMu.Unlock()
}

// runMessage runs queue function f once with text as a message, on demand.
func (h *Host) runMessage(f *azure.FunctionDef, text string) {
	now := h.clock.Now()
	msg := &events.AzureQueueMessage{ID: lambdaspec.NewGUID(), PopReceipt: popReceipt(), Text: text, DequeueCount: 1,
		InsertionTime: now, ExpirationTime: now.Add(7 * 24 * time.Hour), NextVisibleTime: now}
	doc, err := json.Marshal(events.NewAzureQueueInvocation(f.Name, f.Trigger.Name, msg, now))
	if err != nil {
		h.logf("function %s: %v", f.Name, err)
		return
	}
	if rec := h.send(h.stopCtx, f, TriggerQueue, doc); rec.Err == nil {
		h.deliver(f, rec) // it logs what it could not deliver
	}
}

// adminAuthorized requires the master key when one is configured.
func (h *Host) adminAuthorized(w http.ResponseWriter, r *http.Request) bool {
	master := h.opts.Keys.Master
	if master == "" {
		return true
	}
	key := r.Header.Get("X-Functions-Key")
	if key == "" {
		key = r.URL.Query().Get("code")
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(master)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return true
}

func storageError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s</Message></Error>", code, xmlEscape(msg))
}

// ---- queue triggers ----

// consume runs f for each message of its queue, up to BatchSize at once;
// a message that fails MaxDequeueCount times moves to <queue>-poison.
func (h *Host) consume(f *azure.FunctionDef) {
	name := f.Trigger.QueueName
	slots := make(chan struct{}, h.app.BatchSize)
	var running sync.WaitGroup
	defer running.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-h.stop:
			return
		}
		msg, next, changed := h.queue.get(name, lease)
		if msg == nil {
			<-slots
			var timer <-chan time.Time
			release := func() {}
			if !next.IsZero() {
				timer, release = h.clock.Timer(next)
			}
			select {
			case <-changed:
			case <-timer:
			case <-h.stop:
				release()
				return
			}
			release()
			continue
		}
		running.Add(1)
		go func() {
			defer func() { <-slots; running.Done() }()
			h.process(f, msg)
		}()
	}
}

func (h *Host) process(f *azure.FunctionDef, msg *events.AzureQueueMessage) {
	name := f.Trigger.QueueName
	inv := events.NewAzureQueueInvocation(f.Name, f.Trigger.Name, msg, h.clock.Now())
	doc, err := json.Marshal(inv)
	if err != nil {
		h.logf("queue %s: message %s: %v", name, msg.ID, err)
		return
	}
	rec := h.send(h.stopCtx, f, TriggerQueue, doc)
	err = rec.Err // rec belongs to observers now
	if err == nil {
		err = h.deliver(f, rec)
	}
	switch {
	case err == nil:
		if err := h.queue.delete(name, msg); err != nil {
			h.logf("queue %s: message %s: delete: %v", name, msg.ID, err)
		}
	case rec.Response == nil && (errors.Is(err, adapter.ErrTooManyRequests) || errors.Is(err, adapter.ErrClosed)):
		// Never ran (shutting down): back on the queue, not counted.
		h.queue.release(name, msg, 0, true)
	case msg.DequeueCount >= h.app.MaxDequeueCount:
		poison := name + "-poison"
		h.logf("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.", h.app.MaxDequeueCount, poison)
		if _, err := h.queue.Put(poison, msg.Text, 0, -1); err != nil {
			h.logf("queue %s: message %s: moving to %s: %v; it stays on %s", name, msg.ID, poison, err, name)
			h.queue.release(name, msg, h.app.VisibilityTimeout, false)
			return
		}
		h.queue.delete(name, msg)
	default:
		h.queue.release(name, msg, h.app.VisibilityTimeout, false)
	}
}

// ---- timer triggers ----

// timerStatus is a timer's schedule status, kept in StateDir/timers as
// the Functions host keeps it in storage.
type timerStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

func (h *Host) statusFile(f *azure.FunctionDef) (dir, name string) {
	if h.opts.StateDir == "" {
		return "", ""
	}
	return filepath.Join(h.opts.StateDir, "timers"), f.Name + ".json"
}

func (h *Host) loadStatus(f *azure.FunctionDef) timerStatus {
	var st timerStatus
	dir, name := h.statusFile(f)
	if dir == "" {
		return st
	}
	if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			h.logf("timer %s: status file: %v; starting afresh", f.Name, err)
			st = timerStatus{}
		}
	}
	return st
}

func (h *Host) saveStatus(f *azure.FunctionDef, st timerStatus) {
	dir, name := h.statusFile(f)
	if dir == "" {
		return
	}
	b, _ := json.Marshal(st)
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		err = atomicfile.Write(dir, name, b)
	}
	if err != nil {
		h.logf("timer %s: saving its status: %v", f.Name, err)
	}
}

// runTimer fires f on its schedule. As the Functions host does: at start,
// a runOnStartup timer runs at once, and one whose recorded next
// occurrence passed while the app was down runs at once with IsPastDue;
// each invocation's ScheduleStatus has the previous occurrence as Last and
// the one being run as Next; occurrences missed while an invocation ran
// are skipped.
func (h *Host) runTimer(f *azure.FunctionDef) {
	st := h.loadStatus(f)
	now := h.clock.Now()
	loc := f.Schedule.Location()
	fire := func(occurrence time.Time, pastDue bool) {
		inv := events.NewAzureTimerInvocation(f.Name, f.Trigger.Name, st.Last, occurrence, st.LastUpdated, pastDue, loc, h.clock.Now())
		doc, _ := json.Marshal(inv)
		rec := h.send(h.stopCtx, f, TriggerTimer, doc)
		if rec.Response == nil && (errors.Is(rec.Err, adapter.ErrTooManyRequests) || errors.Is(rec.Err, adapter.ErrClosed)) {
			return // never ran (shutting down): still due at the next start
		}
		now := h.clock.Now()
		st = timerStatus{Last: occurrence, Next: f.Schedule.Next(now), LastUpdated: now}
		h.saveStatus(f, st)
	}
	switch {
	case !st.Next.IsZero() && st.Next.Before(now):
		fire(st.Next, true)
	case f.Trigger.RunOnStartup:
		fire(now, false)
	}
	for {
		after := h.clock.Now()
		if st.Last.After(after) {
			after = st.Last
		}
		next := f.Schedule.Next(after)
		if next.IsZero() {
			return
		}
		if !st.Next.Equal(next) {
			st.Next, st.LastUpdated = next, h.clock.Now()
			h.saveStatus(f, st)
		}
		c, release := h.clock.Timer(next)
		select {
		case <-h.stop:
			release()
			return
		case <-c:
		}
		fire(next, false)
	}
}

var unsafeNameRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// FunctionConfig returns the engine configuration of app a's custom
// handler: named after the app folder, with the app's functionTimeout
// (default 5 minutes, Azure's Consumption plan default; at most 900 s, the
// engine's limit) and the environment a custom handler sees on Azure, plus
// env.
func FunctionConfig(a *azure.App, env map[string]string) adapter.Config {
	name := unsafeNameRE.ReplaceAllString(a.Name, "-")
	if len(name) > 64 {
		name = name[:64]
	}
	if name == "" || name == "-" {
		name = "azure-app"
	}
	timeout := a.FunctionTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	if timeout > lambdaspec.MaxTimeout {
		timeout = lambdaspec.MaxTimeout
	}
	e := map[string]string{
		"FUNCTIONS_WORKER_RUNTIME":     "custom",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "0",
		"AzureWebJobsScriptRoot":       "/home/site/wwwroot",
		"WEBSITE_SITE_NAME":            name,
	}
	for k, v := range env {
		e[k] = v
	}
	// The app folder is the function's files, read-only at /var/task.
	return adapter.Config{Name: name, Timeout: timeout, Environment: e, Files: a.Dir}
}
