package adapter

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// Config is a function's configuration, with Lambda's meanings and
// defaults.
type Config struct {
	// Name is the function's name; default "function" (RIE's name).
	Name string
	// Memory is the memory size in MB (128 to 10,240; default 128). It caps
	// the instance's linear memory and is reported as Memory Size.
	Memory int
	// Timeout bounds each invocation (default 3 s, at most 900 s). An
	// invocation that runs past it is stopped, even inside an endless loop,
	// and its instance discarded.
	Timeout time.Duration
	// Environment is added to the variables Lambda sets.
	Environment map[string]string
	// Concurrency is the most instances that run at once (default 10).
	// Invocations beyond it wait for an instance.
	Concurrency int
	// IdleTimeout is how long an idle instance is kept warm before it is
	// closed (default 5 minutes): functions scale to zero when unused.
	IdleTimeout time.Duration
	// MinInstances idle instances are never closed for idleness.
	MinInstances int
	// SpareInstances keeps the pool ahead of demand: when an invocation
	// takes the last idle instance (or has to start one), replacements
	// start in the background until this many are idle, within the
	// concurrency limit. Default 0: like Lambda, instances start only for
	// invocations. With snapshots a spare costs a clone (about a
	// millisecond and well under a MiB of private memory for a Go
	// function, see BENCHMARKS.md).
	SpareInstances int
	// PrimeEvent, when set, is invoked once on the instance a snapshot is
	// taken from, before it is taken: clones then start with what the
	// handler builds lazily on its first call (encoding/json's and
	// reflection's caches, clients, connections pools) instead of building
	// it on their first invocation, as Lambda SnapStart's priming hooks
	// do. The handler's side effects happen once per snapshot; its log
	// goes to LogSink like any invocation's; a failure, or a handler that
	// does not return normally, turns snapshots off for the function.
	PrimeEvent []byte
	// Region and AccountID appear in ARNs and AWS_REGION; defaults are
	// $AWS_REGION (else us-east-1) and 123456789012, as SAM uses locally.
	Region    string
	AccountID string
	// LogFormat is Lambda's text format (default) or its JSON format.
	LogFormat LogFormat
	// LogSink, when set, receives each invocation's log as it completes,
	// in addition to Result.Logs.
	LogSink io.Writer
	// Async configures Event (asynchronous) invocations run by a Queue.
	Async AsyncConfig

	// AllowedOutboundHosts are the origins the function may send HTTP
	// requests to: scheme://host[:port] with * wildcards (see
	// lambdaspec.HostPattern). Empty, the default, refuses every request.
	AllowedOutboundHosts []string
	// Files is a host directory mounted read-only at /var/task
	// (LAMBDA_TASK_ROOT), the function's own files; "" mounts nothing.
	Files string
	// EphemeralStorage caps the instance's private /tmp, in MB (default
	// 512, Lambda's; at most 10,240). ferry.yaml holds it to Lambda's range
	// of 512 to 10,240; the engine takes smaller caps too, for tests.
	EphemeralStorage int
}

// AsyncConfig is a function's configuration for asynchronous invocations,
// Lambda's "event invoke config".
type AsyncConfig struct {
	// RetryDelays is the back-off before each retry after a function
	// error: its length is the number of retries. nil means Lambda's
	// [1m, 2m]; an empty non-nil slice means no retries.
	RetryDelays []time.Duration
	// MaxEventAge is how long an event is kept for processing (default
	// 6 h); an older event is not retried further.
	MaxEventAge time.Duration
	// OnSuccess and OnFailure receive an invocation record when an event
	// succeeds, or when it fails for good.
	OnSuccess, OnFailure Destination
}

// Destination is where an invocation record goes (lambdaspec.Destination).
type Destination = lambdaspec.Destination

func (a *AsyncConfig) setDefaults() error {
	if a.RetryDelays == nil {
		a.RetryDelays = append([]time.Duration(nil), lambdaspec.DefaultRetryDelays...)
	} else {
		// The caller's slice stays the caller's; an empty one stays non-nil.
		a.RetryDelays = append(make([]time.Duration, 0, len(a.RetryDelays)), a.RetryDelays...)
	}
	for _, d := range a.RetryDelays {
		if d < 0 {
			return fmt.Errorf("async retry delay %v: want 0 or more", d)
		}
	}
	if a.MaxEventAge == 0 {
		a.MaxEventAge = 6 * time.Hour
	}
	if a.MaxEventAge < 0 {
		return fmt.Errorf("async max event age %v: want more than 0", a.MaxEventAge)
	}
	for _, d := range []struct {
		what string
		dest Destination
	}{{"onSuccess", a.OnSuccess}, {"onFailure", a.OnFailure}} {
		if d.dest.Function != "" && d.dest.File != "" {
			return fmt.Errorf("async %s destination: a function or a file, not both", d.what)
		}
		if d.dest.Function != "" && !lambdaspec.FunctionNamePattern.MatchString(d.dest.Function) {
			return fmt.Errorf("async %s destination: function name %q: want 1 to 64 letters, digits, - or _", d.what, d.dest.Function)
		}
	}
	return nil
}

