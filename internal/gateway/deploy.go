package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/azurehost"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gobuild"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Gateway is a loaded config: its functions built, compiled and warmed,
// its triggers turned into what a Server serves (Deployment: routes,
// Azure apps' mounts, the async queue) and schedules. New makes one, Start
// sets its schedules and Azure hosts going, Close stops it.
type Gateway struct {
	Deployment
	// Schedules fire on Start; clear it beforehand to fire none here
	// (when a Kubernetes CronJob fires them once for all replicas).
	Schedules []ScheduleTrigger
	// Sources maps function names to the Go sources they were built from
	// (ferry serve --watch rebuilds them).
	Sources map[string]Source
	// Azure are the Azure Functions apps' hosts.
	Azure []*azurehost.Host

	opts      Options
	scheduler *Scheduler
	stopOnce  sync.Once
	sources   *eventSources
}

// Source is a Go handler a function was built from.
type Source struct {
	Dir   string
	Build []gobuild.Option // the build's settings
}

// Options configure New.
type Options struct {
	// NoTimers keeps Azure timer triggers from firing in this process
	// (ferry serve --schedules=false): they run through
	// POST /admin/functions/{name}.
	NoTimers bool
	// LogFormat and Log are the functions' log format and sink, also where
	// the queue, schedules and Azure hosts report failures.
	LogFormat adapter.LogFormat
	Log       io.Writer
	// Progress, when set, gets a line per step of loading: each function
	// built, compiled, and the total time to ready.
	Progress io.Writer
	// Loaded, when set, is called as functions finish loading, with what
	// can be served already (the functions loaded so far and their
	// routes, no queue or Azure apps yet) and the functions still pending
	// with their timeouts: Server.DeployLoading serves each function as
	// soon as it is ready. It is called first with nothing loaded.
	Loaded func(d Deployment, pending map[string]time.Duration)
	// Status, when set, is given a one-line summary of what is loading
	// whenever it changes, and "" when loading ends (ferry serve shows it
	// as a live line on a terminal).
	Status func(string)
	// Metrics, when set, registers the queue-depth gauges and the
	// schedule metrics.
	Metrics prometheus.Registerer
}

// New builds (source functions), compiles and warms every function of
// cfg on engine, turns its triggers into routes and schedules, and opens
// the async queue (loading what an earlier process spooled). Nothing fires
// until Start; serve d.Deployment with a Server.
func New(ctx context.Context, engine *adapter.Engine, cfg *config.File, opts Options) (*Gateway, error) {
	opts.Log = cmp.Or[io.Writer](opts.Log, io.Discard)
	opts.Progress = cmp.Or[io.Writer](opts.Progress, io.Discard)
	format, logs := opts.LogFormat, opts.Log
	d := &Gateway{Deployment: Deployment{Functions: map[string]*adapter.Function{}}, Sources: map[string]Source{}, opts: opts}
	// Build and compile in parallel, one function per core: a module's
	// link and a wazero compilation are each mostly one thread, so on a
	// small machine the win is overlapping them; the results are then
	// assembled in the config's order.
	prog := newProgress(opts.Progress, opts.Status, len(cfg.Functions)+len(cfg.AzureApps))
	fns := make([]loadedFunction, len(cfg.Functions))
	apps := make([]loadedAzure, len(cfg.AzureApps))
	partial := newPartial(cfg, opts.Loaded)
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, fc := range cfg.Functions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fns[i] = loadFunction(ctx, engine, cfg, fc, format, logs, prog)
			if fns[i].err == nil {
				fns[i].routes, fns[i].routeErrs = routes(cfg, fc)
				if len(fns[i].routeErrs) == 0 {
					partial.add(fc.Name, fns[i].f, fns[i].routes)
				}
			}
		})
	}
	for i, ac := range cfg.AzureApps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			apps[i] = loadAzure(ctx, engine, cfg, ac, opts.NoTimers, format, logs, prog)
		})
	}
	wg.Wait()
	var errs []error
	for i, fc := range cfg.Functions {
		l := fns[i]
		if l.err != nil {
			errs = append(errs, l.err)
			continue
		}
		f := l.f
		if l.source != "" {
			d.Sources[fc.Name] = Source{Dir: l.source, Build: fc.Build.Options()}
		}
		d.Functions[fc.Name] = f
		if len(l.routeErrs) > 0 {
			errs = append(errs, l.routeErrs...)
			continue
		}
		d.Routes = append(d.Routes, l.routes...)
		for _, s := range fc.Schedules {
			if s.Enabled {
				d.Schedules = append(d.Schedules, ScheduleTrigger{Function: f, Rule: s.Name, Schedule: s.Schedule, Input: s.Input})
			}
		}
	}
	for _, a := range apps {
		if err := d.addAzure(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	prog.finish()
	var err error
	if len(errs) == 0 {
		d.Queue, err = NewQueue(d.Functions, QueueOptions{
			Capacity:             cfg.Async.QueueSize,
			MaxQueuedPerFunction: cfg.Async.MaxQueued,
			SpoolDir:             cmp.Or(cfg.Async.SpoolDir, filepath.Join(filepath.Dir(adapter.DefaultCacheDir()), "spool")),
			Log:                  logs,
		})
		errs = append(errs, err)
	}
	if errors.Join(errs...) == nil {
		d.sources, err = newEventSources(cfg, d.Functions, opts.Metrics, logs)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		if d.Queue != nil {
			d.Queue.Close(ctx)
		}
		for _, f := range d.Functions {
			f.Close(ctx)
		}
		return nil, err
	}
	if reg := opts.Metrics; reg != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_async_queue_depth",
			Help: "Event invocations accepted and not finished (queued, running or waiting for a retry).",
		}, func() float64 { return float64(d.Queue.Depth()) }))
		if len(d.Azure) > 0 {
			reg.MustRegister(azureQueueDepth(d.Azure))
		}
	}
	return d, nil
}

