package azurehost

// The admin endpoints: Storage-like queue endpoints and the Functions
// host's admin API that runs a function now.

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/lambdaspec"
)

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
