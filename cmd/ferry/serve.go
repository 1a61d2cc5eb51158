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
	"github.com/ferrywasm/ferry/gateway"
	"github.com/ferrywasm/ferry/internal/config"
)

// runServe runs `ferry serve` until ctx ends (SIGTERM, Ctrl-C), then
// drains: it stops taking requests, lets those in flight finish up to
// --drain-timeout, spools queued events and exits 0.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file          = fs.String("f", "ferry.yaml", "config file")
		addr          = fs.String("addr", envOr("FERRY_ADDR", ":8080"), "listen address ($FERRY_ADDR)")
		logFormat     = fs.String("log-format", "", "Text or JSON, for function and access logs (default: the config's logFormat, else Text)")
		drain         = fs.Duration("drain-timeout", 25*time.Second, "on SIGTERM, how long in-flight invocations may take to finish")
		watch         = fs.Bool("watch", false, "rebuild and reload a source function when its files change")
		noAccess      = fs.Bool("no-access-log", false, "do not log each HTTP request")
		fireSchedules = fs.Bool("schedules", envOr("FERRY_SCHEDULES", "on") != "off", "fire the config's schedules and Azure timer triggers in this process; --schedules=false (or $FERRY_SCHEDULES=off) when a Kubernetes CronJob fires them once for all replicas")
		cacheSeed     = fs.String("cache-seed", os.Getenv("FERRY_CACHE_SEED"), "a read-only precompiled cache (as `ferry image` ships) to use before compiling ($FERRY_CACHE_SEED)")
		azureApps     multiFlag
	)
	fs.Var(&azureApps, "azure-app", "an Azure Functions app folder to serve (host.json, */function.json, the Go custom handler); repeatable")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry serve [-f ferry.yaml] [--azure-app DIR] [flags]\n\nServes the config's functions: their HTTP routes, the Lambda Invoke API\n(/2015-03-31/functions/…), schedules, Azure Functions apps (/api/…,\n/admin/queues/…, /admin/functions/…), /healthz, /readyz and /metrics.")
		fs.PrintDefaults()
	}
	if pos, err := parseArgs(fs, args); err != nil {
		return 2
	} else if len(pos) > 0 {
		return fail(stderr, "serve", fmt.Errorf("unexpected argument %q (the config is given with -f)", pos[0]))
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "f" })
	var cfg *config.File
	var err error
	if _, statErr := os.Stat(*file); len(azureApps) > 0 && !explicit && errors.Is(statErr, os.ErrNotExist) {
		// Only Azure apps, and no ferry.yaml: nothing else to serve.
		cfg = &config.File{Path: *file, Region: cmp.Or(os.Getenv("AWS_REGION"), "us-east-1")}
	} else if cfg, err = config.Load(*file); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	for _, dir := range azureApps {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fail(stderr, "serve", err)
		}
		cfg.AzureApps = append(cfg.AzureApps, config.AzureApp{Path: abs})
	}
	format := adapter.LogFormat(cmp.Or(*logFormat, cfg.LogFormat, string(adapter.LogText)))
	if format != adapter.LogText && format != adapter.LogJSON {
		return fail(stderr, "serve", fmt.Errorf("--log-format %q: want Text or JSON", format))
	}
	logs := &lockedWriter{w: stderr}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := adapter.NewMetrics(reg)
	opts := []gateway.ServerOption{gateway.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
	if !*noAccess {
		opts = append(opts, gateway.WithAccessLog(logs, format == adapter.LogJSON))
	}
	srv := gateway.NewServer(opts...)

	// Listen first: /healthz answers while modules build and compile, and
	// /readyz says 503 until they are ready (a startup probe's job).
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	fmt.Fprintf(stderr, "ferry: listening on http://%s\n", ln.Addr())

	engineOpts := []adapter.EngineOption{adapter.WithMetrics(metrics)}
	if *cacheSeed != "" {
		// A missing seed costs start-up time, not correctness: compile.
		if _, err := os.Stat(*cacheSeed); err != nil {
			fmt.Fprintf(stderr, "ferry: no precompiled cache (%v); modules will be compiled\n", err)
		} else {
			engineOpts = append(engineOpts, adapter.WithCacheSeed(*cacheSeed))
		}
	}
	engine, err := adapter.NewEngine(ctx, engineOpts...)
	if err != nil {
		return fail(stderr, "serve", err)
	}
	defer engine.Close(context.Background())
	d, err := gateway.New(ctx, engine, cfg, gateway.Options{NoTimers: !*fireSchedules, LogFormat: format, Log: logs, Progress: stderr, Metrics: reg})
	if err == nil {
		err = srv.Deploy(d.Deployment)
	}
	if err != nil {
		httpSrv.Close()
		fmt.Fprintln(stderr, err)
		return 2
	}
	if n := d.AzureTimers(); !*fireSchedules && n > 0 {
		fmt.Fprintf(stderr, "ferry: %d Azure timer(s) not fired here (--schedules=false); POST /admin/functions/{name} runs one\n", n)
	}
	if !*fireSchedules && len(d.Schedules) > 0 {
		// Another process fires them (ferry k8s's CronJobs, through the
		// Invoke API): firing here too would run each tick once per replica.
		fmt.Fprintf(stderr, "ferry: %d schedule(s) not fired here (--schedules=false)\n", len(d.Schedules))
		d.Schedules = nil
	}
	d.Start()
	printRoutes(stderr, ln.Addr(), d)
	if st := engine.CompileStats(); st.FromCache > 0 {
		fmt.Fprintf(stderr, "ferry: %d module(s) compiled, %d from the compilation cache\n", st.Compiled, st.FromCache)
	}
	fmt.Fprintln(stderr, "ferry: ready")

	if *watch {
		go watchSources(ctx, d, logs)
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "ferry serve: %v\n", err)
		return 2
	}
	// Drain: out of the Service's endpoints first, then stop accepting and
	// wait for what is in flight.
	fmt.Fprintf(stderr, "ferry: draining (up to %s)\n", *drain)
	srv.SetReady(false)
	dctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	status := 0
	d.StopSchedules()
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
