package main

// The soak: a real `ferry serve` on the samples, driven by a fixed number
// of concurrent connections of mixed traffic for a fixed time, sampled at
// start, every interval and at the end:
//
//	go run ./bench soak [-d 10m] [-c 64] [-every 1m] [-o soak.json]
//
// It answers one question: does ferry reach a steady state under
// sustained load (RSS, Go heap, goroutines, open files, each function's
// instance memory), or does something grow until it fails? The Invoke API
// calls are SigV4-signed by aws-sdk-go-v2's Lambda client against access
// keys given to ferry in FERRY_ACCESS_KEYS, as a deployment with
// credentials runs. Traffic goes to loopback only and stops by itself at
// the duration or at -n requests, whichever comes first.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// soakTarget is one kind of request in the mix.
type soakTarget struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"` // requests of this kind per round of the mix
}

// The mix: HTTP routes of each payload format, and the Invoke API both
// ways. Event calls are fewer: each is queued and run later, and a flood
// of them would measure the queue's limit rather than steady serving.
var soakMix = []soakTarget{
	{"http-api GET /http-api/items/{id}", 4},
	{"function-url GET /url/items/{id}", 2},
	{"rest GET /apigw-rest/items/{id}", 3},
	{"invoke RequestResponse hello", 2},
	{"invoke Event hello", 1},
}

// SoakSample is ferry's state at one moment, and the traffic since the
// previous sample.
type SoakSample struct {
	At         string             `json:"at"` // since the load started
	RSSBytes   int64              `json:"rssBytes"`
	HeapInuse  float64            `json:"goHeapInuseBytes"`
	Goroutines float64            `json:"goroutines"`
	OpenFDs    int                `json:"openFDs"`
	Instances  map[string]float64 `json:"instances"`          // live, by function
	MemoryLast map[string]float64 `json:"instanceMemoryLast"` // ferry_instance_memory_bytes
	MemoryPeak map[string]float64 `json:"instanceMemoryPeak"` // ferry_instance_memory_peak_bytes
	Outcomes   map[string]float64 `json:"invocations"`        // ferry_invocations_total by outcome, cumulative
	Requests   int64              `json:"requests"`           // sent in the interval
	Errors     map[string]int64   `json:"errors"`             // in the interval, by kind
	P50        string             `json:"p50"`
	P99        string             `json:"p99"`
}

// SoakReport is what soak writes as JSON.
type SoakReport struct {
	Machine  map[string]string `json:"machine"`
	Command  string            `json:"command"`
	Started  time.Time         `json:"started"`
	Duration string            `json:"duration"`
	Conns    int               `json:"connections"`
	Mix      []soakTarget      `json:"mix"`
	Samples  []SoakSample      `json:"samples"`
	Total    SoakSample        `json:"total"` // traffic over the whole run
}

// soakStats collects one interval's traffic; take swaps it for a new one.
type soakStats struct {
	mu       sync.Mutex
	requests int64
	errors   map[string]int64
	lat      []time.Duration
}

func newSoakStats() *soakStats { return &soakStats{errors: map[string]int64{}} }

func (s *soakStats) add(d time.Duration, errKind string) {
	s.mu.Lock()
	s.requests++
	if errKind != "" {
		s.errors[errKind]++
	} else {
		s.lat = append(s.lat, d)
	}
	s.mu.Unlock()
}

