package eventsource_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	code := m.Run()
	queuetest.Stop()
	os.Exit(code)
}

// invocation is one call of the function by a source.
type invocation struct {
	payload  []byte
	response []byte
	failed   bool
	logs     string
}

// recorder is an Invoker backed by a real sample module that remembers
// every invocation.
type recorder struct {
	f     *adapter.Function
	mu    sync.Mutex
	calls []invocation
}

func newRecorder(t *testing.T, sample string) *recorder {
	return &recorder{f: sampletest.Load(t, "../samples/"+sample, adapter.Config{Name: sample, Timeout: 30 * time.Second})}
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, bool, error) {
	res, err := r.f.Invoke(ctx, &adapter.Request{Payload: payload, Trigger: "eventsource"})
	if err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	r.calls = append(r.calls, invocation{payload: payload, response: res.Payload, failed: res.Failed(), logs: string(res.Logs)})
	r.mu.Unlock()
	return res.Payload, res.Failed(), nil
}

func (r *recorder) invocations() []invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invocation(nil), r.calls...)
}

// processed counts the "processed <data>" lines the queue-consumer sample
// logged, by data.
func (r *recorder) processed() map[string]int {
	n := map[string]int{}
	for _, c := range r.invocations() {
		for line := range strings.Lines(c.logs) {
			if _, data, ok := strings.Cut(strings.TrimSpace(line), "processed "); ok {
				n[data]++
			}
		}
	}
	return n
}

// run starts src and stops it (waiting for its batches) when the test ends.
func run(t *testing.T, src eventsource.Source) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", src.Name(), err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop within a minute of its context ending", src.Name())
		}
	})
}

// eventually polls cond until it holds, failing the test after a generous
// timeout (the tests are not about time).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testEnv is the Env for a source feeding inv, logging to the test.
func testEnv(t *testing.T, inv eventsource.Invoker) eventsource.Env {
	return eventsource.Env{Function: "queue-consumer", Invoker: inv, Log: testLog{t}, Region: "us-east-1", AccountID: "123456789012"}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// The crash tests run a source in a child process (this test binary
// again), SIGKILL it in the middle of a batch, and start it again.
const childEnv = "FERRY_EVENTSOURCE_TEST_CHILD"

// childSpec is what the child runs: one source feeding the queue-consumer sample.
type childSpec struct {
	Module   string
	SQS      *eventsource.SQS
	Kafka    *eventsource.Kafka
	RabbitMQ *eventsource.RabbitMQ
}

func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := engine.LoadFile(ctx, spec.Module, adapter.Config{Name: "queue-consumer", Timeout: 30 * time.Second, LogSink: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	inv := eventsource.InvokerFunc(func(ctx context.Context, p []byte) ([]byte, bool, error) {
		// The function's own log arrives when it returns; this line tells
		// the test that a batch is in flight.
		fmt.Printf("invoking the function with %d bytes\n", len(p))
		res, err := f.Invoke(ctx, &adapter.Request{Payload: p})
		if err != nil {
			return nil, false, err
		}
		return res.Payload, res.Failed(), nil
	})
	env := eventsource.Env{Function: "queue-consumer", Invoker: inv, Log: os.Stdout, Region: "us-east-1", AccountID: "123456789012"}
	var src eventsource.Source
	switch {
	case spec.SQS != nil:
		src, err = eventsource.NewSQS(*spec.SQS, env)
	case spec.Kafka != nil:
		src, err = eventsource.NewKafka(*spec.Kafka, env)
	case spec.RabbitMQ != nil:
		src, err = eventsource.NewRabbitMQ(*spec.RabbitMQ, env)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("child ready")
	if err := src.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a running child process; lines has its stdout, a line at a time.
type child struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	spec.Module = sampletest.Module(t, "../samples/queue-consumer")
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = testLog{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 10000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log("child:", sc.Text())
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return c
}

// waitLine reads the child's output until a line contains s, and returns
// the lines read.
func (c *child) waitLine(t *testing.T, s string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l := <-c.lines:
			seen = append(seen, l)
			if strings.Contains(l, s) {
				return seen
			}
		case <-c.done:
			t.Fatalf("child exited before logging %q", s)
		case <-timeout:
			t.Fatalf("timed out waiting for the child to log %q", s)
		}
	}
}

// kill SIGKILLs the child and waits for it.
func (c *child) kill(t *testing.T) {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	<-c.done
}

// terminate SIGTERMs the child and checks it exits cleanly.
func (c *child) terminate(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child after SIGTERM: %v", err)
	}
	<-c.done
}

// processedIn counts "processed <data>" lines among lines.
func processedIn(lines []string) map[string]int {
	n := map[string]int{}
	for _, l := range lines {
		if _, data, ok := strings.Cut(l, "processed "); ok {
			n[strings.TrimSpace(data)]++
		}
	}
	return n
}

// waitProcessed reads the child's output until every one of want was
// logged as processed, and returns the counts.
func (c *child) waitProcessed(t *testing.T, want []string) map[string]int {
	t.Helper()
	got := map[string]int{}
	timeout := time.After(2 * time.Minute)
	for {
		missing := 0
		for _, w := range want {
			if got[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		select {
		case l := <-c.lines:
			for k, n := range processedIn([]string{l}) {
				got[k] += n
			}
		case <-c.done:
			t.Fatalf("child exited with %v processed of %v", got, want)
		case <-timeout:
			t.Fatalf("timed out: processed after the restart %v of %v", got, want)
		}
	}
}
