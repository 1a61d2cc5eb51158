package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gateway"
)

// serveFlags are `ferry serve`'s flags, read by parseServeFlags.
type serveFlags struct {
	file, addr, logFormat, cacheSeed string
	explicitFile                     bool // -f was given
	insecureOpen, watch, noAccess    bool
	fireSchedules                    bool
	drain                            time.Duration
	azureApps                        multiFlag
}

// parseServeFlags reads args; a status other than -1 means exit with it.
func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, int) {
	fs := flag.NewFlagSet("ferry serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &serveFlags{}
	fs.StringVar(&f.file, "f", "ferry.yaml", "config file")
	fs.StringVar(&f.addr, "addr", os.Getenv("FERRY_ADDR"), "listen address ($FERRY_ADDR); default :8080 with access keys, 127.0.0.1:8080 (loopback only) without")
	fs.BoolVar(&f.insecureOpen, "insecure-open", os.Getenv("FERRY_INSECURE_OPEN") == "true", "($FERRY_INSECURE_OPEN=true) serve the Lambda API and Azure admin routes without credentials beyond loopback (anyone who reaches the port can invoke, list and administer)")
	fs.StringVar(&f.logFormat, "log-format", "", "Text or JSON, for function and access logs (default: the config's logFormat, else Text)")
	fs.DurationVar(&f.drain, "drain-timeout", 25*time.Second, "on SIGTERM, how long in-flight invocations may take to finish")
	fs.BoolVar(&f.watch, "watch", false, "rebuild and reload a source function when its files change")
	fs.BoolVar(&f.noAccess, "no-access-log", false, "do not log each HTTP request")
	fs.BoolVar(&f.fireSchedules, "schedules", envOr("FERRY_SCHEDULES", "on") != "off", "fire the config's schedules and Azure timer triggers in this process; --schedules=false (or $FERRY_SCHEDULES=off) when a Kubernetes CronJob fires them once for all replicas")
	fs.StringVar(&f.cacheSeed, "cache-seed", os.Getenv("FERRY_CACHE_SEED"), "a read-only precompiled cache (as `ferry image` ships) to use before compiling ($FERRY_CACHE_SEED)")
	fs.Var(&f.azureApps, "azure-app", "an Azure Functions app folder to serve (host.json, */function.json, the Go custom handler); repeatable")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry serve [-f ferry.yaml] [--azure-app DIR] [flags]\n\nServes the config's functions: their HTTP routes, the Lambda Invoke API\n(/2015-03-31/functions/…), schedules, Azure Functions apps (/api/…,\n/admin/queues/…, /admin/functions/…), /healthz, /readyz and /metrics.")
		fs.PrintDefaults()
	}
	if pos, err := parseArgs(fs, args); err != nil {
		return nil, flagStatus(err)
	} else if len(pos) > 0 {
		return nil, fail(stderr, "serve", fmt.Errorf("unexpected argument %q (the config is given with -f)", pos[0]))
	}
	fs.Visit(func(fl *flag.Flag) { f.explicitFile = f.explicitFile || fl.Name == "f" })
	return f, -1
}

// loadServeConfig loads the config the flags name, with the --azure-app
// folders added.
func loadServeConfig(f *serveFlags) (*config.File, error) {
	var cfg *config.File
	if _, statErr := os.Stat(f.file); len(f.azureApps) > 0 && !f.explicitFile && errors.Is(statErr, os.ErrNotExist) {
		// Only Azure apps, and no ferry.yaml: nothing else to serve.
		cfg = &config.File{Path: f.file, Region: cmp.Or(os.Getenv("AWS_REGION"), "us-east-1")}
	} else {
		var err error
		if cfg, err = config.Load(f.file); err != nil {
			return nil, err
		}
	}
	for _, dir := range f.azureApps {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		cfg.AzureApps = append(cfg.AzureApps, config.AzureApp{Path: abs})
	}
	return cfg, nil
}