func soak(args []string) {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	d := fs.Duration("d", 10*time.Minute, "how long to drive the load")
	conns := fs.Int("c", 64, "concurrent connections")
	every := fs.Duration("every", time.Minute, "sample ferry this often")
	maxReq := fs.Int64("n", 50_000_000, "stop after this many requests even if -d has not passed")
	out := fs.String("o", "soak.json", "write the samples here as JSON")
	fs.Parse(args)

	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("", "ferry-soak")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	ferry := filepath.Join(dir, "ferry")
	fmt.Fprintln(os.Stderr, "soak: building ferry")
	if out, err := exec.Command("go", "build", "-o", ferry, filepath.Join(root, "cmd", "ferry")).CombinedOutput(); err != nil {
		fail(fmt.Errorf("building ferry: %v\n%s", err, out))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	addr := l.Addr().String()
	l.Close()
	const keyID, secret = "AKIDSOAK", "soak-secret-access-key"
	// Bounded even if this process dies without its deferred calls: the
	// context kills ferry past the run's length plus building time.
	ctx, cancel := context.WithTimeout(context.Background(), *d+30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferry, "serve", "-f", filepath.Join(root, "samples", "ferry.yaml"), "--addr", addr, "--no-access-log")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FERRY_ACCESS_KEYS="+keyID+":"+secret, "FERRY_CACHE_DIR="+filepath.Join(dir, "cache"))
	logFile, err := os.Create(filepath.Join(dir, "ferry.log"))
	if err != nil {
		fail(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	defer stop()
	base := "http://" + addr
	fmt.Fprintln(os.Stderr, "soak: ferry serve on", base, "(building the samples)")
	if err := waitReady(ctx, base, 15*time.Minute); err != nil {
		stop()
		log, _ := os.ReadFile(logFile.Name())
		fail(fmt.Errorf("%v\n%s", err, log))
	}

	transport := &http.Transport{MaxIdleConns: *conns * 2, MaxIdleConnsPerHost: *conns * 2, MaxConnsPerHost: *conns}
	httpClient := &http.Client{Transport: transport, Timeout: time.Minute}
	lambdaClient := lambda.New(lambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(base), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:  httpClient,
	})
	// Every route answers before the load starts, so a sample of errors
	// means the load caused them, not a route missing from the samples.
	for i, t := range soakMix {
		if kind := soakRequest(ctx, httpClient, lambdaClient, base, t, i); kind != "" {
			stop()
			fail(fmt.Errorf("%s before the load: %s", t.Name, kind))
		}
	}

	rep := &SoakReport{
		Machine: machine(), Command: "go run ./bench soak " + strings.Join(args, " "),
		Started: time.Now().UTC(), Conns: *conns, Mix: soakMix,
	}
	pid := cmd.Process.Pid
	var all []time.Duration
	total := SoakSample{Errors: map[string]int64{}}
	cur := newSoakStats()
	var curMu sync.Mutex
	start := time.Now()
	sample := func(s *soakStats) {
		smp := sampleFerry(httpClient, base, pid)
		smp.At = time.Since(start).Round(time.Second).String()
		if s != nil {
			slices.Sort(s.lat)
			smp.Requests, smp.Errors = s.requests, s.errors
			smp.P50, smp.P99 = pct(s.lat, 50), pct(s.lat, 99)
			all = append(all, s.lat...)
			total.Requests += s.requests
			for k, v := range s.errors {
				total.Errors[k] += v
			}
		}
		rep.Samples = append(rep.Samples, smp)
		fmt.Fprintf(os.Stderr, "soak: %s rss %s heap %s goroutines %.0f fds %d requests %d errors %v p50 %s p99 %s\n",
			smp.At, mb(float64(smp.RSSBytes)), mb(smp.HeapInuse), smp.Goroutines, smp.OpenFDs, smp.Requests, smp.Errors, smp.P50, smp.P99)
	}
	sample(nil)

	loadCtx, loadCancel := context.WithTimeout(ctx, *d)
	defer loadCancel()
	var sent atomic.Int64
	var round []soakTarget
	for _, t := range soakMix {
		for range t.Weight {
			round = append(round, t)
		}
	}
	var wg sync.WaitGroup
	for w := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; loadCtx.Err() == nil && sent.Add(1) <= *maxReq; i++ {
				t := round[i%len(round)]
				t0 := time.Now()
				kind := soakRequest(loadCtx, httpClient, lambdaClient, base, t, i)
				if loadCtx.Err() != nil && kind != "" {
					return // cut off by the end of the run: not an error of ferry's
				}
				if kind != "" {
					kind = strings.Fields(t.Name)[0] + ":" + kind
					if t.Name == "invoke Event hello" {
						kind = "event:" + strings.TrimPrefix(kind, "invoke:")
					}
				}
				curMu.Lock()
				s := cur
				curMu.Unlock()
				s.add(time.Since(t0), kind)
			}
		}()
	}
	tick := time.NewTicker(*every)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-tick.C:
			curMu.Lock()
			s := cur
			cur = newSoakStats()
			curMu.Unlock()
			s.mu.Lock() // in-flight adds to s finish before it is read
			sample(s)
			s.mu.Unlock()
		case <-done:
			break loop
		}
	}
	sample(cur)
	// Once the client lets go of its keep-alive connections, what ferry
	// still holds is its own: leaked goroutines and sockets show here.
	transport.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	sample(newSoakStats())
	rep.Duration = time.Since(start).Round(time.Second).String()
	slices.Sort(all)
	total.At, total.P50, total.P99 = rep.Duration, pct(all, 50), pct(all, 99)
	rep.Total = total
	stop()

	printSoak(os.Stdout, rep)
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "soak: wrote %s\n", *out)
}

