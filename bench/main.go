// Command bench runs ferry's benchmark suite and prints, for each sample,
// ferry's figures next to their baselines measured in the same run:
//
//	go run ./bench [-o bench.json] [-n 200]
//	go run ./bench soak [-d 10m] [-c 64]   (see soak.go)
//	go run ./bench weight MODULE.wasm...  (see weight.go)
//
// The figures come from the Go benchmarks (BenchmarkColdStart/<sample>,
// BenchmarkWarmInvoke/<sample>, BenchmarkNativeInvoke/<sample>, …) in each
// sample's main_test.go, in adapter (the C sample, BenchmarkGuestCompute:
// a CPU-bound module under ferry, plain wazero and natively) and in cmd/ferry (HTTP
// through ferry serve). A sample is a main package, which cannot be
// imported, so bench runs `go test -bench` on each package and reads the
// results: the benchmarks stay the one definition of every figure, and
// each can be rerun alone with go test. Process start → ready is measured
// here, on a built ferry binary.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

var goSamples = []string{"hello", "http-api", "apigw-rest", "s3-object", "sqs-batch"}

// result is one benchmark's figures: ns/op and every reported metric.
type result map[string]float64

// Report is what bench writes as JSON.
type Report struct {
	Machine  map[string]string            `json:"machine"`
	Command  string                       `json:"command"`
	Started  time.Time                    `json:"started"`
	Results  map[string]result            `json:"results"` // by benchmark name
	Rows     []Row                        `json:"rows"`
	Extra    map[string]map[string]string `json:"extra,omitempty"`
	Duration string                       `json:"duration"`
}

// Row is one line of the table.
type Row struct {
	Sample   string `json:"sample"`
	Figure   string `json:"figure"`
	Ferry    string `json:"ferry"`
	Baseline string `json:"baseline"`
	Ratio    string `json:"ratio,omitempty"`
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "soak":
			soak(os.Args[2:])
			return
		case "weight":
			weight(os.Args[2:])
			return
		case "weight-warm": // weight's child process
			warmWeight(os.Args[2], os.Args[3], os.Args[4])
			return
		}
	}
	out := flag.String("o", "bench.json", "write the results here as JSON")
	n := flag.Int("n", 200, "iterations of each cold start and warm invocation benchmark")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	rep := &Report{
		Machine: machine(),
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "),
		Started: time.Now().UTC(),
		Results: map[string]result{},
	}
	run := func(dir string, env []string, args ...string) {
		res, err := goBench(root, dir, env, args...)
		if err != nil {
			fail(err)
		}
		for k, v := range res {
			rep.Results[k] = v
		}
	}
	iters := fmt.Sprintf("-benchtime=%dx", *n)
	for _, s := range goSamples {
		dir := "./samples/" + s
		fmt.Fprintf(os.Stderr, "bench: %s\n", s)
		run(dir, nil, "-bench=^Benchmark(ColdStart|NativeColdStart|WarmInvoke|NativeInvoke)$", iters)
		run(dir, nil, "-bench=^BenchmarkIdleMemory$", "-benchtime=1x")
		// The same cold start without snapshots, for the record.
		res, err := goBench(root, dir, []string{"FERRY_SNAPSHOTS=0"}, "-bench=^BenchmarkColdStart$", fmt.Sprintf("-benchtime=%dx", max(*n/10, 5)))
		if err != nil {
			fail(err)
		}
		for k, v := range res {
			rep.Results[strings.Replace(k, "ColdStart", "ColdStartNoSnapshot", 1)] = v
		}
	}
	fmt.Fprintln(os.Stderr, "bench: c-echo")
	run("./adapter", nil, "-bench=^Benchmark(ColdStartC|WarmInvokeC)$", fmt.Sprintf("-benchtime=%dx", *n*10))
	fmt.Fprintln(os.Stderr, "bench: guest compute")
	run("./adapter", nil, "-bench=^BenchmarkGuestCompute$", "-benchtime=3x")
	fmt.Fprintln(os.Stderr, "bench: ferry serve")
	run("./cmd/ferry", nil, "-bench=^BenchmarkServeHTTPAPI$", "-benchtime=3000x")
	fmt.Fprintln(os.Stderr, "bench: process start to ready")
	ready, err := startToReady(root)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: process start to ready: %v\n", err)
	}

	rep.Rows = rows(rep.Results, ready)
	printTable(os.Stdout, rep)
	rep.Duration = time.Since(rep.Started).Round(time.Second).String()
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s (%s)\n", *out, rep.Duration)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run bench inside the ferry module")
	}
	return filepath.Dir(mod), nil
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// goBench runs go test -bench in dir and parses its results.
func goBench(root, dir string, env []string, args ...string) (map[string]result, error) {
	cmd := exec.Command("go", append([]string{"test", "-run=^$", "-count=1"}, append(args, dir)...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test %s %s: %v\n%s%s", strings.Join(args, " "), dir, err, stdout.Bytes(), stderr.Bytes())
	}
	res := map[string]result{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := result{}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				r[f[i+1]] = v
			}
		}
		res[m[1]] = r
	}
	return res, nil
}

