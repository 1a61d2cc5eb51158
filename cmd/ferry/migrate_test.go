package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/ferrywasm/ferry/internal/config"
)

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every file under dir, for comparing before and after.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// migrateAgainChangesNothing runs ferry migrate on an app it migrated.
func migrateAgainChangesNothing(t *testing.T, dir string, args ...string) {
	t.Helper()
	before := snapshot(t, dir)
	_, out, errOut := ferry(t, "", append([]string{"migrate"}, args...)...)
	if !strings.Contains(out, "nothing to change: already migrated") {
		t.Errorf("the second migrate: %s%s", out, errOut)
	}
	after := snapshot(t, dir)
	for p, content := range after {
		if before[p] != content {
			t.Errorf("the second migrate changed %s", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("the second migrate wrote %d files, the first left %d", len(after), len(before))
	}
}

// echoed is what the echo handler answers: what the function saw.
type echoed struct {
	Function, Memory, Path, Stage string
	Env                           map[string]string
}

func echo(t *testing.T, method, url string) echoed {
	t.Helper()
	code, body := httpDo(t, method, url, "")
	if code != 200 {
		t.Fatalf("%s %s: %d %s", method, url, code, body)
	}
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, body)
	}
	return e
}

// TestMigrateSAMHelloWorldServes is the README's walk-through: an app laid
// out as `sam init` lays out its Go hello-world goes from ferry migrate
// to ferry serve answering its routes, with no hand edits.
func TestMigrateSAMHelloWorldServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sam-app")
	copyTree(t, "testdata/migrate/sam-app", dir)
	template := filepath.Join(dir, "template.yaml")

	code, out, errOut := ferry(t, "", "migrate", template)
	if code != 0 || !strings.Contains(out, "5 ported, 0 need attention, 0 not supported") {
		t.Fatalf("ferry migrate: exit %d\n%s%s", code, out, errOut)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "hello-world", "main.go"))
	if !strings.Contains(string(main), `"github.com/ferrywasm/ferry/hostabi/guest/lambda"`) || strings.Contains(string(main), "aws-lambda-go/lambda") {
		t.Errorf("hello-world/main.go not ported:\n%s", main)
	}
	f, err := config.LoadTemplate(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hello, greeting := f.Functions[0], f.Functions[1]
	if hello.Memory != 256 || hello.Timeout != 5*time.Second || greeting.Memory != 128 || greeting.Timeout != 10*time.Second {
		t.Errorf("memory/timeout: hello %d %v, greeting %d %v", hello.Memory, hello.Timeout, greeting.Memory, greeting.Timeout)
	}
	if len(hello.Schedules) != 1 || hello.Schedules[0].Expression != "cron(0 3 * * ? *)" || string(hello.Schedules[0].Input) != `{"source":"nightly"}` {
		t.Errorf("schedules: %+v", hello.Schedules)
	}

	s := startServeFile(t, filepath.Join(dir, "ferry.yaml"))
	if body := get(t, s.url+"/hello"); body != "Hello, World! stage=dev table=sam-app-dev-table path=/hello" {
		t.Errorf("GET /hello: %s", body)
	}
	if body := get(t, s.url+"/greet/Ada"); body != "Greetings, Ada (served in us-east-1, stage dev)" {
		t.Errorf("GET /greet/Ada: %s", body)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("ferry serve exited %d", code)
	}
	migrateAgainChangesNothing(t, dir, template)
}

