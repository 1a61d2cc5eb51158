package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestServeKill9LosesNoEvent runs the ferry binary, SIGKILLs it at a
// random moment while Event invocations are being accepted and the
// previous rounds' events replayed, and restarts it, for
// $FERRY_KILL_ROUNDS rounds (5 by default; 100 in the long run). Then a
// last start drains the spool. Every event that got a 202 must have run
// (its record is in the onSuccess file): executed ⊇ accepted. Duplicates
// are allowed (at least once, as Lambda) and reported.
func TestServeKill9LosesNoEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ferry binary")
	}
	rounds := 5
	if v := os.Getenv("FERRY_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FERRY_KILL_ROUNDS=%q", v)
		}
		rounds = n
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	successes := filepath.Join(dir, "successes.jsonl")
	yaml := fmt.Sprintf(`async: {queueSize: 1000000, spoolDir: %s/spool}
functions:
  - name: work
    module: %s
    concurrency: 8
    timeout: 5
    async:
      onSuccess: {file: %s}
`, dir, sampletest.Module(t, "../../samples/errors"), successes)
	file := write(t, "ferry.yaml", []byte(yaml))

	start := func() (*exec.Cmd, string, *sampletest.LogBuffer) {
		t.Helper()
		cmd := exec.Command(bin, "serve", "-f", file, "--addr", "127.0.0.1:0", "--no-access-log")
		log := &sampletest.LogBuffer{}
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "ferry to listen", func() bool { return listening.MatchString(log.String()) })
		return cmd, listening.FindStringSubmatch(log.String())[1], log
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var mu sync.Mutex
	accepted := map[string]bool{}
	client := &http.Client{Timeout: 30 * time.Second}
	for round := range rounds {
		cmd, url, log := start()
		if round%2 == 0 {
			// Even rounds are killed once ready, while events are
			// accepted; odd ones at any moment, loading the spool included.
			waitFor(t, "ferry to be ready", func() bool { return strings.Contains(log.String(), "ferry: ready") })
		}
		stop := make(chan struct{})
		var senders sync.WaitGroup
		for w := range 4 {
			senders.Add(1)
			go func() {
				defer senders.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					body := fmt.Sprintf(`{"mode":"wait","ms":%d,"field":"r%d-w%d-%d"}`, i%20, round, w, i)
					req, _ := http.NewRequest(http.MethodPost, url+"/2015-03-31/functions/work/invocations", strings.NewReader(body))
					req.Header.Set("X-Amz-Invocation-Type", "Event")
					resp, err := client.Do(req)
					if err != nil {
						continue // killed mid-request: not accepted
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						mu.Lock()
						accepted[resp.Header.Get("X-Amzn-Requestid")] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(50+rng.IntN(1500)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		close(stop)
		senders.Wait()
	}

	// A last start runs what is left in the spool.
	cmd, _, log := start()
	defer cmd.Process.Kill()
	executed := map[string]int{}
	read := func() {
		clear(executed)
		f, err := os.Open(successes)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				RequestContext struct{ RequestID string } `json:"requestContext"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				executed[rec.RequestContext.RequestID]++
			}
		}
	}
	missing := func() int {
		read()
		n := 0
		for id := range accepted {
			if executed[id] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Minute)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	duplicates := 0
	for _, n := range executed {
		duplicates += n - 1
	}
	lost := missing()
	t.Logf("kill -9 loop: %d rounds, %d events accepted (202), %d executed, %d lost, %d duplicate runs",
		rounds, len(accepted), len(executed), lost, duplicates)
	if len(accepted) == 0 {
		t.Fatalf("no event was accepted:\n%s", log)
	}
	if lost > 0 {
		t.Errorf("%d accepted events never ran", lost)
	}
	for id := range executed {
		if !accepted[id] {
			// A 202 lost with the connection at the kill: accepted by
			// ferry, unseen by the client. Allowed, and counted.
			t.Logf("ran, 202 not seen by the client: %s", id)
		}
	}
}