// Start starts the Azure hosts (their queue triggers and, unless
// NoTimers, timers), fires d.Schedules into the queue and sets the event
// sources polling.
func (d *Gateway) Start() {
	for _, h := range d.Azure {
		h.Start()
	}
	var m *ScheduleMetrics
	if d.opts.Metrics != nil {
		m = NewScheduleMetrics(d.opts.Metrics)
	}
	d.scheduler = StartSchedules(d.Schedules, d.Queue, m, d.opts.Log)
	d.sources.start(d.opts.Log)
}

// EventSources is the number of queue and stream event sources Start sets
// polling.
func (d *Gateway) EventSources() int {
	if d.sources == nil {
		return 0
	}
	return len(d.sources.srcs)
}

// StopEventSources stops polling queues and waits, up to ctx's deadline,
// for the batches being invoked to finish and be acknowledged. Close calls
// it too; call it first when draining, so that batches finish while the
// functions are still open.
func (d *Gateway) StopEventSources(ctx context.Context) error {
	return d.sources.stop(ctx)
}

// StopSchedules stops firing schedules; events already queued run. Close
// calls it too; call it first when draining, before the HTTP server shuts
// down, so that no firing lands in a queue being closed.
func (d *Gateway) StopSchedules() {
	d.stopOnce.Do(func() {
		if d.scheduler != nil {
			d.scheduler.Stop()
		}
	})
}

// Close stops the schedules, closes the queue (events still held go to
// the spool), the Azure hosts and the functions, waiting for what runs up
// to ctx's deadline.
func (d *Gateway) Close(ctx context.Context) error {
	d.StopSchedules()
	var errs []error
	errs = append(errs, d.StopEventSources(ctx))
	if err := d.Queue.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("async queue: %w", err))
	}
	for _, h := range d.Azure {
		errs = append(errs, h.Close(ctx))
	}
	for _, f := range d.Functions {
		f.Close(context.Background())
	}
	return errors.Join(errs...)
}

// routes are fc's HTTP triggers, with their JWT authorizers; errs are
// the authorizers that could not be made.
func routes(cfg *config.File, fc config.Function) (rts []Route, errs []error) {
	for _, h := range fc.HTTP {
		rt := Route{Function: fc.Name, Path: h.Path, Methods: h.Methods, HTTP: events.HTTPRoute{
			Format: cmp.Or(h.Format, events.FormatHTTPAPI), Stage: h.Stage,
			BinaryMediaTypes: h.BinaryMediaTypes, MultiValueHeaders: h.MultiValueHeaders,
		}, CORS: h.CORS, APIKeyRequired: h.APIKeyRequired}
		if a := h.JWT; a != nil {
			var err error
			if rt.JWT, err = NewJWTAuthorizer(a.Issuer, a.Audience, a.Scopes, a.JWKSURI, a.JWKSFile); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: function %s: route %s: authorizer: %w", cfg.Path, h.Line, fc.Name, h.Path, err))
				continue
			}
		}
		rts = append(rts, rt)
	}
	return rts, errs
}

