package adapter_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// probe runs one capsprobe operation and returns its answer, or its error
// message prefixed with "error: ".
func probe(t *testing.T, f *adapter.Function, op map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(op)
	res := invoke(t, f, string(b))
	if res.Failed() {
		var doc struct{ ErrorType, ErrorMessage string }
		json.Unmarshal(res.Payload, &doc)
		if doc.ErrorType == "Sandbox.Timedout" || strings.HasPrefix(doc.ErrorType, "Runtime.") {
			t.Fatalf("%v: the instance failed: %s\n%s", op, res.Payload, res.Logs)
		}
		return "error: " + doc.ErrorMessage
	}
	var s string
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		t.Fatalf("%v: %s", op, res.Payload)
	}
	return s
}

// TestFilesIsolation checks what a function sees of the file system: its
// files read-only at /var/task (the working directory), its /tmp, and
// nothing of the host besides.
func TestFilesIsolation(t *testing.T) {
	task := t.TempDir()
	os.WriteFile(filepath.Join(task, "data.txt"), []byte("shipped with the function"), 0o644)
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe", Files: task})
	for _, c := range []struct {
		op   map[string]any
		want string
	}{
		{map[string]any{"op": "read", "path": "/var/task/data.txt"}, "shipped with the function"},
		{map[string]any{"op": "read", "path": "data.txt"}, "shipped with the function"},
		{map[string]any{"op": "cwd"}, "/var/task"},
		{map[string]any{"op": "getenv", "path": "LAMBDA_TASK_ROOT"}, "/var/task"},
		{map[string]any{"op": "write", "path": "/var/task/new.txt", "size": 1}, "error: open /var/task/new.txt: Not implemented on wasip1"},
		{map[string]any{"op": "read", "path": "/etc/passwd"}, "error: open /etc/passwd: No such file or directory"},
		{map[string]any{"op": "read", "path": "../../etc/passwd"}, "error: open ../../etc/passwd: No such file or directory"},
		{map[string]any{"op": "read", "path": "/tmp/../etc/passwd"}, "error: open /tmp/../etc/passwd: No such file or directory"},
		{map[string]any{"op": "read", "path": "/var/task/../../../etc/passwd"}, "error: open /var/task/../../../etc/passwd: No such file or directory"},
		{map[string]any{"op": "read", "path": "/proc/self/environ"}, "error: open /proc/self/environ: No such file or directory"},
		{map[string]any{"op": "symlink", "path": "/tmp/escape", "target": "../../../../../../etc/passwd"}, "error: symlink ../../../../../../etc/passwd /tmp/escape: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/tmp/escape"}, "error: open /tmp/escape: No such file or directory"},
		{map[string]any{"op": "write", "path": "/tmp/scratch", "size": 1000}, "wrote 1000 bytes"},
		{map[string]any{"op": "list", "path": "/tmp"}, "[scratch]"},
		{map[string]any{"op": "list", "path": "/var/task"}, "[data.txt]"},
	} {
		if got := probe(t, f, c.op); got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.op, got, c.want)
		}
	}
}

// TestTmpCapAndLifetime fills /tmp past its cap: the write fails inside the
// guest, the function's log says why, the host and the instance carry on,
// freed space can be used again, and /tmp is private to an instance and
// removed with it.
func TestTmpCapAndLifetime(t *testing.T) {
	hostTmp := t.TempDir()
	t.Setenv("TMPDIR", hostTmp) // where instances make their /tmp
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-tmp", EphemeralStorage: 2})
	const mb = 1 << 20
	if got := probe(t, f, map[string]any{"op": "write", "path": "/tmp/a", "size": 3 * mb / 2}); got != "wrote 1572864 bytes" {
		t.Fatal(got)
	}
	b, _ := json.Marshal(map[string]any{"op": "write", "path": "/tmp/b", "size": mb})
	res := invoke(t, f, string(b))
	if !strings.Contains(string(res.Payload), "write /tmp/b: I/O error") || !strings.Contains(string(res.Logs), "ferry: /tmp is full (ephemeralStorage 2 MB)") {
		t.Fatalf("over the cap: %s\n%s", res.Payload, res.Logs)
	}
	// Rewriting a file in place does not count twice; removing one frees it.
	if got := probe(t, f, map[string]any{"op": "write", "path": "/tmp/a", "size": 3 * mb / 2}); got != "wrote 1572864 bytes" {
		t.Fatalf("rewriting /tmp/a: %s", got)
	}
	probe(t, f, map[string]any{"op": "remove", "path": "/tmp/b"})
	probe(t, f, map[string]any{"op": "remove", "path": "/tmp/a"})
	if got := probe(t, f, map[string]any{"op": "write", "path": "/tmp/b", "size": mb}); got != "wrote 1048576 bytes" {
		t.Fatalf("after freeing: %s", got)
	}
	dirs, _ := filepath.Glob(filepath.Join(hostTmp, "ferry-tmp-*"))
	if len(dirs) != 1 {
		t.Fatalf("host /tmp directories: %v, want 1", dirs)
	}
	// A new instance starts with an empty /tmp, and the old one's is gone.
	f.CloseIdle()
	if got := probe(t, f, map[string]any{"op": "list", "path": "/tmp"}); got != "[]" {
		t.Fatalf("a new instance's /tmp: %s", got)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("the discarded instance's /tmp %s is still there (%v)", dirs[0], err)
	}
	f.CloseIdle()
	if dirs, _ := filepath.Glob(filepath.Join(hostTmp, "ferry-tmp-*")); len(dirs) != 0 {
		t.Fatalf("left behind: %v", dirs)
	}
}

