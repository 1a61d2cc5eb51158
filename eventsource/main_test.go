package eventsource_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
	"github.com/ferrywasm/ferry/internal/sampletest"
	"gopkg.in/yaml.v3"
)

func TestMain(m *testing.M) {
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

// The crash tests run `ferry serve` in a child process with a ferry.yaml
// whose queue-consumer function has one event source, SIGKILL it in the
// middle of a batch, and start it again.

var (
	ferryOnce sync.Once
	ferryBin  string
	ferryErr  error
)

// ferry builds the ferry command once per test process.
func ferry(t *testing.T) string {
	t.Helper()
	ferryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-bin-")
		if err != nil {
			ferryErr = err
			return
		}
		queuetest.AtExit(func() { os.RemoveAll(dir) })
		ferryBin = filepath.Join(dir, "ferry")
		if out, err := exec.Command("go", "build", "-o", ferryBin, "../cmd/ferry").CombinedOutput(); err != nil {
			ferryErr = fmt.Errorf("building ferry: %v\n%s", err, out)
		}
	})
	if ferryErr != nil {
		t.Fatal(ferryErr)
	}
	return ferryBin
}

// childSpec is the one event source the child's function has.
type childSpec struct {
	SQS      *eventsource.SQS      `yaml:"sqs,omitempty"`
	Kafka    *eventsource.Kafka    `yaml:"kafka,omitempty"`
	RabbitMQ *eventsource.RabbitMQ `yaml:"rabbitmq,omitempty"`
}

// child is a running `ferry serve`; lines has its output (function logs
// and ferry's own lines), a line at a time.
type child struct {
	cmd   *exec.Cmd
	addr  string
	lines chan string
	done  chan struct{}
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	bin := ferry(t)
	module := sampletest.Module(t, "../samples/queue-consumer")
	cfg := map[string]any{
		"region": "us-east-1",
		"functions": []any{map[string]any{
			"name": "queue-consumer", "module": module, "timeout": 30,
			"eventSources": []childSpec{spec},
		}},
		"async": map[string]any{"spoolDir": t.TempDir()},
	}
	yml, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(file, yml, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{addr: fmt.Sprintf("127.0.0.1:%d", port), lines: make(chan string, 10000), done: make(chan struct{})}
	c.cmd = exec.Command(bin, "serve", "-f", file, "--addr", c.addr, "--no-access-log", "--drain-timeout", "1m")
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c.cmd.Stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			t.Log("ferry serve:", sc.Text())
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitBusy waits until the child runs an invocation (a batch in flight),
// as its /metrics tell: function logs arrive only when a batch is done.
func (c *child) waitBusy(t *testing.T) {
	t.Helper()
	eventually(t, "a batch in flight", func() bool {
		resp, err := http.Get("http://" + c.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `ferry_instances{function="queue-consumer",state="busy"} 1`)
	})
}

// kill SIGKILLs the child and waits for it.
func (c *child) kill(t *testing.T) {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	<-c.done
}

// terminate SIGTERMs the child, checks it exits cleanly, and returns
// what it logged as processed until then.
func (c *child) terminate(t *testing.T) map[string]int {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	got := map[string]int{}
	for {
		select {
		case l := <-c.lines:
			for k, n := range processedIn([]string{l}) {
				got[k] += n
			}
			continue
		case <-c.done:
		}
		break
	}
	for len(c.lines) > 0 {
		for k, n := range processedIn([]string{<-c.lines}) {
			got[k] += n
		}
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("ferry serve after SIGTERM: %v", err)
	}
	return got
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
