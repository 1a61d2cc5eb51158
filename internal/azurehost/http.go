package azurehost

// HTTP triggers: the app's routes under /api, their authorization and the
// envelope each request is invoked with.

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
	"github.com/ferrywasm/ferry/lambdaspec"
)

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

// unauthorized answers 401 for a request without a valid key. Azure
// answers with an empty body; ferry says why, in the body and the log,
// naming the variables keys come from (never a key itself), because a
// first request from a quick start otherwise fails without a clue.
func (h *Host) unauthorized(w http.ResponseWriter, r *http.Request, f *azure.FunctionDef) {
	given := "no key was given"
	if r.Header.Get("X-Functions-Key") != "" || r.URL.Query().Get("code") != "" {
		given = "the key given is not one of its keys"
	}
	msg := fmt.Sprintf("401 Unauthorized: function %s has authLevel %s and %s (send it as ?code=KEY or an x-functions-key header)", f.Name, f.Trigger.AuthLevel, given)
	if f.Trigger.AuthLevel == "admin" {
		msg += "; the master key is FERRY_AZURE_MASTER_KEY"
	} else {
		msg += fmt.Sprintf("; keys are FERRY_AZURE_FUNCTION_KEYS_%s, FERRY_AZURE_HOST_KEYS or FERRY_AZURE_MASTER_KEY in the app's environment", f.Name)
	}
	if h.opts.Keys.Master == "" && len(h.opts.Keys.Host) == 0 && len(h.opts.Keys.Functions) == 0 {
		msg += " (none is set, so every request is refused)"
	}
	h.logf("%s %s: %s", r.Method, r.URL.Path, msg)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, msg+"\n")
}

func (h *Host) httpTrigger(f *azure.FunctionDef) http.Handler {
	forward := h.app.ForwardHTTP && f.HTTPOnly()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(f, r) {
			h.unauthorized(w, r, f)
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
