// Package azure is an Azure Functions app's definition: it loads an app
// folder as it is in a user's repository (host.json, one folder per
// function with its function.json, the custom handler's Go source) into
// functions, triggers, timers and queue names. It needs no engine, so the
// Kubernetes generator reads apps with it; internal/azurehost runs them.
package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/events"
)

// App is a loaded Azure Functions app folder.
type App struct {
	// Dir is the app folder, absolute.
	Dir string
	// Name is the folder's base name (the app's name in logs and metrics).
	Name string
	// RoutePrefix is host.json's extensions.http.routePrefix ("api" by
	// default; "" serves routes at the root).
	RoutePrefix string
	// ForwardHTTP is customHandler.enableForwardingHttpRequest (or
	// enableProxyingHttpRequest): HTTP-only functions get the client's
	// request as is.
	ForwardHTTP bool
	// MaxDequeueCount is extensions.queues.maxDequeueCount (default 5):
	// the tries a queue message gets before it moves to <queue>-poison.
	MaxDequeueCount int
	// VisibilityTimeout is extensions.queues.visibilityTimeout (default
	// 0): the wait before a failed message is tried again.
	VisibilityTimeout time.Duration
	// BatchSize is extensions.queues.batchSize (default 16): the messages
	// of one queue processed at once.
	BatchSize int
	// FunctionTimeout is host.json's functionTimeout; 0 when not set.
	FunctionTimeout time.Duration
	// Functions are sorted by name; disabled functions are left out.
	Functions []*FunctionDef
}

// FunctionDef is one function of the app: a folder with function.json.
type FunctionDef struct {
	Name    string
	Trigger Binding
	// Outputs are the output bindings.
	Outputs []Binding
	// Schedule is a timer trigger's parsed schedule.
	Schedule *events.NCronSchedule
}

// Binding is one entry of function.json's bindings.
type Binding struct {
	Type      string   `json:"type"`
	Direction string   `json:"direction"`
	Name      string   `json:"name"`
	Methods   []string `json:"methods"`
	Route     string   `json:"route"`
	AuthLevel string   `json:"authLevel"`
	Schedule  string   `json:"schedule"`
	// RunOnStartup runs a timer function when the app starts.
	RunOnStartup bool   `json:"runOnStartup"`
	QueueName    string `json:"queueName"`
	Connection   string `json:"connection"`
}

// Trigger types the app loader accepts.
const (
	HTTPTrigger  = "httpTrigger"
	TimerTrigger = "timerTrigger"
	QueueTrigger = "queueTrigger"
)

// HTTPOnly says the function has an HTTP trigger and no output but HTTP:
// the functions enableForwardingHttpRequest forwards.
func (f *FunctionDef) HTTPOnly() bool {
	if f.Trigger.Type != HTTPTrigger {
		return false
	}
	for _, o := range f.Outputs {
		if o.Type != "http" {
			return false
		}
	}
	return true
}

// HTTPOutput returns the http output binding's name ("res", "$return"), or
// "" when there is none.
func (f *FunctionDef) HTTPOutput() string {
	for _, o := range f.Outputs {
		if o.Type == "http" {
			return o.Name
		}
	}
	return ""
}

