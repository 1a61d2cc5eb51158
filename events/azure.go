package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// Azure Functions custom handler payloads: what the Functions host POSTs to
// a custom handler at /<FunctionName> for each invocation, and how it reads
// the reply. Shapes follow Microsoft's custom handler reference: a request
// {"Data":{<binding name>: value…},"Metadata":{…,"sys":{…}}} and a reply
// {"Outputs":{…},"Logs":[…],"ReturnValue":…}.

// AzureInvocation is the request body of one custom handler invocation.
type AzureInvocation struct {
	// Data holds the trigger's and input bindings' values by binding name.
	Data map[string]any `json:"Data"`
	// Metadata holds the trigger metadata, and "sys".
	Metadata map[string]any `json:"Metadata"`
}

// AzureSys is Metadata.sys.
type AzureSys struct {
	MethodName string `json:"MethodName"`
	UtcNow     string `json:"UtcNow"`
	RandGuid   string `json:"RandGuid"`
}

// AzureHTTPRequest is an httpTrigger binding's value.
type AzureHTTPRequest struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   map[string]string   `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params"`
	// Identities are the caller's claims identities; ferry authenticates
	// no one, so it is always empty.
	Identities []any `json:"Identities"`
	// Body is the request body as a string: its text when it is UTF-8,
	// else its base64 encoding.
	Body string `json:"Body"`
}

// azureTime is how the Functions host writes queue and timer times
// (.NET's DateTimeOffset round-trip form, seconds precision).
const azureTime = "2006-01-02T15:04:05-07:00"

// azureUtcNow is sys.UtcNow's form (.NET's DateTime "o" format).
const azureUtcNow = "2006-01-02T15:04:05.0000000Z"

// NewAzureSys returns Metadata.sys for an invocation of function at now.
func NewAzureSys(function string, now time.Time) AzureSys {
	return AzureSys{MethodName: function, UtcNow: now.UTC().Format(azureUtcNow), RandGuid: lambdaspec.NewGUID()}
}

// NewAzureHTTPInvocation builds the invocation of an HTTP-triggered function
// whose trigger binding is named binding, for request r with body: Url is
// the absolute URL the client used, Query each parameter's values joined
// by commas (as ASP.NET renders them), Headers every value of every header, Params the route values.
// The trigger metadata repeats Query, Headers and the route values, as the
// Functions host does.
func NewAzureHTTPInvocation(function, binding string, r *http.Request, body []byte, params map[string]string, now time.Time) *AzureInvocation {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	req := AzureHTTPRequest{
		URL:        scheme + "://" + host + r.URL.RequestURI(),
		Method:     r.Method,
		Query:      map[string]string{},
		Headers:    map[string][]string{},
		Params:     map[string]string{},
		Identities: []any{},
	}
	for k, v := range r.URL.Query() {
		// ASP.NET's StringValues.ToString: repeated values joined by commas.
		req.Query[k] = strings.Join(v, ",")
	}
	for k, v := range r.Header {
		req.Headers[k] = append([]string(nil), v...)
	}
	if r.Host != "" {
		req.Headers["Host"] = []string{r.Host}
	}
	for k, v := range params {
		req.Params[k] = v
	}
	if utf8.Valid(body) {
		req.Body = string(body)
	} else {
		req.Body = base64.StdEncoding.EncodeToString(body)
	}
	meta := map[string]any{"Query": req.Query, "Headers": req.Headers}
	for k, v := range params {
		if _, taken := meta[k]; !taken {
			meta[k] = v
		}
	}
	meta["sys"] = NewAzureSys(function, now)
	return &AzureInvocation{Data: map[string]any{binding: req}, Metadata: meta}
}

// AzureTimerInfo is a timerTrigger binding's value.
type AzureTimerInfo struct {
	Schedule       AzureTimerSchedule `json:"Schedule"`
	ScheduleStatus *AzureTimerStatus  `json:"ScheduleStatus"`
	IsPastDue      bool               `json:"IsPastDue"`
}

// AzureTimerSchedule is TimerInfo.Schedule.
type AzureTimerSchedule struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

// AzureTimerStatus is TimerInfo.ScheduleStatus: the last occurrence that
// ran, the one running now (Next), and when the status was last written.
type AzureTimerStatus struct {
	Last        string `json:"Last"`
	Next        string `json:"Next"`
	LastUpdated string `json:"LastUpdated"`
}

// AzureTimerTime formats t as TimerInfo does, in loc; the zero time is
// .NET's DateTime.MinValue.
func AzureTimerTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.In(loc).Format(azureTime)
}

// NewAzureTimerInvocation builds the invocation of a timer-triggered
// function: last is the previous occurrence that ran (zero if none), next
// the occurrence being run, updated when the status was written; times are
// written in loc.
func NewAzureTimerInvocation(function, binding string, last, next, updated time.Time, pastDue bool, loc *time.Location, now time.Time) *AzureInvocation {
	info := AzureTimerInfo{
		Schedule: AzureTimerSchedule{AdjustForDST: true},
		ScheduleStatus: &AzureTimerStatus{
			Last: AzureTimerTime(last, loc), Next: AzureTimerTime(next, loc), LastUpdated: AzureTimerTime(updated, loc),
		},
		IsPastDue: pastDue,
	}
	return &AzureInvocation{
		Data:     map[string]any{binding: info},
		Metadata: map[string]any{"sys": NewAzureSys(function, now)},
	}
}