// TestDefaultEphemeralStorage is Lambda's 512 MB.
func TestDefaultEphemeralStorage(t *testing.T) {
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-default"})
	if got := f.Config().EphemeralStorage; got != 512 {
		t.Fatalf("EphemeralStorage = %d, want 512", got)
	}
}

// TestWebIdentityToken checks IRSA: the token file named by
// AWS_WEB_IDENTITY_TOKEN_FILE is readable inside the guest, at the path the
// variable is rewritten to, and its directory is read-only there.
func TestWebIdentityToken(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("eyJhbGciOi.token"), 0o600)
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-irsa",
		Environment: map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": filepath.Join(dir, "token"), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/fn"}})
	path := probe(t, f, map[string]any{"op": "getenv", "path": "AWS_WEB_IDENTITY_TOKEN_FILE"})
	if path != "/var/run/secrets/ferry/web-identity/token" {
		t.Fatalf("AWS_WEB_IDENTITY_TOKEN_FILE = %q in the guest", path)
	}
	if got := probe(t, f, map[string]any{"op": "read", "path": path}); got != "eyJhbGciOi.token" {
		t.Fatalf("reading the token: %s", got)
	}
	if got := probe(t, f, map[string]any{"op": "write", "path": "/var/run/secrets/ferry/web-identity/token", "size": 1}); !strings.HasPrefix(got, "error: ") {
		t.Fatalf("the token's directory is writable: %s", got)
	}
}

// TestCommandModeFiles checks that a WASI command instance gets the same
// mounts as a reactor, and that its /tmp goes with it.
func TestCommandModeFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "capsprobe-command.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "testdata/capsprobe"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	hostTmp := t.TempDir()
	t.Setenv("TMPDIR", hostTmp)
	task := t.TempDir()
	os.WriteFile(filepath.Join(task, "data.txt"), []byte("task file"), 0o644)
	f, err := sampletest.Engine(t).LoadFile(context.Background(), out, adapter.Config{Name: "capsprobe-command", Files: task, EphemeralStorage: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	if f.Mode() != hostabi.Command {
		t.Fatalf("mode %v", f.Mode())
	}
	for _, c := range []struct {
		op   map[string]any
		want string
	}{
		{map[string]any{"op": "read", "path": "data.txt"}, "task file"},
		{map[string]any{"op": "read", "path": "/etc/passwd"}, "error: open /etc/passwd: No such file or directory"},
		{map[string]any{"op": "write", "path": "/tmp/x", "size": 1000}, "wrote 1000 bytes"},
		{map[string]any{"op": "list", "path": "/tmp"}, "[]"}, // a new instance per invocation
		{map[string]any{"op": "write", "path": "/tmp/x", "size": 2 << 20}, "error: write /tmp/x: I/O error"},
	} {
		if got := probe(t, f, c.op); got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.op, got, c.want)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(hostTmp, "ferry-tmp-*")); len(dirs) != 0 {
		t.Fatalf("left behind: %v", dirs)
	}
}

// TestTmpMadeOnFirstUse: an instance that never touches /tmp costs no
// host directory.
func TestTmpMadeOnFirstUse(t *testing.T) {
	hostTmp := t.TempDir()
	t.Setenv("TMPDIR", hostTmp)
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-lazy"})
	probe(t, f, map[string]any{"op": "getenv", "path": "HOME"})
	if dirs, _ := filepath.Glob(filepath.Join(hostTmp, "ferry-tmp-*")); len(dirs) != 0 {
		t.Fatalf("made %v before the guest used /tmp", dirs)
	}
	probe(t, f, map[string]any{"op": "write", "path": "/tmp/x", "size": 1})
	if dirs, _ := filepath.Glob(filepath.Join(hostTmp, "ferry-tmp-*")); len(dirs) != 1 {
		t.Fatalf("after a write: %v", dirs)
	}
}

// TestClonedTransport: a Clone of http.DefaultTransport cannot dial in
// WebAssembly; the request fails inside the guest with an error that says
// which transport to use, and the instance carries on.
func TestClonedTransport(t *testing.T) {
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-clone", AllowedOutboundHosts: []string{"*://*:*"}})
	got := probe(t, f, map[string]any{"op": "clone-get", "path": "http://127.0.0.1:9/"})
	if !strings.Contains(got, "give the client lambda.Transport()") {
		t.Fatalf("got %q", got)
	}
	if got := probe(t, f, map[string]any{"op": "cwd"}); got != "/tmp" {
		t.Fatalf("after: %q", got)
	}
}