// newServeServer is the HTTP front door before any function is deployed:
// metrics, the access log, credentials and REST API keys.
func newServeServer(f *serveFlags, cfg *config.File, creds gateway.Credentials, format adapter.LogFormat, reg *prometheus.Registry, logs, stderr io.Writer) *gateway.Server {
	opts := []gateway.ServerOption{gateway.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
	if !f.noAccess {
		opts = append(opts, gateway.WithAccessLog(logs, format == adapter.LogJSON))
	}
	if len(creds) > 0 {
		opts = append(opts, gateway.WithCredentials(creds, cfg.Region))
	}
	// API keys of REST routes with apiKeyRequired, as API Gateway's.
	var apiKeys []string
	for _, k := range strings.Split(os.Getenv("FERRY_API_KEYS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			apiKeys = append(apiKeys, k)
		}
	}
	opts = append(opts, gateway.WithAPIKeys(apiKeys))
	for _, fc := range cfg.Functions {
		for _, h := range fc.HTTP {
			if h.APIKeyRequired && len(apiKeys) == 0 {
				fmt.Fprintf(stderr, "ferry: route %s of %s requires an API key and $FERRY_API_KEYS is empty: it refuses every request\n", h.Path, fc.Name)
			}
		}
	}
	return gateway.NewServer(opts...)
}

// newServeEngine is the engine, with the precompiled cache when there is
// one.
func newServeEngine(ctx context.Context, cacheSeed string, metrics *adapter.Metrics, stderr io.Writer) (*adapter.Engine, error) {
	engineOpts := []adapter.EngineOption{adapter.WithMetrics(metrics)}
	if cacheSeed != "" {
		// A missing seed costs start-up time, not correctness: compile.
		if _, err := os.Stat(cacheSeed); err != nil {
			fmt.Fprintf(stderr, "ferry: no precompiled cache (%v); modules will be compiled\n", err)
		} else {
			engineOpts = append(engineOpts, adapter.WithCacheSeed(cacheSeed))
		}
	}
	return adapter.NewEngine(ctx, engineOpts...)
}

// runServe runs `ferry serve` until ctx ends (SIGTERM, Ctrl-C), then
// drains: it stops taking requests, lets those in flight finish up to
// --drain-timeout, spools queued events and exits 0.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	started := time.Now()
	f, status := parseServeFlags(args, stderr)
	if f == nil {
		return status
	}
	cfg, err := loadServeConfig(f)
	if err != nil {
		fmt.Fprintln(stderr, err) // the config's errors say file:line already
		return 2
	}
	creds, err := gateway.CredentialsFromEnv(os.Getenv)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	if f.addr == "" {
		f.addr = "127.0.0.1:8080" // no keys: the control surface stays on this machine
		if len(creds) > 0 {
			f.addr = ":8080"
		}
	}
	format := adapter.LogFormat(cmp.Or(f.logFormat, cfg.LogFormat, string(adapter.LogText)))
	if format != adapter.LogText && format != adapter.LogJSON {
		return fail(stderr, "serve", fmt.Errorf("--log-format %q: want Text or JSON", format))
	}
	// On a terminal, a live status line says what is loading; progress
	// and log lines print above it.
	term := newStatusLine(stderr)
	stderr = term
	logs := &lockedWriter{w: term}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := adapter.NewMetrics(reg)
	srv := newServeServer(f, cfg, creds, format, reg, logs, stderr)

	// Listen first: /healthz answers while modules build and compile, and
	// /readyz says 503 until they are ready (a startup probe's job).
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	if err := checkOpen(ln.Addr(), f.addr, creds, cfg, f.insecureOpen, stderr); err != nil {
		ln.Close()
		return fail(stderr, "serve", err)
	}
	httpSrv := gateway.NewHTTPServer(srv)
	ln = gateway.LimitConns(ln, gateway.DefaultMaxConns(), httpSrv)
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	fmt.Fprintf(stderr, "ferry: listening on http://%s\n", ln.Addr())

	engine, err := newServeEngine(ctx, f.cacheSeed, metrics, stderr)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	defer engine.Close(context.Background())
	d, err := gateway.New(ctx, engine, cfg, gateway.Options{NoTimers: !f.fireSchedules, LogFormat: format, Log: logs, Progress: stderr, Status: term.Set, Metrics: reg,
		// Each function serves as soon as it is ready; a request for one
		// still loading waits for it (errors surface in the final Deploy).
		Loaded: func(d gateway.Deployment, pending map[string]time.Duration) { srv.DeployLoading(d, pending) },
	})
	if err == nil {
		err = srv.Deploy(d.Deployment)
	}
	if err != nil {
		httpSrv.Close()
		fmt.Fprintln(stderr, err)
		return 2
	}
	startServing(d, f.fireSchedules, stderr)
	printRoutes(stderr, ln.Addr(), d)
	if st := engine.CompileStats(); st.FromCache > 0 {
		fmt.Fprintf(stderr, "ferry: %d module(s) compiled, %d from the compilation cache\n", st.Compiled, st.FromCache)
	}
	fmt.Fprintf(stderr, "ferry: ready: %d functions in %.0f s\n", len(d.Functions), time.Since(started).Seconds())

	if f.watch {
		go watchSources(ctx, d, logs)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "ferry serve: %v\n", err)
		return 2
	}
	return drainServe(srv, httpSrv, d, f.drain, stderr)
}

// startServing starts the deployment's schedules, timers and event
// sources, unless another process fires the schedules.
func startServing(d *gateway.Gateway, fireSchedules bool, stderr io.Writer) {
	if n := d.AzureTimers(); !fireSchedules && n > 0 {
		fmt.Fprintf(stderr, "ferry: %d Azure timer(s) not fired here (--schedules=false); POST /admin/functions/{name} runs one\n", n)
	}
	if !fireSchedules && len(d.Schedules) > 0 {
		// Another process fires them (ferry k8s's CronJobs, through the
		// Invoke API): firing here too would run each tick once per replica.
		fmt.Fprintf(stderr, "ferry: %d schedule(s) not fired here (--schedules=false)\n", len(d.Schedules))
		d.Schedules = nil
	}
	d.Start()
	if n := d.EventSources(); n > 0 {
		fmt.Fprintf(stderr, "ferry: %d event source(s) polling\n", n)
	}
}