// partial tells Options.Loaded what can be served while New loads: the
// functions ready so far with their routes, and those still pending.
type partial struct {
	mu      sync.Mutex
	loaded  func(Deployment, map[string]time.Duration)
	d       Deployment
	pending map[string]time.Duration
}

// azureLoadWait is how long a request for an Azure app's route waits for
// the app to load before a 503 (its functions' timeouts are known only
// once the app is read).
const azureLoadWait = 30 * time.Second

func newPartial(cfg *config.File, loaded func(Deployment, map[string]time.Duration)) *partial {
	p := &partial{loaded: loaded, d: Deployment{Functions: map[string]*adapter.Function{}}, pending: map[string]time.Duration{}}
	for _, fc := range cfg.Functions {
		p.pending[fc.Name] = cmp.Or(fc.Timeout, lambdaspec.DefaultTimeout)
	}
	for _, ac := range cfg.AzureApps {
		p.pending["azure app "+ac.Path] = azureLoadWait // routes under /api wait for it
	}
	if loaded != nil {
		loaded(p.snapshot(), maps.Clone(p.pending))
	}
	return p
}

// add serves f as soon as it is loaded.
func (p *partial) add(name string, f *adapter.Function, routes []Route) {
	if p.loaded == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.d.Functions[name] = f
	p.d.Routes = append(p.d.Routes, routes...)
	delete(p.pending, name)
	p.loaded(p.snapshot(), maps.Clone(p.pending))
}

// snapshot copies the partial deployment: the Server reads it while
// more functions are added.
func (p *partial) snapshot() Deployment {
	return Deployment{Functions: maps.Clone(p.d.Functions), Routes: slices.Clone(p.d.Routes)}
}

// loadedFunction is a function of the config, built, compiled and warmed.
type loadedFunction struct {
	f         *adapter.Function
	source    string // the Go source directory it was built from, if any
	err       error
	routes    []Route // its HTTP triggers
	routeErrs []error // authorizers that could not be made
}

// loadFunction builds (a source function), compiles and warms fc.
func loadFunction(ctx context.Context, engine *adapter.Engine, cfg *config.File, fc config.Function, format adapter.LogFormat, logs io.Writer, prog *progress) loadedFunction {
	fail := func(err error) loadedFunction {
		prog.done(fc.Name)
		return loadedFunction{err: fmt.Errorf("%s:%d: function %s: %w", cfg.Path, fc.Line, fc.Name, err)}
	}
	module := fc.Module
	if fc.Source != "" {
		var err error
		if module, err = prog.build(ctx, fc.Name, fc.Source, fc.Build.Options()...); err != nil {
			return fail(err)
		}
	}
	f, err := prog.load(fc.Name, func() (*adapter.Function, error) {
		return engine.LoadFile(ctx, module, functionConfig(cfg, fc, format, logs))
	})
	if err == nil && fc.MinInstances > 0 {
		if err = f.Warm(ctx, fc.MinInstances); err != nil {
			f.Close(ctx)
		}
	}
	if err != nil {
		return fail(err)
	}
	prog.done(fc.Name)
	return loadedFunction{f: f, source: fc.Source}
}

// loadedAzure is an Azure Functions app's custom handler, built and
// compiled, and its host.
type loadedAzure struct {
	where, source string
	build         []gobuild.Option
	f             *adapter.Function
	host          *azurehost.Host
	err           error
}

