package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/internal/config"
)

// TestFireSchedule is the CronJob's half of running a schedule once across
// replicas: `ferry serve --schedules=false` (every replica) fires nothing
// itself, and `ferry fire-schedule` (the CronJob's command) queues one
// Event invocation with the schedule's input, which runs once.
func TestFireSchedule(t *testing.T) {
	dir := t.TempDir()
	samples, err := filepath.Abs("../../samples")
	if err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`
async: {spoolDir: %[1]s/spool}
functions:
  - name: hello
    source: %[2]s/hello
    schedule:
      - expression: rate(1 minute)
        name: every-minute
        input: cron
    async:
      onSuccess: {file: %[1]s/ok.jsonl}
`, dir, samples)
	s := startServe(t, yml, "--schedules=false")
	if !strings.Contains(s.log.String(), "1 schedule(s) not fired here") || strings.Contains(s.log.String(), "ferry: schedule ") {
		t.Fatalf("--schedules=false still schedules:\n%s", s.log)
	}
	cfgPath := write(t, "fire.yaml", []byte(yml))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url, "every-minute"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("fire-schedule: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "every-minute: queued hello") {
		t.Errorf("stdout %q", stdout.String())
	}
	ok := filepath.Join(dir, "ok.jsonl")
	waitFor(t, "the event to run", func() bool { return len(records(t, ok)) > 0 })
	r := records(t, ok)
	if len(r) != 1 {
		t.Fatalf("%d runs: %v", len(r), r)
	}
	if req, resp := r[0]["requestPayload"], r[0]["responsePayload"]; req != "cron" || resp != "Hello cron!" {
		t.Errorf("ran with %v, answered %v", req, resp)
	}
	if m := get(t, s.url+"/metrics"); !strings.Contains(m, `ferry_invocations_total{function="hello",outcome="success",trigger="event"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(m, "ferry_invocations_total"))
	}

	// Errors: an unknown rule, and a ferry that refuses.
	stderr.Reset()
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url, "nope"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `no schedule named "nope" (it has every-minute)`) {
		t.Errorf("unknown rule: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url + "/nothing-here", "every-minute"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "answered 404") {
		t.Errorf("refused: exit %d: %s", code, stderr.String())
	}
}

// TestSchedulePayload checks the Scheduled Event a CronJob sends for a
// schedule without input: EventBridge's shape, the rule's ARN, the minute.
func TestSchedulePayload(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "ferry.yaml"), []byte("region: eu-west-1\nfunctions:\n  - name: f\n    module: m.wasm\n    schedule:\n      - expression: cron(0 12 * * ? *)\n"))
	if err != nil {
		t.Fatal(err)
	}
	fn, payload, err := schedulePayload(cfg, "f-schedule-1", time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Time       string   `json:"time"`
		Resources  []string `json:"resources"`
		Region     string   `json:"region"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if fn != "f" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Time != "2026-03-01T12:00:00Z" || ev.Region != "eu-west-1" ||
		len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:events:eu-west-1:123456789012:rule/f-schedule-1" {
		t.Errorf("%s %s", fn, payload)
	}
}

// TestK8sCommand runs ferry k8s on the samples: to stdout, and to a folder.
func TestK8sCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, kind := range []string{"kind: ConfigMap", "kind: Deployment", "kind: Service", "kind: HorizontalPodAutoscaler", "kind: CronJob"} {
		if !strings.Contains(stdout.String(), kind) {
			t.Errorf("no %s", kind)
		}
	}
	dir := t.TempDir()
	stdout.Reset()
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml", "-o", dir, "--keda"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != 5 || !strings.Contains(stdout.String(), "scaledobject-ferry-samples.yaml") {
		t.Errorf("%d files:\n%s", len(files), stdout.String())
	}
	stderr.Reset()
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml", "--name", "Bad_Name"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not a Kubernetes name") {
		t.Errorf("bad name: exit %d: %s", code, stderr.String())
	}
}
