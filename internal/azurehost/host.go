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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
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
