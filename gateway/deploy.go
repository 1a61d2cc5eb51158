package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/azure/azurehost"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gobuild"
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
	// Sources maps function names to the Go source directories they were
	// built from (ferry serve --watch rebuilds them).
	Sources map[string]string
	// Azure are the Azure Functions apps' hosts.
	Azure []*azurehost.Host

	opts      Options
	scheduler *Scheduler
	stopOnce  sync.Once
	sources   *eventSources
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
	// Progress, when set, is told what is being built.
	Progress io.Writer
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
	format, logs, stderr := opts.LogFormat, opts.Log, opts.Progress
	d := &Gateway{Deployment: Deployment{Functions: map[string]*adapter.Function{}}, Sources: map[string]string{}, opts: opts}
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
			d.Sources[fc.Name] = fc.Source
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
			rt := Route{Function: fc.Name, Path: h.Path, Methods: h.Methods, HTTP: events.HTTPRoute{
				Format: cmp.Or(h.Format, events.FormatHTTPAPI), Stage: h.Stage,
				BinaryMediaTypes: h.BinaryMediaTypes, MultiValueHeaders: h.MultiValueHeaders,
			}, CORS: h.CORS, APIKeyRequired: h.APIKeyRequired}
			if a := h.JWT; a != nil {
				if rt.JWT, err = NewJWTAuthorizer(a.Issuer, a.Audience, a.Scopes, a.JWKSURI, a.JWKSFile); err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: function %s: route %s: authorizer: %w", cfg.Path, h.Line, fc.Name, h.Path, err))
					continue
				}
			}
			d.Routes = append(d.Routes, rt)
		}
		for _, s := range fc.Schedules {
			if s.Enabled {
				d.Schedules = append(d.Schedules, ScheduleTrigger{Function: f, Rule: s.Name, Schedule: s.Schedule, Input: s.Input})
			}
		}
	}
	for _, ac := range cfg.AzureApps {
		if err := deployAzure(ctx, engine, cfg, ac, d, opts.NoTimers, format, logs, stderr); err != nil {
			errs = append(errs, err)
		}
	}
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

// deployAzure loads an Azure Functions app folder, builds its custom
// handler and adds its routes and triggers to d.
func deployAzure(ctx context.Context, engine *adapter.Engine, cfg *config.File, ac config.AzureApp, d *Gateway, noTimers bool, format adapter.LogFormat, logs, stderr io.Writer) error {
	where := ac.Path
	if ac.Line > 0 {
		where = fmt.Sprintf("%s:%d: azure app %s", cfg.Path, ac.Line, ac.Path)
	}
	getenv := func(k string) string {
		if v, ok := ac.Environment[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	app, err := azure.Load(ac.Path, getenv)
	if err != nil {
		return err
	}
	fc := azurehost.FunctionConfig(app, ac.Environment)
	if _, taken := d.Functions[fc.Name]; taken {
		return fmt.Errorf("%s: the app's name %s is already a function's name", where, fc.Name)
	}
	fc.Memory, fc.Concurrency, fc.AllowedOutboundHosts = ac.Memory, ac.Concurrency, ac.AllowedOutboundHosts
	fc.Region, fc.AccountID, fc.LogFormat, fc.LogSink = cfg.Region, cfg.AccountID, format, logs
	module := ac.Module
	if module == "" {
		fmt.Fprintf(stderr, "ferry: building Azure app %s from %s\n", app.Name, app.Dir)
		if module, err = gobuild.Cached(ctx, app.Dir); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		d.Sources[fc.Name] = app.Dir
	}
	f, err := engine.LoadFile(ctx, module, fc)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	state := cmp.Or(ac.StateDir, filepath.Join(filepath.Dir(adapter.DefaultCacheDir()), "azure", fc.Name))
	h, err := azurehost.NewHost(app, f, azurehost.Options{StateDir: state, Log: logs, Keys: azurehost.KeysFromEnv(getenv, app), NoTimers: noTimers})
	if err != nil {
		f.Close(ctx)
		return fmt.Errorf("%s: %w", where, err)
	}
	d.Functions[fc.Name] = f
	if d.MountOnly == nil {
		d.MountOnly = map[string]bool{}
	}
	d.MountOnly[fc.Name] = true // Azure's routes and keys only
	d.Mounts = append(d.Mounts, h.Mount())
	d.Azure = append(d.Azure, h)
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
		Region: cfg.Region, AccountID: cfg.AccountID, LogFormat: format, LogSink: logs,
		AllowedOutboundHosts: fc.AllowedOutboundHosts, Files: fc.Files, EphemeralStorage: fc.EphemeralStorage,
		Async: adapter.AsyncConfig{
			RetryDelays: fc.AsyncConfig.RetryDelays, MaxEventAge: fc.AsyncConfig.MaxEventAge,
			OnSuccess: fc.AsyncConfig.OnSuccess, OnFailure: fc.AsyncConfig.OnFailure,
		},
	}
}