func waitReady(ctx context.Context, base string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		if resp, err := client.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("ferry serve was not ready within %s", limit)
}

// soakRequest sends one request of kind t and returns "" on success or
// the kind of error: "transport", "http-<status>", "function-error",
// "throttled", or the Lambda API's error code.
func soakRequest(ctx context.Context, hc *http.Client, lc *lambda.Client, base string, t soakTarget, i int) string {
	id := strconv.Itoa(i % 1000)
	var url string
	switch {
	case strings.HasPrefix(t.Name, "http-api"):
		url = base + "/http-api/items/" + id
	case strings.HasPrefix(t.Name, "function-url"):
		url = base + "/url/items/" + id
	case strings.HasPrefix(t.Name, "rest"):
		url = base + "/apigw-rest/items/" + id
	case t.Name == "invoke RequestResponse hello":
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"soak` + id + `"`)})
		if err != nil {
			return lambdaErrKind(err)
		}
		if out.FunctionError != nil {
			return "function-error"
		}
		return ""
	case t.Name == "invoke Event hello":
		_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`"event` + id + `"`)})
		if err != nil {
			return lambdaErrKind(err)
		}
		return ""
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "transport"
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "transport"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "http-" + strconv.Itoa(resp.StatusCode)
	}
	return ""
}

func lambdaErrKind(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return "lambda-" + ae.ErrorCode()
	}
	return "transport"
}

// sampleFerry reads ferry's process state from /proc and its /metrics.
func sampleFerry(hc *http.Client, base string, pid int) SoakSample {
	s := SoakSample{
		Instances: map[string]float64{}, MemoryLast: map[string]float64{},
		MemoryPeak: map[string]float64{}, Outcomes: map[string]float64{},
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				s.RSSBytes = kb << 10
			}
		}
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.OpenFDs = len(fds)
	}
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, v, ok := promLine(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			s.HeapInuse = v
		case "go_goroutines":
			s.Goroutines = v
		case "ferry_instances":
			s.Instances[labels["function"]] += v
		case "ferry_instance_memory_bytes":
			s.MemoryLast[labels["function"]] = v
		case "ferry_instance_memory_peak_bytes":
			s.MemoryPeak[labels["function"]] = v
		case "ferry_invocations_total":
			s.Outcomes[labels["outcome"]] += v
		}
	}
	return s
}

// promLine parses one sample line of Prometheus's text format; label
// values here never hold commas or quotes (function names, outcomes).
func promLine(line string) (name string, labels map[string]string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", nil, 0, false
	}
	name = line[:sp]
	labels = map[string]string{}
	if i := strings.IndexByte(name, '{'); i >= 0 {
		for _, kv := range strings.Split(strings.TrimSuffix(name[i+1:], "}"), ",") {
			if k, val, found := strings.Cut(kv, "="); found {
				labels[k] = strings.Trim(val, `"`)
			}
		}
		name = name[:i]
	}
	return name, labels, v, true
}

func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	return sorted[(len(sorted)-1)*p/100].Round(10 * time.Microsecond).String()
}

func mb(b float64) string { return fmt.Sprintf("%.1f MB", b/(1<<20)) }

func printSoak(w io.Writer, rep *SoakReport) {
	fmt.Fprintf(w, "soak: %d connections for %s, %s\n\n", rep.Conns, rep.Duration, rep.Command)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "at\tRSS\tGo heap\tgoroutines\tFDs\tinstances\thttp-api mem (last/peak)\thello mem (last/peak)\trequests\terrors\tOOM invocations\tp50\tp99")
	for _, s := range rep.Samples {
		var inst float64
		for _, v := range s.Instances {
			inst += v
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%d\t%.0f\t%s / %s\t%s / %s\t%d\t%s\t%.0f\t%s\t%s\n", s.At,
			mb(float64(s.RSSBytes)), mb(s.HeapInuse), s.Goroutines, s.OpenFDs, inst,
			mb(s.MemoryLast["http-api"]), mb(s.MemoryPeak["http-api"]),
			mb(s.MemoryLast["hello"]), mb(s.MemoryPeak["hello"]),
			s.Requests, errString(s.Errors), s.Outcomes["out_of_memory"], s.P50, s.P99)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal: %d requests, errors %s, p50 %s, p99 %s\n", rep.Total.Requests, errString(rep.Total.Errors), rep.Total.P50, rep.Total.P99)
}

func errString(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%d", k, m[k])
	}
	return b.String()
}