// startToReady builds ferry and a module, then times `ferry serve` from
// exec to /readyz answering 200 with one warm instance (minInstances 1),
// compiled code already in the cache: the median of 5 starts.
func startToReady(root string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "ferry-bench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	ferry := filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-o", ferry, filepath.Join(root, "cmd", "ferry")).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building ferry: %v\n%s", err, out)
	}
	wasm := filepath.Join(dir, "http-api.wasm")
	if out, err := exec.Command(ferry, "build", "-o", wasm, filepath.Join(root, "samples", "http-api")).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("ferry build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "ferry.yaml")
	yaml := fmt.Sprintf("functions:\n  - name: http-api\n    module: %s\n    minInstances: 1\n    http:\n      - path: /http-api\n        format: http-api\n", wasm)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		return 0, err
	}
	var times []time.Duration
	for i := range 6 {
		d, err := serveOnce(ferry, cfg, filepath.Join(dir, "cache"))
		if err != nil {
			return 0, err
		}
		if i > 0 { // the first start fills the compilation cache
			times = append(times, d)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

func serveOnce(ferry, cfg, cache string) (time.Duration, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferry, "serve", "-f", cfg, "--addr", addr, "--no-access-log")
	cmd.Env = append(os.Environ(), "FERRY_CACHE_DIR="+cache)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("ferry serve did not become ready")
}

func machine() map[string]string {
	m := map[string]string{
		"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU()),
		"go": runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	return m
}

func dur(ns float64) string {
	switch {
	case ns == 0:
		return "–"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func rows(r map[string]result, ready time.Duration) []Row {
	var rows []Row
	add := func(sample, figure, ferry, base, rat string) {
		rows = append(rows, Row{sample, figure, ferry, base, rat})
	}
	for _, s := range goSamples {
		cs, nc := r["BenchmarkColdStart/"+s], r["BenchmarkNativeColdStart/"+s]
		ns := r["BenchmarkColdStartNoSnapshot/"+s]
		add(s, "cold start p50 / p99", dur(cs["p50-ns"])+" / "+dur(cs["p99-ns"]),
			"native process: "+dur(nc["p50-ns"])+" / "+dur(nc["p99-ns"]), ratio(cs["p50-ns"], nc["p50-ns"]))
		pc := r["BenchmarkColdStart/"+s+"/primed"]
		add(s, "cold start p50 / p99, primed snapshot (PrimeEvent)", dur(pc["p50-ns"])+" / "+dur(pc["p99-ns"]),
			"native process: "+dur(nc["p50-ns"])+" / "+dur(nc["p99-ns"]), ratio(pc["p50-ns"], nc["p50-ns"]))
		add(s, "  of which instance start (clone) / minor faults", dur(cs["init-ns/op"])+fmt.Sprintf(" / %.0f", cs["minflt/op"]),
			"no snapshot: "+dur(ns["p50-ns"])+" p50 (start "+dur(ns["init-ns/op"])+")", ratio(cs["p50-ns"], ns["p50-ns"]))
		w, n := r["BenchmarkWarmInvoke/"+s], r["BenchmarkNativeInvoke/"+s]
		add(s, "warm invocation", dur(w["ns/op"]), "in-process: "+dur(n["ns/op"]), ratio(w["ns/op"], n["ns/op"]))
		m := r["BenchmarkIdleMemory/"+s]
		add(s, "private memory per idle warm instance", fmt.Sprintf("%.0f KiB", m["private-KiB/instance"]),
			fmt.Sprintf("no snapshot: %.0f KiB", m["fresh-private-KiB/instance"]), "")
	}
	cc, cw := r["BenchmarkColdStartC/c-echo"], r["BenchmarkWarmInvokeC/c-echo"]
	add("c-echo", "cold start (mean)", dur(cc["ns/op"]), "", "")
	add("c-echo", "warm invocation (host overhead bound)", dur(cw["ns/op"]), "", "")
	gf, gw := r["BenchmarkGuestCompute/ferry"], r["BenchmarkGuestCompute/wazero"]
	gc, gn := r["BenchmarkGuestCompute/wazero-close-on-ctx"], r["BenchmarkGuestCompute/native"]
	add("compute", "CPU-bound command, ferry (timeout armed)", dur(gf["ns/op"]), "plain wazero, no timeout: "+dur(gw["ns/op"]), ratio(gf["ns/op"], gw["ns/op"]))
	add("compute", "  wazero WithCloseOnContextDone (ferry before)", dur(gc["ns/op"]), "plain wazero, no timeout: "+dur(gw["ns/op"]), ratio(gc["ns/op"], gw["ns/op"]))
	add("compute", "  ferry against the same code natively", dur(gf["ns/op"]), "native process: "+dur(gn["ns/op"]), ratio(gf["ns/op"], gn["ns/op"]))
	h := r["BenchmarkServeHTTPAPI"]
	add("http-api", "HTTP req/s through ferry serve", fmt.Sprintf("%.0f", h["ferry-req/s"]),
		fmt.Sprintf("net/http: %.0f", h["native-req/s"]), ratio(h["ferry-req/s"], h["native-req/s"]))
	add("http-api", "process start → ready (cached code, 1 warm instance)", dur(float64(ready.Nanoseconds())), "", "")
	return rows
}

func printTable(w *os.File, rep *Report) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "sample\tfigure\tferry\tbaseline (same run)\tferry/baseline\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Sample, r.Figure, r.Ferry, r.Baseline, r.Ratio)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nmachine: %s, %s cpus, %s/%s, kernel %s, %s\n", rep.Machine["cpu"], rep.Machine["cpus"],
		rep.Machine["goos"], rep.Machine["goarch"], rep.Machine["kernel"], rep.Machine["go"])
}