// loadAzure loads an Azure Functions app folder, builds its custom
// handler and makes its host (not started).
func loadAzure(ctx context.Context, engine *adapter.Engine, cfg *config.File, ac config.AzureApp, noTimers bool, format adapter.LogFormat, logs io.Writer, prog *progress) (l loadedAzure) {
	l.where = ac.Path
	if ac.Line > 0 {
		l.where = fmt.Sprintf("%s:%d: azure app %s", cfg.Path, ac.Line, ac.Path)
	}
	getenv := func(k string) string {
		if v, ok := ac.Environment[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	app, err := azure.Load(ac.Path, getenv)
	if err != nil {
		l.err = err
		return l
	}
	fc := azurehost.FunctionConfig(app, ac.Environment)
	defer prog.done(fc.Name)
	fc.Memory, fc.Concurrency, fc.AllowedOutboundHosts = ac.Memory, ac.Concurrency, ac.AllowedOutboundHosts
	fc.Region, fc.AccountID, fc.LogFormat, fc.LogSink = cfg.Region, cfg.AccountID, format, functionLog(logs, fc.Name, format)
	module := ac.Module
	if module == "" {
		l.build = ac.Build.Options()
		if module, err = prog.build(ctx, fc.Name, app.Dir, l.build...); err != nil {
			l.err = fmt.Errorf("%s: %w", l.where, err)
			return l
		}
		l.source = app.Dir
	}
	f, err := prog.load(fc.Name, func() (*adapter.Function, error) { return engine.LoadFile(ctx, module, fc) })
	if err != nil {
		l.err = fmt.Errorf("%s: %w", l.where, err)
		return l
	}
	state := cmp.Or(ac.StateDir, filepath.Join(filepath.Dir(adapter.DefaultCacheDir()), "azure", fc.Name))
	h, err := azurehost.NewHost(app, f, azurehost.Options{StateDir: state, Log: logs, Keys: azurehost.KeysFromEnv(getenv, app), NoTimers: noTimers})
	if err != nil {
		f.Close(ctx)
		l.err = fmt.Errorf("%s: %w", l.where, err)
		return l
	}
	l.f, l.host = f, h
	return l
}

// addAzure adds a loaded Azure app's function, routes and triggers to d.
func (d *Gateway) addAzure(ctx context.Context, l loadedAzure) error {
	if l.err != nil {
		return l.err
	}
	name := l.f.Config().Name
	if _, taken := d.Functions[name]; taken {
		l.host.Close(ctx)
		l.f.Close(ctx)
		return fmt.Errorf("%s: the app's name %s is already a function's name", l.where, name)
	}
	if l.source != "" {
		d.Sources[name] = Source{Dir: l.source, Build: l.build}
	}
	d.Functions[name] = l.f
	if d.MountOnly == nil {
		d.MountOnly = map[string]bool{}
	}
	d.MountOnly[name] = true // Azure's routes and keys only
	d.Mounts = append(d.Mounts, l.host.Mount())
	d.Azure = append(d.Azure, l.host)
	return nil
}

// AzureTimers counts the timer-triggered functions of the Azure apps.
func (d *Gateway) AzureTimers() int {
	hosts := d.Azure
	n := 0
	for _, h := range hosts {
		for _, f := range h.App().Functions {
			if f.Trigger.Type == azure.TimerTrigger {
				n++
			}
		}
	}
	return n
}

// azureQueueDepth is ferry_azure_queue_messages: the messages on each
// queue of each Azure app, visible or not.
func azureQueueDepth(hosts []*azurehost.Host) prometheus.Collector {
	desc := prometheus.NewDesc("ferry_azure_queue_messages", "Messages on an Azure app's queue, visible or not (poison queues included).", []string{"app", "queue"}, nil)
	return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		for _, h := range hosts {
			for _, q := range h.Queues().Names() {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(len(h.Queues().Peek(q))), h.App().Name, q)
			}
		}
	}}
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// functionConfig turns a config file entry into the engine's Config.
func functionConfig(cfg *config.File, fc config.Function, format adapter.LogFormat, logs io.Writer) adapter.Config {
	return adapter.Config{
		Name: fc.Name, Memory: fc.Memory, Timeout: fc.Timeout, Environment: fc.Environment,
		Concurrency: fc.Concurrency, IdleTimeout: fc.IdleTimeout, MinInstances: fc.MinInstances,
		SpareInstances: fc.SpareInstances, PrimeEvent: fc.PrimeEvent,
		Region: cfg.Region, AccountID: cfg.AccountID, LogFormat: format, LogSink: functionLog(logs, fc.Name, format),
		AllowedOutboundHosts: fc.AllowedOutboundHosts, Files: fc.Files, EphemeralStorage: fc.EphemeralStorage,
		Async: adapter.AsyncConfig{
			RetryDelays: fc.AsyncConfig.RetryDelays, MaxEventAge: fc.AsyncConfig.MaxEventAge,
			OnSuccess: fc.AsyncConfig.OnSuccess, OnFailure: fc.AsyncConfig.OnFailure,
		},
	}
}
