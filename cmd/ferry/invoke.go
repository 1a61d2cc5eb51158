package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

func runInvoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		event     = fs.String("e", "", "event file (- for stdin); default {}")
		name      = fs.String("name", "", "function name (default: the module's file name)")
		memory    = fs.Int("memory", 128, "memory size in MB")
		timeout   = fs.String("timeout", "3s", "timeout: seconds (3) or a duration (500ms)")
		envFile   = fs.String("env-file", "", "environment file: KEY=VALUE lines, or SAM's JSON (flat, or per function name / Parameters)")
		logFormat = fs.String("log-format", "Text", "log format: Text or JSON")
		azureApp  = fs.String("azure-app", "", "an Azure Functions app folder: invoke its function FUNCTION with the invocation document -e")
		files     = fs.String("files", "", "directory mounted read-only at /var/task (default: the handler directory, or the module's directory)")
		jsonv2    = fs.Bool("jsonv2", false, jsonv2Usage+"; for a DIR")
		envs      multiFlag
		allow     multiFlag
	)
	fs.Var(&allow, "allow-host", "an allowedOutboundHosts entry, scheme://host[:port] with * wildcards (repeatable; default none)")
	fs.StringVar(event, "event", "", "same as -e")
	fs.Var(&envs, "env", "KEY=VALUE environment variable (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry invoke [flags] MODULE.wasm|DIR\n       ferry invoke --azure-app APPDIR [flags] FUNCTION -e invocation.json\n\nInvokes the function once: the response on stdout, the logs on stderr.\nA DIR is a Go handler package, built first (and cached). With --azure-app,\nthe event is the Functions host's {\"Data\":…,\"Metadata\":…} document and the\nresponse the custom handler's reply.\nExit status: 0 success, 1 function error, 2 usage or load error.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 && *azureApp != "" {
		return fail(stderr, "invoke", errors.New("want exactly one function of the app, e.g. ferry invoke --azure-app ./app HttpExample -e invocation.json"))
	}
	if len(pos) != 1 {
		return fail(stderr, "invoke", errors.New("want exactly one module or handler directory, e.g. ferry invoke hello.wasm -e event.json"))
	}
	ctx := context.Background()
	module := pos[0]

	cfg := adapter.Config{Memory: *memory, LogFormat: adapter.LogFormat(*logFormat), Concurrency: 1}
	if cfg.Timeout, err = parseTimeout(*timeout); err != nil {
		return fail(stderr, "invoke", err)
	}
	cfg.Name = *name
	if cfg.Name == "" {
		cfg.Name = defaultFunctionName(module)
	}
	cfg.Environment = map[string]string{}
	if *envFile != "" {
		if err := readEnvFile(*envFile, cfg.Name, cfg.Environment); err != nil {
			return fail(stderr, "invoke", err)
		}
	}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fail(stderr, "invoke", fmt.Errorf("--env %q: want KEY=VALUE", kv))
		}
		cfg.Environment[k] = v
	}
	payload, err := readEvent(*event, stdin)
	if err != nil {
		return fail(stderr, "invoke", err)
	}

	cfg.AllowedOutboundHosts = allow
	cfg.Files = *files
	if *azureApp != "" {
		timeoutSet := false
		fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
		if !timeoutSet {
			cfg.Timeout = 0 // the app's functionTimeout
		}
		return invokeAzure(ctx, *azureApp, pos[0], payload, cfg, stdout, stderr, gobuild.JSONv2(*jsonv2))
	}
	if cfg.Files == "" {
		cfg.Files = module
		if st, err := os.Stat(module); err == nil && !st.IsDir() {
			cfg.Files = filepath.Dir(module)
		}
	}
	if st, err := os.Stat(module); err == nil && st.IsDir() {
		fmt.Fprintf(stderr, "building %s\n", module)
		if module, err = gobuild.Cached(ctx, module, gobuild.JSONv2(*jsonv2)); err != nil {
			return fail(stderr, "invoke", err)
		}
	}
	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	defer engine.Close(ctx)
	fn, err := engine.LoadFile(ctx, module, cfg)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	res, err := fn.Invoke(ctx, &adapter.Request{Payload: payload})
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	stderr.Write(res.Logs)
	stdout.Write(res.Payload)
	fmt.Fprintln(stdout)
	if res.Failed() {
		return 1
	}
	return 0
}

// defaultFunctionName names a function after its module file (hello.wasm)
// or handler directory, as `ferry build` names its output: "." and "./dir"
// are resolved first, so `ferry invoke .` runs the current directory's
// handler under that directory's name.
func defaultFunctionName(module string) string {
	if abs, err := filepath.Abs(module); err == nil {
		module = abs
	}
	return strings.TrimSuffix(filepath.Base(module), ".wasm")
}

// parseTimeout accepts seconds, as SAM templates give them, or a Go
// duration.
func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--timeout %q: want seconds (3) or a duration (500ms)", s)
	}
	return d, nil
}

// readEvent reads the event and checks it is JSON, as Lambda's Invoke API
// does.
func readEvent(path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		path = "stdin"
		b, err = io.ReadAll(stdin)
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return nil, fmt.Errorf("%s: the event is not valid JSON: %v", path, err)
	}
	return bytes.TrimSpace(b), nil
}

// readEnvFile reads KEY=VALUE lines (# comments) or SAM's --env-vars JSON:
// {"Parameters":{…}} for every function, {"<name>":{…}} for one, or a
// flat object.
func readEnvFile(path, function string, env map[string]string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var doc map[string]any
		if err := json.Unmarshal(t, &doc); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		nested := false
		for _, key := range []string{"Parameters", function} {
			if m, ok := doc[key].(map[string]any); ok {
				nested = true
				for k, v := range m {
					env[k] = fmt.Sprint(v)
				}
			}
		}
		if !nested {
			for k, v := range doc {
				if _, isObject := v.(map[string]any); !isObject {
					env[k] = fmt.Sprint(v)
				}
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return sc.Err()
}