// TestMigrateSAMConstructsServe migrates a template with every SAM
// construct ferry migrate reads and checks each route, environment and
// setting through a running ferry serve.
func TestMigrateSAMConstructsServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	copyFile(t, "testdata/migrate/constructs-sam.yaml", filepath.Join(dir, "template.yaml"))
	copyTree(t, "testdata/migrate/echo", filepath.Join(dir, "handler"))

	// --json with --dry-run: the report and the diff, nothing written.
	code, out, errOut := ferry(t, "", "migrate", "--dry-run", "--json", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (some things need attention)\n%s%s", code, out, errOut)
	}
	var report struct {
		Items []struct{ Resource, Type, Status, Detail, Action string }
		Diff  string
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, it := range report.Items {
		statuses[it.Resource] = it.Status
	}
	for resource, want := range map[string]string{
		"Front": "ported", "Front/Implicit": "ported", "Front/Http": "ported", "Front/FunctionUrl": "ported",
		"Worker/Sweep": "ported", "Worker/Noon": "ported", "Worker/EventInvokeConfig": "ported",
		"Worker/OnFailure": "needs attention", "Worker/Uploads": "not supported", "DeadLetters": "not supported",
		"Resources.Front.Properties.Environment.Variables.APP_SHARED": "needs attention",
		"Parameters.Secret": "needs attention",
	} {
		if statuses[resource] != want {
			t.Errorf("%s: %q, want %q\n%s", resource, statuses[resource], want, out)
		}
	}
	if !strings.Contains(report.Diff, "+++ b/ferry.yaml") || !strings.Contains(report.Diff, `+	"github.com/ferrywasm/ferry/hostabi/guest/lambda"`) {
		t.Errorf("diff:\n%s", report.Diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "ferry.yaml")); !os.IsNotExist(err) {
		t.Fatalf("--dry-run wrote ferry.yaml: %v", err)
	}

	if code, out, errOut := ferry(t, "", "migrate", dir); code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	f, err := config.LoadTemplate(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.LogFormat != "JSON" || len(f.Functions) != 3 {
		t.Errorf("logFormat %q, %d functions (ProdOnly's condition is false)", f.LogFormat, len(f.Functions))
	}
	front, worker := f.Functions[0], f.Functions[1]
	if front.Memory != 512 || front.Concurrency != 4 || front.MinInstances != 1 || front.EphemeralStorage != 1024 || front.Timeout != 7*time.Second {
		t.Errorf("Front: %+v", front)
	}
	a := worker.AsyncConfig
	if worker.Name != "test-worker" || len(a.RetryDelays) != 1 || a.MaxEventAge != time.Hour ||
		a.OnSuccess.Function != "Audit" || !strings.HasSuffix(a.OnFailure.File, "test-worker-onfailure.jsonl") {
		t.Errorf("worker async: %+v", worker)
	}
	if len(worker.Schedules) != 2 || worker.Schedules[0].Enabled || string(worker.Schedules[0].Input) != `{"job":"sweep"}` ||
		worker.Schedules[1].Name != "worker-noon" || worker.Schedules[1].Expression != "cron(0 12 * * ? *)" {
		t.Errorf("worker schedules: %+v", worker.Schedules)
	}

	// The values ferry could not know come from its environment.
	t.Setenv("shared_bucket_name", "the-bucket")
	t.Setenv("Secret", "s3cr3t")
	s := startServeFile(t, filepath.Join(dir, "ferry.yaml"))
	wantEnv := map[string]string{
		"APP_ENV": "test", "APP_GLOBAL": "from-globals", "APP_SUB": "test-us-east-1-123456789012", "APP_SUB_LIST": "front.test",
		"APP_LITERAL": "cost is ${Price} and $5", "APP_JOIN": "test,https://b.example", "APP_SPLIT": "alpha",
		"APP_IF": "not-production", "APP_WEST": "elsewhere", "APP_EITHER": "yes", "APP_WORKER": "test-worker",
		"APP_WORKER_ARN": "arn:aws:lambda:us-east-1:123456789012:function:test-worker", "APP_SECRET": "s3cr3t", "APP_SHARED": "the-bucket",
	}
	for _, tc := range []struct{ method, path, stage string }{
		{"GET", "/implicit/7", "Prod"},
		{"DELETE", "/rest/a/b", "test"},
		{"POST", "/v2/items/9", "v1"},
		{"GET", "/v2/open", "$default"},
		{"GET", "/Front/x", "$default"},
	} {
		e := echo(t, tc.method, s.url+tc.path)
		if e.Function != "Front" || e.Path != tc.path || e.Stage != tc.stage || e.Memory != "512" {
			t.Errorf("%s %s: %+v", tc.method, tc.path, e)
		}
		for k, v := range wantEnv {
			if e.Env[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, e.Env[k], v)
			}
		}
		if _, ok := e.Env["APP_DROPPED"]; ok || len(e.Env) != len(wantEnv) {
			t.Errorf("%s %s: environment %v", tc.method, tc.path, e.Env)
		}
	}
	if code, body := httpDo(t, "GET", s.url+"/v2/items/9", ""); code != 404 {
		t.Errorf("GET on the POST route: %d %s", code, body)
	}
	// The worker, named by !Sub, answers the Invoke API.
	res, err := s.lambda().Invoke(context.Background(), &lambda.InvokeInput{FunctionName: ptr("test-worker"), Payload: []byte(`{}`)})
	if err != nil || res.FunctionError != nil || !strings.Contains(string(res.Payload), `\"function\":\"test-worker\"`) {
		t.Errorf("invoke test-worker: %v %v %s", err, res.FunctionError, res.Payload)
	}
	s.stop(t)
	migrateAgainChangesNothing(t, dir, dir)
}

func ptr[T any](v T) *T { return &v }

