package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/image"
	"github.com/ferrywasm/ferry/internal/k8s"
)

// runK8s runs `ferry k8s`: the app's Kubernetes manifests, on stdout or
// one file per object in a folder.
func runK8s(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry k8s", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file                  = fs.String("f", "ferry.yaml", "config file")
		out                   = fs.String("o", "", "write one file per object into this folder instead of printing them")
		name                  = fs.String("name", "", "app name (default: kubernetes.name, else the config's folder name)")
		namespace             = fs.String("namespace", "", "namespace (default: kubernetes.namespace, else kubectl's)")
		img                   = fs.String("image", "", "container image (default: kubernetes.image, else NAME:latest)")
		keda                  = fs.Bool("keda", false, "a KEDA ScaledObject (Prometheus trigger on in-flight invocations) instead of the HorizontalPodAutoscaler")
		controlFrom, httpFrom multiFlag
	)
	fs.Var(&controlFrom, "control-from", "NAMESPACE[/key=value,...]: pods the NetworkPolicy lets call the Lambda API, Azure admin routes and /metrics (repeatable; the app's CronJobs always may)")
	fs.Var(&httpFrom, "http-from", "NAMESPACE[/key=value,...]: pods the NetworkPolicy lets call the HTTP routes (repeatable; default: anyone)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry k8s -f ferry.yaml [-o DIR] [flags] | kubectl apply -f -\n\nWrites the app's ConfigMap, Deployment, Service, HorizontalPodAutoscaler (or KEDA\nScaledObject) and a CronJob per schedule, for the image ferry image builds.")
		fs.PrintDefaults()
	}
	if pos, err := parseArgs(fs, args); err != nil {
		return flagStatus(err)
	} else if len(pos) > 0 {
		return fail(stderr, "k8s", fmt.Errorf("unexpected argument %q (the config is given with -f)", pos[0]))
	}
	cfg, err := config.LoadTemplate(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	opts := k8s.Options{Config: cfg, Name: *name, Namespace: *namespace, Image: *img, KEDA: *keda, Version: version}
	for _, v := range controlFrom {
		p, err := k8s.ParsePeer(v)
		if err != nil {
			return fail(stderr, "k8s", fmt.Errorf("--control-from %w", err))
		}
		opts.ControlFrom = append(opts.ControlFrom, p)
	}
	for _, v := range httpFrom {
		p, err := k8s.ParsePeer(v)
		if err != nil {
			return fail(stderr, "k8s", fmt.Errorf("--http-from %w", err))
		}
		opts.HTTPFrom = append(opts.HTTPFrom, p)
	}
	objs, err := k8s.Generate(opts)
	if err != nil {
		return fail(stderr, "k8s", err)
	}
	if *out == "" {
		b, err := k8s.YAML(objs)
		if err != nil {
			return fail(stderr, "k8s", err)
		}
		stdout.Write(b)
		return 0
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail(stderr, "k8s", err)
	}
	for i, o := range objs {
		b, err := k8s.Marshal(o)
		if err != nil {
			return fail(stderr, "k8s", err)
		}
		p := filepath.Join(*out, fmt.Sprintf("%02d-%s-%s.yaml", i+1, strings.ToLower(o.Kind), o.Name))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fail(stderr, "k8s", err)
		}
		fmt.Fprintln(stdout, p)
	}
	return 0
}