// drainServe takes the pod out of the Service's endpoints first, then
// stops accepting and waits for what is in flight; its result is the exit
// status.
func drainServe(srv *gateway.Server, httpSrv *http.Server, d *gateway.Gateway, drain time.Duration, stderr io.Writer) int {
	fmt.Fprintf(stderr, "ferry: draining (up to %s)\n", drain)
	srv.SetReady(false)
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	status := 0
	d.StopSchedules()
	// Stop polling queues; batches being invoked finish and are acknowledged.
	if err := d.StopEventSources(dctx); err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		status = 1
	}
	if err := httpSrv.Shutdown(dctx); err != nil {
		fmt.Fprintf(stderr, "ferry: drain: %v\n", err)
		status = 1
	}
	if err := d.Close(dctx); err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		status = 1
	}
	fmt.Fprintln(stderr, "ferry: stopped")
	return status
}

func checkOpen(addr net.Addr, requested string, creds gateway.Credentials, cfg *config.File, insecureOpen bool, stderr io.Writer) error {
	loopback := false
	if tcp, ok := addr.(*net.TCPAddr); ok {
		loopback = tcp.IP.IsLoopback()
	}
	var missing []string
	if len(creds) == 0 {
		missing = append(missing, "the Lambda API (/2015-03-31/…) has no access keys (set FERRY_AWS_ACCESS_KEY_ID and FERRY_AWS_SECRET_ACCESS_KEY, FERRY_ACCESS_KEYS or FERRY_ACCESS_KEYS_FILE)")
	} else {
		fmt.Fprintf(stderr, "ferry: the Lambda API requires AWS Signature V4 with one of %d access key(s), region %s\n", len(creds), cfg.Region)
	}
	for _, ac := range cfg.AzureApps {
		if ac.Environment["FERRY_AZURE_MASTER_KEY"] == "" && os.Getenv("FERRY_AZURE_MASTER_KEY") == "" {
			missing = append(missing, fmt.Sprintf("the Azure app %s has no master key for its admin routes (set FERRY_AZURE_MASTER_KEY)", ac.Path))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	what := strings.Join(missing, "; ")
	switch {
	case loopback:
		fmt.Fprintf(stderr, "ferry: listening on loopback only: %s, so anyone on this machine can invoke, list and administer\n", what)
		return nil
	case insecureOpen:
		fmt.Fprintf(stderr, "ferry: WARNING: --insecure-open: %s, and ferry listens on %s: anyone who reaches it can invoke, list and administer\n", what, requested)
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without credentials: %s. Listen on loopback (--addr 127.0.0.1:8080), set the keys, or pass --insecure-open", requested, what)
}

// printRoutes lists what is served, the way sam local start-api does.
func printRoutes(w io.Writer, addr net.Addr, d *gateway.Gateway) {
	base := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		base = fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	names := make([]string, 0, len(d.Functions))
	for n := range d.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "ferry: function %-12s POST %s/2015-03-31/functions/%s/invocations\n", n, base, n)
	}
	for _, r := range d.Routes {
		methods := strings.Join(r.Methods, ",")
		if methods == "" {
			methods = "ANY"
		}
		fmt.Fprintf(w, "ferry: route    %-12s %s %s%s (%s)\n", r.Function, methods, base, r.Path, r.HTTP.Format)
	}
	for _, s := range d.Schedules {
		fmt.Fprintf(w, "ferry: schedule %-12s %s\n", s.Function.Config().Name, s.Rule)
	}
	for _, h := range d.Azure {
		for _, f := range h.App().Functions {
			switch f.Trigger.Type {
			case azure.HTTPTrigger:
				methods := strings.Join(f.Trigger.Methods, ",")
				if methods == "" {
					methods = "ANY"
				}
				for _, p := range h.Paths(f) {
					fmt.Fprintf(w, "ferry: azure    %-12s %s %s%s (authLevel %s)\n", f.Name, methods, base, p, f.Trigger.AuthLevel)
				}
			case azure.TimerTrigger:
				fmt.Fprintf(w, "ferry: azure    %-12s timer %s (%s)\n", f.Name, f.Schedule, f.Schedule.Location())
			case azure.QueueTrigger:
				fmt.Fprintf(w, "ferry: azure    %-12s queue %s (POST %s/admin/queues/%s/messages)\n", f.Name, f.Trigger.QueueName, base, f.Trigger.QueueName)
			}
		}
	}
}

// statusLine writes lines to a terminal below which it keeps a live
// status line (Set), erased and redrawn around each write. On anything
// but a terminal it passes writes through and ignores Set.
type statusLine struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	status string
}

func newStatusLine(w io.Writer) *statusLine {
	s := &statusLine{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			s.tty = true
		}
	}
	return s
}

func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty || s.status == "" {
		return s.w.Write(p)
	}
	io.WriteString(s.w, "\r\x1b[K")
	n, err := s.w.Write(p)
	io.WriteString(s.w, s.status)
	return n, err
}

// Set replaces the status line ("" erases it).
func (s *statusLine) Set(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		return
	}
	s.status = status
	io.WriteString(s.w, "\r\x1b[K"+status)
}

// lockedWriter serialises writes from concurrent invocations so that log
// records do not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
