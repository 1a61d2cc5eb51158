package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func ferry(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func write(t testing.TB, name string, content []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInvoke runs samples through the CLI as a user does: response on
// stdout, Lambda's log lines on stderr, exit status by outcome.
func TestInvoke(t *testing.T) {
	code, out, errOut := ferry(t, "", "invoke", "../../samples/hello", "-e", "../../samples/hello/event.json")
	if code != 0 || out != "\"Hello World!\"\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: ", "\tMemory Size: 128 MB\t", "Init Duration: "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// Flags after the module, the event from stdin, --memory and --env.
	code, out, errOut = ferry(t, `{"mode":"error","field":"zip"}`, "invoke", "../../samples/errors", "--memory", "256", "-e", "-", "--env", "A=1")
	if code != 1 || !strings.Contains(out, `"errorType":"ValidationError"`) || !strings.Contains(errOut, "Memory Size: 256 MB") {
		t.Fatalf("function error: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	code, out, _ = ferry(t, `{"mode":"sleep"}`, "invoke", "--timeout", "0.5", "../../samples/errors", "-e", "-")
	if code != 1 || !strings.Contains(out, "Task timed out after 0.50 seconds") {
		t.Fatalf("timeout: exit %d, stdout %q", code, out)
	}
}

// TestInvokeEnvironment checks --env and --env-file (both SAM's JSON and
// KEY=VALUE lines) reach the function.
func TestInvokeEnvironment(t *testing.T) {
	samJSON := write(t, "env.json", []byte(`{"ctxecho":{"GREETING":"from sam json"}}`))
	dotenv := write(t, "env", []byte("# comment\nGREETING=from dotenv\n"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env-file", samJSON}, "from sam json"},
		{[]string{"--env-file", dotenv}, "from dotenv"},
		{[]string{"--env-file", dotenv, "--env", "GREETING=from flag"}, "from flag"},
	} {
		args := append([]string{"invoke", "../../adapter/testdata/ctxecho"}, c.args...)
		code, out, errOut := ferry(t, "", args...)
		if code != 0 || !strings.Contains(out, `"GREETING":"`+c.want+`"`) {
			t.Errorf("%v: exit %d, stdout %s\n%s", c.args, code, out, errOut)
		}
	}
}

// TestBadInput checks that each kind of bad input is one line naming the
// problem, with exit status 2.
func TestBadInput(t *testing.T) {
	notWasm := write(t, "fn.wasm", []byte("MZ this is not wasm"))
	noExports := write(t, "empty.wasm", []byte("\x00asm\x01\x00\x00\x00"))
	badEvent := write(t, "event.json", []byte(`{"name": `))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not wasm", []string{"invoke", notWasm}, "not a WebAssembly module"},
		{"wrong exports", []string{"invoke", noExports}, "module exports neither ferry_invoke"},
		{"event not JSON", []string{"invoke", noExports, "-e", badEvent}, "the event is not valid JSON"},
		{"missing module", []string{"invoke", "nowhere.wasm"}, "no such file or directory"},
		{"missing event", []string{"invoke", noExports, "-e", "nowhere.json"}, "no such file or directory"},
		{"no module", []string{"invoke"}, "want exactly one module"},
		{"bad timeout", []string{"invoke", noExports, "--timeout", "soon"}, "--timeout"},
		{"bad memory", []string{"invoke", notWasm, "--memory", "64"}, "memory 64 MB: want 128 to 10240"},
		{"build not main", []string{"build", "../../internal/gobuild"}, "is package gobuild, not a main package"},
		{"build unported", []string{"build", "testdata/awsimport"}, "import github.com/ferrywasm/ferry/hostabi/guest/lambda instead"},
		{"build missing dir", []string{"build", "nowhere"}, "no such file or directory"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := ferry(t, "", c.args...)
			firstLine, _, _ := strings.Cut(errOut, "\n")
			if code != 2 || !strings.Contains(firstLine, c.want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, c.want)
			}
			if c.name != "unknown command" && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("want one line, got:\n%s", errOut)
			}
		})
	}
}

// TestBuild builds a sample with `ferry build` into a chosen file.
func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hello.wasm")
	code, _, errOut := ferry(t, "", "build", "-o", out, "../../samples/hello")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, stdout, errOut := ferry(t, "", "invoke", out, "-e", "../../samples/hello/event.json")
	if code != 0 || stdout != "\"Hello World!\"\n" {
		t.Fatalf("invoking the built module: exit %d %q %s", code, stdout, errOut)
	}
}