// AzureQueueMessage is a queue message as a queueTrigger sees it.
type AzureQueueMessage struct {
	ID              string
	PopReceipt      string
	Text            string
	DequeueCount    int
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time
}

// NewAzureQueueInvocation builds the invocation of a queue-triggered
// function: the message text (a JSON string) under the binding's name, and
// the message's properties as trigger metadata.
func NewAzureQueueInvocation(function, binding string, m *AzureQueueMessage, now time.Time) *AzureInvocation {
	return &AzureInvocation{
		Data: map[string]any{binding: m.Text},
		Metadata: map[string]any{
			"DequeueCount":    m.DequeueCount,
			"ExpirationTime":  m.ExpirationTime.UTC().Format(azureTime),
			"Id":              m.ID,
			"InsertionTime":   m.InsertionTime.UTC().Format(azureTime),
			"NextVisibleTime": m.NextVisibleTime.UTC().Format(azureTime),
			"PopReceipt":      m.PopReceipt,
			"sys":             NewAzureSys(function, now),
		},
	}
}

// AzureReply is a custom handler's reply to an invocation.
type AzureReply struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []string                   `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

// ParseAzureReply reads a custom handler's reply body. An empty body is an
// empty reply (a handler that only answers 200).
func ParseAzureReply(body []byte) (*AzureReply, error) {
	r := &AzureReply{}
	if len(bytes.TrimSpace(body)) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(body, r); err != nil {
		return nil, fmt.Errorf("the custom handler's reply is not the invocation response JSON {\"Outputs\",\"Logs\",\"ReturnValue\"}: %v", err)
	}
	return r, nil
}

// Output returns the value of the output binding name: Outputs[name], or
// ReturnValue for "$return". ok is false when the reply has none.
func (r *AzureReply) Output(name string) (json.RawMessage, bool) {
	v := r.Outputs[name]
	if name == "$return" {
		v = r.ReturnValue
	}
	if len(v) == 0 || string(v) == "null" {
		return nil, false
	}
	return v, true
}

// AzureHTTPResponse is an http output binding's value, made an HTTP
// response.
type AzureHTTPResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// ParseAzureHTTPOutput turns an http output binding's value into a
// response, as the Functions host does: statusCode (or status) as a
// number or a string, default 200; headers, values as strings; a string
// body as is (text/plain unless a header says otherwise), any other JSON
// body serialised (application/json). A value that is not an object is the
// body of a 200.
func ParseAzureHTTPOutput(v json.RawMessage) (*AzureHTTPResponse, error) {
	resp := &AzureHTTPResponse{Status: http.StatusOK, Header: http.Header{}}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
		setBody(resp, v)
		return resp, nil
	}
	fields := map[string]json.RawMessage{}
	for k, x := range obj {
		fields[strings.ToLower(k)] = x
	}
	code := fields["statuscode"]
	if code == nil {
		code = fields["status"]
	}
	if code != nil && string(code) != "null" {
		var n json.Number
		var s string
		switch {
		case json.Unmarshal(code, &n) == nil:
			s = n.String()
		case json.Unmarshal(code, &s) == nil:
		default:
			return nil, fmt.Errorf("http output: statusCode %s is not a number", code)
		}
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 100 || c > 999 {
			return nil, fmt.Errorf("http output: statusCode %s is not an HTTP status code", code)
		}
		resp.Status = c
	}
	if h := fields["headers"]; h != nil && string(h) != "null" {
		var hm map[string]any
		if err := json.Unmarshal(h, &hm); err != nil {
			return nil, fmt.Errorf("http output: headers: %v", err)
		}
		keys := make([]string, 0, len(hm))
		for k := range hm {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch x := hm[k].(type) {
			case string:
				resp.Header.Add(k, x)
			case []any:
				for _, e := range x {
					resp.Header.Add(k, fmt.Sprint(e))
				}
			case nil:
			default:
				resp.Header.Add(k, fmt.Sprint(x))
			}
		}
	}
	if b := fields["body"]; b != nil && string(b) != "null" {
		setBody(resp, b)
	}
	return resp, nil
}

func setBody(resp *AzureHTTPResponse, v json.RawMessage) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		resp.Body = []byte(s)
		if resp.Header.Get("Content-Type") == "" && len(s) > 0 {
			resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
		}
		return
	}
	var compact bytes.Buffer
	if json.Compact(&compact, v) == nil {
		resp.Body = compact.Bytes()
	} else {
		resp.Body = v
	}
	if resp.Header.Get("Content-Type") == "" {
		resp.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
}

// AzureQueueOutput returns the messages a queue output binding's value
// holds: a string is one message's text, an array one message per item,
// any other JSON value one message of its JSON text.
func AzureQueueOutput(v json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		items = []json.RawMessage{v}
	}
	msgs := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			msgs = append(msgs, s)
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, it); err != nil {
			return nil, errors.New("queue output: not JSON")
		}
		msgs = append(msgs, compact.String())
	}
	return msgs, nil
}
