package main

import (
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
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// runServe runs `ferry serve` until ctx ends (SIGTERM, Ctrl-C), then
// drains: it stops taking requests, lets those in flight finish up to
// --drain-timeout, spools queued events and exits 0.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file      = fs.String("f", "ferry.yaml", "config file")
		addr      = fs.String("addr", envOr("FERRY_ADDR", ":8080"), "listen address ($FERRY_ADDR)")
		logFormat = fs.String("log-format", "", "Text or JSON, for function and access logs (default: the config's logFormat, else Text)")
		drain     = fs.Duration("drain-timeout", 25*time.Second, "on SIGTERM, how long in-flight invocations may take to finish")
		watch     = fs.Bool("watch", false, "rebuild and reload a source function when its files change")
		noAccess  = fs.Bool("no-access-log", false, "do not log each HTTP request")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry serve [-f ferry.yaml] [flags]\n\nServes the config's functions: their HTTP routes, the Lambda Invoke API\n(/2015-03-31/functions/…), schedules, /healthz, /readyz and /metrics.")
		fs.PrintDefaults()
	}
	if pos, err := parseArgs(fs, args); err != nil {
		return 2
	} else if len(pos) > 0 {
		return fail(stderr, "serve", fmt.Errorf("unexpected argument %q (the config is given with -f)", pos[0]))
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	format := adapter.LogFormat(firstOf(*logFormat, cfg.LogFormat, string(adapter.LogText)))
	if format != adapter.LogText && format != adapter.LogJSON {
		return fail(stderr, "serve", fmt.Errorf("--log-format %q: want Text or JSON", format))
	}
	logs := &lockedWriter{w: stderr}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := adapter.NewMetrics(reg)
	opts := []adapter.ServerOption{adapter.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
	if !*noAccess {
		opts = append(opts, adapter.WithAccessLog(logs, format == adapter.LogJSON))
	}
	srv := adapter.NewServer(opts...)

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

	engine, err := adapter.NewEngine(ctx, adapter.WithMetrics(metrics))
	if err != nil {
		return fail(stderr, "serve", err)
	}
	defer engine.Close(context.Background())
	d, err := deploy(ctx, engine, cfg, format, logs, stderr)
	if err == nil {
		d.Queue, err = adapter.NewQueue(d.Functions, adapter.QueueOptions{
			Capacity: cfg.Async.QueueSize,
			SpoolDir: firstOf(cfg.Async.SpoolDir, filepath.Join(filepath.Dir(adapter.DefaultCacheDir()), "spool")),
			Log:      logs,
		})
	}
	if err == nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_async_queue_depth",
			Help: "Event invocations accepted and not finished (queued, running or waiting for a retry).",
		}, func() float64 { return float64(d.Queue.Depth()) }))
		err = srv.Deploy(d.Deployment)
	}
	if err != nil {
		httpSrv.Close()
		fmt.Fprintln(stderr, err)
		return 2
	}
	schedules := adapter.StartSchedules(d.schedules, d.Queue, metrics, logs)
	printRoutes(stderr, ln.Addr(), d)
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
	schedules.Stop()
	if err := httpSrv.Shutdown(dctx); err != nil {
		fmt.Fprintf(stderr, "ferry: drain: %v\n", err)
		status = 1
	}
	if err := d.Queue.Close(dctx); err != nil {
		fmt.Fprintf(stderr, "ferry: async queue: %v\n", err)
		status = 1
	}
	for _, f := range d.Functions {
		f.Close(context.Background())
	}
	fmt.Fprintln(stderr, "ferry: stopped")
	return status
}

// deployment is a loaded config.
type deployment struct {
	adapter.Deployment
	schedules []adapter.ScheduleTrigger
	sources   map[string]string // function name → Go source dir, for --watch
}

// deploy builds (source functions), compiles and warms every function of
// cfg and turns its triggers into routes and schedules.
func deploy(ctx context.Context, engine *adapter.Engine, cfg *config.File, format adapter.LogFormat, logs, stderr io.Writer) (*deployment, error) {
	d := &deployment{Deployment: adapter.Deployment{Functions: map[string]*adapter.Function{}}, sources: map[string]string{}}
	var errs []error
	for _, fc := range cfg.Functions {
		module := fc.Module
		if fc.Source != "" {
			fmt.Fprintf(stderr, "ferry: building %s from %s\n", fc.Name, fc.Source)
			var err error
			if module, err = gobuild.Cached(ctx, fc.Source); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: function %s: %w", cfg.Path, fc.Line, fc.Name, err))
				continue
			}
			d.sources[fc.Name] = fc.Source
		}
		f, err := engine.LoadFile(ctx, module, functionConfig(cfg, fc, format, logs))
		if err == nil && fc.MinInstances > 0 {
			err = f.Warm(ctx, fc.MinInstances)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: function %s: %w", cfg.Path, fc.Line, fc.Name, err))
			continue
		}
		d.Functions[fc.Name] = f
		for _, h := range fc.HTTP {
			rt := adapter.Route{Function: fc.Name, Path: h.Path, Methods: h.Methods, HTTP: events.HTTPRoute{
				Format: events.HTTPFormat(firstOf(h.Format, string(events.FormatHTTPAPI))), Stage: h.Stage,
				BinaryMediaTypes: h.BinaryMediaTypes, MultiValueHeaders: h.MultiValueHeaders,
			}}
			if c := h.CORS; c != nil {
				rt.CORS = &events.CORS{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
					ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials}
			}
			d.Routes = append(d.Routes, rt)
		}
		for _, s := range fc.Schedules {
			if s.Enabled {
				d.schedules = append(d.schedules, adapter.ScheduleTrigger{Function: f, Rule: s.Name, Schedule: s.Schedule, Input: s.Input})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, f := range d.Functions {
			f.Close(ctx)
		}
		return nil, err
	}
	return d, nil
}

// functionConfig turns a config file entry into the adapter's Config.
func functionConfig(cfg *config.File, fc config.Function, format adapter.LogFormat, logs io.Writer) adapter.Config {
	return adapter.Config{
		Name: fc.Name, Memory: fc.Memory, Timeout: fc.Timeout, Environment: fc.Environment,
		Concurrency: fc.Concurrency, IdleTimeout: fc.IdleTimeout, MinInstances: fc.MinInstances,
		SpareInstances: fc.SpareInstances, PrimeEvent: fc.PrimeEvent,
		Region: cfg.Region, AccountID: cfg.AccountID, LogFormat: format, LogSink: logs,
		Async: adapter.AsyncConfig{
			RetryDelays: fc.AsyncConfig.RetryDelays, MaxEventAge: fc.AsyncConfig.MaxEventAge,
			OnSuccess: adapter.Destination(fc.AsyncConfig.OnSuccess), OnFailure: adapter.Destination(fc.AsyncConfig.OnFailure),
		},
	}
}

// printRoutes lists what is served, the way sam local start-api does.
func printRoutes(w io.Writer, addr net.Addr, d *deployment) {
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
	for _, s := range d.schedules {
		fmt.Fprintf(w, "ferry: schedule %-12s %s\n", s.Function.Config().Name, s.Rule)
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

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