type hostJSON struct {
	Version       string `json:"version"`
	CustomHandler *struct {
		Description *struct {
			DefaultExecutablePath string `json:"defaultExecutablePath"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		EnableProxyingHTTPRequest   bool `json:"enableProxyingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
		Queues struct {
			MaxDequeueCount   *int   `json:"maxDequeueCount"`
			VisibilityTimeout string `json:"visibilityTimeout"`
			BatchSize         *int   `json:"batchSize"`
		} `json:"queues"`
	} `json:"extensions"`
	FunctionTimeout string `json:"functionTimeout"`
}

// QueueNamePattern is what Azure Storage accepts as a queue name: 3 to 63
// lower-case letters, digits and single hyphens, starting and ending with a
// letter or digit.
var QueueNamePattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

var (
	functionNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,126}$`)
	settingRE      = regexp.MustCompile(`^%([A-Za-z0-9_.:-]+)%$`)
)

// Load reads the app folder dir. getenv resolves app settings (%NAME% in
// queue names and schedules, AzureWebJobs.<function>.Disabled,
// WEBSITE_TIME_ZONE); nil means os.Getenv. Every problem is reported, one
// a line, naming the file.
func Load(dir string, getenv func(string) string) (*App, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	hostPath := filepath.Join(abs, "host.json")
	b, err := os.ReadFile(hostPath)
	if err != nil {
		return nil, fmt.Errorf("%s is not an Azure Functions app folder: %w", dir, err)
	}
	var h hostJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%s: %v", hostPath, err)
	}
	app := &App{Dir: abs, Name: filepath.Base(abs), RoutePrefix: "api", MaxDequeueCount: 5, BatchSize: 16}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if h.Version != "" && !strings.HasPrefix(h.Version, "2.") {
		bad("%s: version %q: ferry runs the 2.0 host.json schema", hostPath, h.Version)
	}
	if h.CustomHandler == nil {
		bad("%s: no customHandler section: ferry runs custom handlers (customHandler.description.defaultExecutablePath)", hostPath)
	} else {
		app.ForwardHTTP = h.CustomHandler.EnableForwardingHTTPRequest || h.CustomHandler.EnableProxyingHTTPRequest
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		app.RoutePrefix = strings.Trim(*p, "/")
	}
	if n := h.Extensions.Queues.MaxDequeueCount; n != nil {
		if *n < 1 {
			bad("%s: extensions.queues.maxDequeueCount %d: want at least 1", hostPath, *n)
		}
		app.MaxDequeueCount = *n
	}
	if n := h.Extensions.Queues.BatchSize; n != nil {
		if *n < 1 || *n > 32 {
			bad("%s: extensions.queues.batchSize %d: want 1 to 32", hostPath, *n)
		}
		app.BatchSize = *n
	}
	if s := h.Extensions.Queues.VisibilityTimeout; s != "" {
		if app.VisibilityTimeout, err = ParseTimeSpan(s); err != nil {
			bad("%s: extensions.queues.visibilityTimeout: %v", hostPath, err)
		}
	}
	if s := h.FunctionTimeout; s != "" {
		if app.FunctionTimeout, err = ParseTimeSpan(s); err != nil {
			bad("%s: functionTimeout: %v", hostPath, err)
		}
	}
	loc, err := events.TimeZone(getenv)
	if err != nil {
		bad("%v", err)
		loc = time.UTC
	}

	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		path := filepath.Join(abs, e.Name(), "function.json")
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			bad("%v", err)
			continue
		}
		f, disabled, err := parseFunction(e.Name(), b, loc, getenv)
		if err != nil {
			bad("%s: %v", path, err)
			continue
		}
		if !disabled {
			app.Functions = append(app.Functions, f)
		}
	}
	if len(app.Functions) == 0 && len(errs) == 0 {
		bad("%s: no functions (a function is a folder with a function.json)", dir)
	}
	sort.Slice(app.Functions, func(i, j int) bool { return app.Functions[i].Name < app.Functions[j].Name })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return app, nil
}

func parseFunction(name string, b []byte, loc *time.Location, getenv func(string) string) (*FunctionDef, bool, error) {
	var fj struct {
		Disabled json.RawMessage `json:"disabled"`
		Bindings []Binding       `json:"bindings"`
	}
	if err := json.Unmarshal(b, &fj); err != nil {
		return nil, false, err
	}
	if !functionNameRE.MatchString(name) {
		return nil, false, fmt.Errorf("function name %q: want a letter, then letters, digits, - or _", name)
	}
	disabled := strings.EqualFold(strings.Trim(string(fj.Disabled), `"`), "true") ||
		strings.EqualFold(getenv("AzureWebJobs."+name+".Disabled"), "true")
	f := &FunctionDef{Name: name}
	var triggers int
	for i, bd := range fj.Bindings {
		where := fmt.Sprintf("bindings[%d] (%s)", i, bd.Name)
		if bd.Name == "" {
			return nil, false, fmt.Errorf("%s: no name", where)
		}
		switch strings.ToLower(bd.Direction) {
		case "in":
			if !strings.HasSuffix(bd.Type, "Trigger") {
				return nil, false, fmt.Errorf("%s: not supported yet: input binding %s", where, bd.Type)
			}
			triggers++
			switch bd.Type {
			case HTTPTrigger:
				for j, m := range bd.Methods {
					bd.Methods[j] = strings.ToUpper(m)
				}
				if bd.AuthLevel == "" {
					bd.AuthLevel = "function"
				}
				switch strings.ToLower(bd.AuthLevel) {
				case "anonymous", "function", "admin":
					bd.AuthLevel = strings.ToLower(bd.AuthLevel)
				default:
					return nil, false, fmt.Errorf("%s: authLevel %q: want anonymous, function or admin", where, bd.AuthLevel)
				}
			case TimerTrigger:
				s, err := events.ParseNCronSchedule(bd.Schedule, loc)
				if err != nil {
					return nil, false, fmt.Errorf("%s: %v", where, err)
				}
				f.Schedule = s
			case QueueTrigger:
				q, err := queueName(bd.QueueName, getenv)
				if err != nil {
					return nil, false, fmt.Errorf("%s: %v", where, err)
				}
				bd.QueueName = q
			default:
				return nil, false, fmt.Errorf("%s: not supported yet: %s", where, bd.Type)
			}
			f.Trigger = bd
		case "out":
			switch bd.Type {
			case "http":
			case "queue":
				q, err := queueName(bd.QueueName, getenv)
				if err != nil {
					return nil, false, fmt.Errorf("%s: %v", where, err)
				}
				bd.QueueName = q
			default:
				return nil, false, fmt.Errorf("%s: not supported yet: output binding %s", where, bd.Type)
			}
			f.Outputs = append(f.Outputs, bd)
		default:
			return nil, false, fmt.Errorf("%s: direction %q: want in or out", where, bd.Direction)
		}
	}
	if triggers != 1 {
		return nil, false, fmt.Errorf("want exactly one trigger binding, got %d", triggers)
	}
	return f, disabled, nil
}

// queueName resolves and checks a queue name as Azure Storage does.
func queueName(s string, getenv func(string) string) (string, error) {
	if m := settingRE.FindStringSubmatch(s); m != nil {
		v := getenv(m[1])
		if v == "" {
			return "", fmt.Errorf("queueName %s: app setting %s is not set", s, m[1])
		}
		s = v
	}
	if !QueueNamePattern.MatchString(s) {
		return "", fmt.Errorf("queueName %q: want 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit", s)
	}
	return s, nil
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes them:
// [d.]hh:mm:ss[.fff], or -1 for no limit (returned as 0).
func ParseTimeSpan(s string) (time.Duration, error) {
	if s == "-1" {
		return 0, nil
	}
	var days int
	rest := s
	if i := strings.IndexByte(rest, '.'); i >= 0 && i < strings.IndexByte(rest, ':') {
		d, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("%q is not a time span hh:mm:ss", s)
		}
		days, rest = d, rest[i+1:]
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time span hh:mm:ss", s)
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err := errors.Join(err1, err2, err3); err != nil || h < 0 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
		return 0, fmt.Errorf("%q is not a time span hh:mm:ss", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