// runFireSchedule runs `ferry fire-schedule RULE`: it sends the schedule's
// event (its input, else EventBridge's Scheduled Event) to a ferry's
// Invoke API as an Event invocation. A schedule's CronJob runs it, so
// that one replica, not each, runs every tick.
func runFireSchedule(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry fire-schedule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file    = fs.String("f", "ferry.yaml", "config file")
		base    = fs.String("url", "http://localhost:8080", "the ferry serve to invoke")
		timeout = fs.Duration("timeout", 30*time.Second, "how long to wait for ferry's answer")
		azApp   = fs.String("azure-app", "", "fire FUNCTION of this Azure app (its folder's name) through POST /admin/functions/FUNCTION")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry fire-schedule [-f ferry.yaml] [--url URL] RULE\n       ferry fire-schedule [-f ferry.yaml] [--url URL] --azure-app APP FUNCTION\n\nQueues one firing of the schedule named RULE on the ferry at URL (an Event invocation),\nor runs the Azure app's timer FUNCTION there through the Functions host's admin API\n(POST /admin/functions/FUNCTION, with the master key $FERRY_AZURE_MASTER_KEY or the app's).\nExit status 0 when ferry accepted it (202), 1 when it refused, 2 on bad input.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	cfg, err := config.LoadTemplate(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(stderr, "fire-schedule", fmt.Errorf("--url %q is not an http:// URL", *base))
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *azApp != "" {
		return fireAzure(ctx, cfg, *azApp, pos[0], strings.TrimSuffix(*base, "/"), stdout, stderr)
	}
	fn, payload, err := schedulePayload(cfg, pos[0], time.Now())
	if err != nil {
		return fail(stderr, "fire-schedule", err)
	}
	target := strings.TrimSuffix(*base, "/") + "/2015-03-31/functions/" + url.PathEscape(fn) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return fail(stderr, "fire-schedule", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	// With keys (the CronJob's, from the app's Secret) the call is signed
	// as an SDK signs it: the Lambda API requires it then.
	if id, secret := os.Getenv("FERRY_AWS_ACCESS_KEY_ID"), os.Getenv("FERRY_AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		sum := sha256.Sum256(payload)
		creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", cfg.Region, time.Now()); err != nil {
			return fail(stderr, "fire-schedule", err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "ferry fire-schedule: %s: %v\n", pos[0], err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintf(stderr, "ferry fire-schedule: %s: %s answered %s: %s\n", pos[0], target, resp.Status, bytes.TrimSpace(body))
		return 1
	}
	fmt.Fprintf(stdout, "%s: queued %s (request %s)\n", pos[0], fn, resp.Header.Get("X-Amzn-Requestid"))
	return 0
}

// fireAzure runs the timer function of the Azure app named app through
// base's POST /admin/functions/{function}, as the Functions host runs a
// non-HTTP function on demand: {"input":""}, answered 202.
func fireAzure(ctx context.Context, cfg *config.File, app, function, base string, stdout, stderr io.Writer) int {
	var names []string
	var ac *config.AzureApp
	for i, a := range cfg.AzureApps {
		names = append(names, image.AzureAppName(a))
		if image.AzureAppName(a) == app {
			ac = &cfg.AzureApps[i]
		}
	}
	if ac == nil {
		if len(names) == 0 {
			return fail(stderr, "fire-schedule", fmt.Errorf("%s declares no Azure apps", cfg.Path))
		}
		return fail(stderr, "fire-schedule", fmt.Errorf("%s has no Azure app %q (it has %s)", cfg.Path, app, strings.Join(names, ", ")))
	}
	timers, err := k8s.AzureTimers(cfg, *ac)
	if err != nil {
		return fail(stderr, "fire-schedule", err)
	}
	var have []string
	found := false
	for _, t := range timers {
		have = append(have, t.Function)
		found = found || strings.EqualFold(t.Function, function)
	}
	if !found {
		//lint:ignore ST1005 "Azure" is a proper noun
		return fail(stderr, "fire-schedule", fmt.Errorf("Azure app %s has no timer function %q (it has %s)", app, function, cmp.Or(strings.Join(have, ", "), "none")))
	}
	key := os.Getenv("FERRY_AZURE_MASTER_KEY")
	if v, ok := ac.Environment["FERRY_AZURE_MASTER_KEY"]; ok {
		if key, err = config.Expand(v); err != nil {
			return fail(stderr, "fire-schedule", fmt.Errorf("%s:%d: azure app %s: FERRY_AZURE_MASTER_KEY: %v", cfg.Path, ac.Line, app, err))
		}
	}
	target := base + "/admin/functions/" + url.PathEscape(function)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(`{"input":""}`))
	if err != nil {
		return fail(stderr, "fire-schedule", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Functions-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "ferry fire-schedule: %s/%s: %v\n", app, function, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintf(stderr, "ferry fire-schedule: %s/%s: %s answered %s: %s\n", app, function, target, resp.Status, bytes.TrimSpace(body))
		return 1
	}
	fmt.Fprintf(stdout, "%s/%s: accepted\n", app, function)
	return 0
}

// schedulePayload finds the schedule named rule and returns its function
// and the event a firing at now sends: its input, else the Scheduled
// Event, timed at the minute of the firing as EventBridge times it.
func schedulePayload(cfg *config.File, rule string, now time.Time) (string, []byte, error) {
	var names []string
	for _, fn := range cfg.Functions {
		for _, s := range fn.Schedules {
			if s.Name != rule {
				names = append(names, s.Name)
				continue
			}
			if s.Input != nil {
				return fn.Name, s.Input, nil
			}
			account := cmp.Or(cfg.AccountID, "123456789012") // the adapter's default
			payload, err := events.ScheduledEvent(s.Name, cfg.Region, account, now.UTC().Truncate(time.Minute))
			return fn.Name, payload, err
		}
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("%s declares no schedules", cfg.Path)
	}
	return "", nil, fmt.Errorf("%s has no schedule named %q (it has %s)", cfg.Path, rule, strings.Join(names, ", "))
}

// runProbe runs `ferry probe URL`: exit 0 when URL answers 200. It is an
// exec probe for images without curl, where ferry listens on the pod's
// loopback only (the sidecar example) and kubelet's httpGet cannot reach it.
func runProbe(args []string, stderr io.Writer) int {
	if isHelp(args) {
		fmt.Fprintln(stderr, "Usage: ferry probe URL\n\nExits 0 if URL answers 200, 1 otherwise: an exec probe for images without curl.")
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintln(stderr, "Usage: ferry probe URL")
		return 2
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "ferry probe: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ferry probe: %s: %s\n", args[0], resp.Status)
		return 1
	}
	return 0
}