// LogFormat is Lambda's logging format.
type LogFormat string

const (
	LogText LogFormat = "Text"
	LogJSON LogFormat = "JSON"
)

func (c *Config) setDefaults() error {
	if c.Name == "" {
		c.Name = "function"
	}
	if !lambdaspec.FunctionNamePattern.MatchString(c.Name) {
		return fmt.Errorf("function name %q: want 1 to 64 letters, digits, - or _", c.Name)
	}
	if c.Memory == 0 {
		c.Memory = lambdaspec.DefaultMemoryMB
	}
	if c.Memory < lambdaspec.MinMemoryMB || c.Memory > lambdaspec.MaxMemoryMB {
		return fmt.Errorf("memory %d MB: want %d to %d", c.Memory, lambdaspec.MinMemoryMB, lambdaspec.MaxMemoryMB)
	}
	if c.Timeout == 0 {
		c.Timeout = lambdaspec.DefaultTimeout
	}
	if c.Timeout < 0 || c.Timeout > lambdaspec.MaxTimeout {
		return fmt.Errorf("timeout %v: want up to %v", c.Timeout, lambdaspec.MaxTimeout)
	}
	if c.Concurrency == 0 {
		c.Concurrency = lambdaspec.DefaultConcurrency
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("concurrency %d: want at least 1", c.Concurrency)
	}
	if c.SpareInstances < 0 || c.SpareInstances > c.Concurrency {
		return fmt.Errorf("spareInstances %d: want 0 to concurrency (%d)", c.SpareInstances, c.Concurrency)
	}
	if c.MinInstances > c.Concurrency {
		return fmt.Errorf("minInstances %d is more than concurrency %d", c.MinInstances, c.Concurrency)
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.Region == "" {
		c.Region = os.Getenv("AWS_REGION")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if _, err := lambdaspec.ParseHostPolicy(c.AllowedOutboundHosts); err != nil {
		return fmt.Errorf("allowedOutboundHosts: %w", err)
	}
	if c.Files != "" {
		abs, err := filepath.Abs(c.Files)
		if err != nil {
			return fmt.Errorf("files: %w", err)
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return fmt.Errorf("files: %s is not a directory", c.Files)
		}
		c.Files = abs
	}
	if c.EphemeralStorage == 0 {
		c.EphemeralStorage = lambdaspec.DefaultEphemeralStorageMB
	}
	if c.EphemeralStorage < 1 || c.EphemeralStorage > lambdaspec.MaxEphemeralStorageMB {
		return fmt.Errorf("ephemeral storage %d MB: want 1 to %d", c.EphemeralStorage, lambdaspec.MaxEphemeralStorageMB)
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = LogText
	case LogText, LogJSON:
	default:
		return fmt.Errorf("log format %q: want Text or JSON", c.LogFormat)
	}
	return c.Async.setDefaults()
}

// ARN returns the function's ARN.
func (c *Config) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.Region, c.AccountID, c.Name)
}

// lambdaEnvironment is what Lambda sets in a function's environment, with
// the configured variables on top.
func (c *Config) lambdaEnvironment(logStream string) map[string]string {
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        c.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(c.Memory),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_REGION":                      c.Region,
		"AWS_DEFAULT_REGION":              c.Region,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_ferry",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + c.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_FORMAT":           string(c.LogFormat),
		"_HANDLER":                        c.Name,
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	}
	for k, v := range c.Environment {
		env[k] = v
	}
	if c.Files == "" {
		// Lambda's working directory is /var/task; without files, /tmp is
		// the only directory there is.
		env["PWD"] = tmpRoot
	} else {
		env["PWD"] = taskRoot
	}
	// IRSA: the token file's directory is mounted in the guest (see
	// instanceFS), so the SDK reads it at its guest path.
	if tok := env[envWebIdentityTokenFile]; tok != "" && filepath.IsAbs(tok) {
		env[envWebIdentityTokenFile] = guestWebIdentityTokenFile(tok)
	}
	return env
}