// TestMigrateCDKStackServes migrates a stack as `cdk synth` writes it into
// cdk.out, its function's code at the asset path the metadata records.
func TestMigrateCDKStackServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	copyFile(t, "testdata/migrate/cdk-stack.template.json", filepath.Join(dir, "cdk.out", "ShopStack.template.json"))
	copyTree(t, "testdata/migrate/echo", filepath.Join(dir, "cdk.out", "asset.3f2a9c0d"))
	code, out, errOut := ferry(t, "", "migrate", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	f, err := config.LoadTemplate(filepath.Join(dir, "cdk.out", "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fn := f.Functions[0]
	if fn.Memory != 256 || fn.Timeout != 12*time.Second || fn.AsyncConfig.RetryDelays == nil || len(fn.AsyncConfig.RetryDelays) != 0 ||
		fn.AsyncConfig.MaxEventAge != 2*time.Minute {
		t.Errorf("function: %+v", fn)
	}
	if len(fn.Schedules) != 1 || fn.Schedules[0].Name != "NightlyRule" || string(fn.Schedules[0].Input) != `{"report":"daily"}` {
		t.Errorf("schedules: %+v", fn.Schedules)
	}
	s := startServeFile(t, filepath.Join(dir, "cdk.out", "ferry.yaml"))
	for _, tc := range []struct{ path, stage string }{
		{"/items/42", "prod"},
		{"/v2/hello/Bo", "$default"},
		{"/Hello4A628BD4/x", "$default"},
	} {
		e := echo(t, "GET", s.url+tc.path)
		if e.Function != "Hello4A628BD4" || e.Path != tc.path || e.Stage != tc.stage || e.Env["APP_REGION"] != "us-east-1" ||
			e.Env["APP_ARN"] != "arn:aws:lambda:us-east-1:123456789012:function:hello" {
			t.Errorf("GET %s: %+v", tc.path, e)
		}
	}
	s.stop(t)
	migrateAgainChangesNothing(t, dir, dir)
}

// TestMigrateServerlessServes migrates a Serverless Framework service:
// provider defaults, ${self:}, ${opt:stage}, ${sls:stage} and ${env:}.
func TestMigrateServerlessServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "service")
	copyFile(t, "testdata/migrate/serverless.yml", filepath.Join(dir, "serverless.yml"))
	copyTree(t, "testdata/migrate/echo", filepath.Join(dir, "handler"))
	code, out, errOut := ferry(t, "", "migrate", "--parameter-overrides", "stage=prod", dir)
	if code != 1 || !strings.Contains(out, "sns events are not run by ferry") {
		t.Fatalf("exit %d, want 1 (the sns event)\n%s%s", code, out, errOut)
	}
	f, err := config.LoadTemplate(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fn := f.Functions[0]
	if fn.Memory != 256 || fn.Timeout != 20*time.Second || len(fn.Schedules) != 2 || fn.Schedules[1].Enabled ||
		string(fn.Schedules[1].Input) != `{"job":"morning"}` || fn.Environment["APP_TOKEN"] != "${SHOP_TOKEN}" {
		t.Errorf("function: %+v", fn)
	}
	t.Setenv("SHOP_TOKEN", "tok")
	s := startServeFile(t, filepath.Join(dir, "ferry.yaml"))
	for _, tc := range []struct{ method, path, stage string }{
		{"GET", "/items/1", "prod"},
		{"POST", "/orders", "$default"},
	} {
		e := echo(t, tc.method, s.url+tc.path)
		want := map[string]string{"APP_STAGE": "prod", "APP_GREETING": "hi-prod", "APP_TOKEN": "tok", "APP_SERVICE": "shop"}
		for k, v := range want {
			if e.Env[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, e.Env[k], v)
			}
		}
		if e.Function != "handler" || e.Stage != tc.stage {
			t.Errorf("%s %s: %+v", tc.method, tc.path, e)
		}
	}
	s.stop(t)
	migrateAgainChangesNothing(t, dir, "--parameter-overrides", "stage=prod", dir)
}

// TestMigrateAzureAppServes takes the Azure sample back to the classic
// custom handler it was ported from, in its own Go module, and migrates it.
func TestMigrateAzureAppServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "azure-app")
	copyTree(t, "../../samples/azure-app", dir)
	handler := filepath.Join(dir, "handler.go")
	ported, _ := os.ReadFile(handler)
	classic := strings.Replace(string(ported), "log.Fatal(azfunc.ListenAndServe(", "log.Fatal(http.ListenAndServe(", 1)
	classic = strings.Replace(classic, "\n\n\t\"github.com/ferrywasm/ferry/hostabi/guest/azfunc\"\n", "\n", 1)
	if err := os.WriteFile(handler, []byte(classic), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "main_test.go"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/azure-app\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := ferry(t, "", "migrate", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(handler); string(got) != string(ported) {
		t.Errorf("the ported handler differs from the sample:\n%s", got)
	}
	t.Setenv("FERRY_AZURE_FUNCTION_KEYS_HttpExample", "k1")
	s := startServeFile(t, filepath.Join(dir, "ferry.yaml"))
	code, body := httpDo(t, "GET", s.url+"/api/HttpExample/tools?name=Ada&code=k1", "")
	if code != 200 || !strings.Contains(body, `"greeting":"Hello, Ada.`) {
		t.Errorf("GET /api/HttpExample: %d %s", code, body)
	}
	s.stop(t)
	migrateAgainChangesNothing(t, dir, dir)
}

// TestMigrateBadInput: exit 2 with the file and line, or the path of the
// reference that does not resolve.
func TestMigrateBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(bad, []byte("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: !Ref Missing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := ferry(t, "", "migrate", bad)
	if code != 2 || !strings.Contains(errOut, "template.yaml:5: Resources.Fn.Properties.CodeUri: Ref Missing") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	code, _, errOut = ferry(t, "", "migrate", filepath.Join(dir, "nope.yaml"))
	if code != 2 || !strings.Contains(errOut, "nope.yaml") {
		t.Errorf("missing file: exit %d: %s", code, errOut)
	}
}
