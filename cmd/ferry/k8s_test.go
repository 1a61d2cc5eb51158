package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/k8s"
	"github.com/ferrywasm/ferry/internal/sampletest"
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
	for _, kind := range []string{"kind: ConfigMap", "kind: Deployment", "kind: Service", "kind: NetworkPolicy", "kind: HorizontalPodAutoscaler", "kind: CronJob"} {
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
	if len(files) != 6 || !strings.Contains(stdout.String(), "scaledobject-ferry-samples.yaml") {
		t.Errorf("%d files:\n%s", len(files), stdout.String())
	}
	stderr.Reset()
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml", "--name", "Bad_Name"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not a Kubernetes name") {
		t.Errorf("bad name: exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml", "--control-from", "tools/app=aws-cli", "--http-from", "ingress-nginx"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "kubernetes.io/metadata.name: tools") || !strings.Contains(stdout.String(), "kubernetes.io/metadata.name: ingress-nginx") {
		t.Errorf("--control-from/--http-from: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"k8s", "-f", "../../samples/ferry.yaml", "--control-from", "ns/novalue"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--control-from") {
		t.Errorf("bad --control-from: exit %d: %s", code, stderr.String())
	}
}

// TestFireAzureTimer runs an Azure timer the way ferry k8s deploys it:
// `ferry serve --schedules=false` does not fire the app's timer itself
// (here it is past due, which would make it fire at start), and the
// command of the timer's CronJob, as ferry k8s writes it, runs it once
// through POST /admin/functions/TimerExample with the master key.
func TestFireAzureTimer(t *testing.T) {
	dir := t.TempDir()
	app, err := filepath.Abs("../../samples/azure-app")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "azure", "timers"), 0o700)
	status := `{"Last":"2026-03-02T10:05:00Z","Next":"2026-03-02T10:10:00Z","LastUpdated":"2026-03-02T10:05:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, "azure", "timers", "TimerExample.json"), []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FERRY_TEST_AZ_MASTER", "mk")
	yml := fmt.Sprintf(`
kubernetes: {name: az}
azureApps:
  - path: %[2]s
    stateDir: %[1]s/azure
    environment: {FERRY_AZURE_MASTER_KEY: "${FERRY_TEST_AZ_MASTER}"}
`, dir, app)
	s := startServe(t, yml, "--schedules=false")
	if !strings.Contains(s.log.String(), "1 Azure timer(s) not fired here") {
		t.Errorf("no note that the timer is not fired:\n%s", s.log)
	}

	// The CronJob's command, pointed at this config and server.
	cfgPath := write(t, "fire.yaml", []byte(yml))
	cfg, err := config.LoadTemplate(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := k8s.Generate(k8s.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, o := range objs {
		if cj, ok := o.Value.(*batchv1.CronJob); ok && o.Name == "az-azure-app-timerexample" {
			args = cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		}
	}
	want := []string{"fire-schedule", "-f", "/etc/ferry/ferry.yaml", "--url", "http://az:8080", "--azure-app", "azure-app", "TimerExample"}
	if !slices.Equal(args, want) {
		t.Fatalf("CronJob args %q, want %q", args, want)
	}
	args[2], args[4] = cfgPath, s.url

	var stdout, stderr bytes.Buffer
	t.Setenv("FERRY_TEST_AZ_MASTER", "wrong")
	if code := run(args, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "401") {
		t.Errorf("a wrong master key: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url, "--azure-app", "azure-app", "HttpExample"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `no timer function "HttpExample" (it has TimerExample)`) {
		t.Errorf("not a timer: exit %d: %s", code, stderr.String())
	}
	t.Setenv("FERRY_TEST_AZ_MASTER", "mk")
	stderr.Reset()
	if code := run(args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("fire-schedule: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "azure-app/TimerExample: accepted") {
		t.Errorf("stdout %q", stdout.String())
	}
	waitFor(t, "the timer to run", func() bool { return strings.Contains(s.log.String(), "TimerExample: IsPastDue=false") })
	if code := s.stop(t); code != 0 {
		t.Fatalf("ferry serve exited %d", code)
	}
	log := s.log.String()
	if n := strings.Count(log, "Executed 'Functions.TimerExample'"); n != 1 || strings.Contains(log, "IsPastDue=true") {
		t.Errorf("the timer ran %d times (want once, not past due):\n%s", n, log)
	}
}

// TestFireScheduleSigned: against a ferry with access keys, fire-schedule
// signs its Event invocation with the keys in its environment (the
// CronJob's, from the app's Secret); without them it is refused.
func TestFireScheduleSigned(t *testing.T) {
	dir := t.TempDir()
	yml := fmt.Sprintf(`
async: {spoolDir: %[1]s/spool}
functions:
  - name: hello
    module: %[2]s
    schedule:
      - expression: rate(1 minute)
        name: every-minute
        input: signed
    async:
      onSuccess: {file: %[1]s/ok.jsonl}
`, dir, sampletest.Module(t, "../../samples/hello"))
	t.Setenv("FERRY_AWS_ACCESS_KEY_ID", "AKIDCRON")
	t.Setenv("FERRY_AWS_SECRET_ACCESS_KEY", "cron-secret")
	s := startServe(t, yml, "--schedules=false")
	cfgPath := write(t, "fire.yaml", []byte(yml))

	t.Setenv("FERRY_AWS_SECRET_ACCESS_KEY", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url, "every-minute"}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "403") {
		t.Fatalf("unsigned fire-schedule: exit %d\n%s", code, stderr.String())
	}
	t.Setenv("FERRY_AWS_SECRET_ACCESS_KEY", "cron-secret")
	stderr.Reset()
	if code := run([]string{"fire-schedule", "-f", cfgPath, "--url", s.url, "every-minute"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("signed fire-schedule: exit %d\n%s", code, stderr.String())
	}
	ok := filepath.Join(dir, "ok.jsonl")
	waitFor(t, "the event to run", func() bool { return len(records(t, ok)) == 1 })
}