// TestInvokeRelativeDir invokes a handler directory given as "." and as a
// relative path, as `ferry build .` accepts them: the function is named
// after the directory, not ".".
func TestInvokeRelativeDir(t *testing.T) {
	t.Chdir("../../samples")
	for _, dir := range []string{"./hello", "hello/"} {
		code, out, errOut := ferry(t, "", "invoke", dir, "-e", "hello/event.json")
		if code != 0 || out != "\"Hello World!\"\n" {
			t.Fatalf("invoke %s: exit %d, stdout %q, stderr:\n%s", dir, code, out, errOut)
		}
	}
	t.Chdir("hello")
	code, out, errOut := ferry(t, "", "invoke", ".", "-e", "event.json")
	if code != 0 || out != "\"Hello World!\"\n" {
		t.Fatalf("invoke .: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "REPORT RequestId") || strings.Contains(errOut, `"."`) {
		t.Fatalf("invoke .: stderr:\n%s", errOut)
	}
}

// TestHelpExitsZero asks every command for -h and --help: the usage is
// printed and the exit status is 0, as a user asking for help expects.
func TestHelpExitsZero(t *testing.T) {
	commands := []string{"build", "invoke", "generate-event", "serve", "image", "k8s", "fire-schedule", "compile", "probe", "migrate", "version", "cache", "cache ls", "cache prune"}
	for _, cmd := range commands {
		for _, flag := range []string{"-h", "--help"} {
			args := append(strings.Fields(cmd), flag)
			code, out, errOut := ferry(t, "", args...)
			if code != 0 {
				t.Errorf("ferry %s %s: exit %d\n%s%s", cmd, flag, code, out, errOut)
			}
			if !strings.Contains(out+errOut, "Usage") && !strings.Contains(out+errOut, "usage") {
				t.Errorf("ferry %s %s printed no usage:\n%s%s", cmd, flag, out, errOut)
			}
		}
	}
	if code, _, _ := ferry(t, "", "serve", "--no-such-flag"); code != 2 {
		t.Errorf("an unknown flag: exit %d, want 2", code)
	}
}

// TestJSONv2Flag builds http-api with `ferry build --jsonv2` and invokes
// it, and the directory with `ferry invoke --jsonv2` and without, with an
// event whose decoding error encoding/json words differently on its v2
// implementation (internal/gobuild's TestJSONv2 lists such cases): the
// flag reaches the guest's build, and the default build answers as
// aws-lambda-go does natively.
func TestJSONv2Flag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sample with GOEXPERIMENT=jsonv2")
	}
	const event = `{"headers":{"a":1}}`
	var req events.APIGatewayV2HTTPRequest
	v1 := json.Unmarshal([]byte(event), &req).Error()
	const v2 = "json: cannot unmarshal number into Go struct field APIGatewayV2HTTPRequest.headers.a of type string"
	message := func(args ...string) string {
		t.Helper()
		code, out, errOut := ferry(t, event, append(args, "-e", "-")...)
		var doc struct{ ErrorType, ErrorMessage string }
		if code != 1 || json.Unmarshal([]byte(out), &doc) != nil || doc.ErrorType != "UnmarshalTypeError" {
			t.Fatalf("%v: exit %d, stdout %q, stderr:\n%s", args, code, out, errOut)
		}
		return doc.ErrorMessage
	}
	if got := message("invoke", "../../samples/http-api"); got != v1 {
		t.Errorf("default build: %q, want aws-lambda-go's natively, %q", got, v1)
	}
	if got := message("invoke", "--jsonv2", "../../samples/http-api"); got != v2 {
		t.Errorf("invoke --jsonv2: %q, want %q", got, v2)
	}
	out := filepath.Join(t.TempDir(), "http-api.wasm")
	if code, _, errOut := ferry(t, "", "build", "--jsonv2", "-o", out, "../../samples/http-api"); code != 0 {
		t.Fatalf("build --jsonv2: exit %d: %s", code, errOut)
	}
	if got := message("invoke", out); got != v2 {
		t.Errorf("build --jsonv2: %q, want %q", got, v2)
	}
}

// TestServeBuildJSONv2 serves two source functions, one with build:
// {jsonv2: true}, under --watch: a mistyped event gets v1's message from
// the default one and v2's from the other, also after an edit rebuilt it
// (the watcher keeps the function's build settings).
func TestServeBuildJSONv2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a handler with GOEXPERIMENT=jsonv2, twice")
	}
	dir, err := os.MkdirTemp("testdata", "jsonv2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	source := func(body string) {
		src := "package main\n\nimport (\n\t\"github.com/aws/aws-lambda-go/events\"\n\t\"github.com/ferrywasm/ferry/hostabi/guest/lambda\"\n)\n\n" +
			"func main() {\n\tlambda.Start(func(events.APIGatewayV2HTTPRequest) (string, error) { return " + body + ", nil })\n}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	source(`"one"`)
	live, _ := filepath.Abs(dir)
	samples, _ := filepath.Abs("../../samples")
	s := startServe(t, "functions:\n  - name: plain\n    source: "+samples+"/http-api\n  - name: live\n    source: "+live+"\n    build: {jsonv2: true}\n", "--watch")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("DEBUG log:\n%s", s.log)
		}
	})
	const event = `{"headers":{"a":1}}`
	var req events.APIGatewayV2HTTPRequest
	v1 := json.Unmarshal([]byte(event), &req).Error()
	const v2 = "json: cannot unmarshal number into Go struct field APIGatewayV2HTTPRequest.headers.a of type string"
	message := func(function string) string {
		t.Helper()
		resp, err := http.Post(s.url+"/2015-03-31/functions/"+function+"/invocations", "application/json", strings.NewReader(event))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct{ ErrorMessage string }
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc.ErrorMessage
	}
	if got := message("plain"); got != v1 {
		t.Errorf("default build: %q, want aws-lambda-go's natively, %q", got, v1)
	}
	if got := message("live"); got != v2 {
		t.Errorf("build: {jsonv2: true}: %q, want %q", got, v2)
	}
	// An edit before the watcher took its fingerprints would go unseen.
	waitFor(t, "the watcher", func() bool { return strings.Contains(s.log.String(), "ferry: watch: watching") })
	source(`"two"`)
	waitFor(t, "the rebuild", func() bool {
		if strings.Contains(s.log.String(), "live not reloaded") {
			t.Fatalf("rebuild failed:\n%s", s.log)
		}
		return strings.Contains(s.log.String(), "live rebuilt and reloaded")
	})
	if got := message("live"); got != v2 {
		t.Errorf("rebuilt by --watch: %q, want %q", got, v2)
	}
}
