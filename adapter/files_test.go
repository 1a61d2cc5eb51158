package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestFilesLinksStayInside puts links and special files in a function's
// files folder, as a careless or hostile author might: links inside the
// folder work, links out of it (absolute or relative, to a file or a
// directory) are refused, and a FIFO or socket is refused at once rather
// than blocking the invocation.
func TestFilesLinksStayInside(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("host secret"), 0o644)
	task := t.TempDir()
	os.WriteFile(filepath.Join(task, "data.txt"), []byte("shipped with the function"), 0o644)
	os.Mkdir(filepath.Join(task, "sub"), 0o755)
	rel, err := filepath.Rel(filepath.Join(task, "sub"), outside)
	if err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"inside":       "data.txt",
		"sub/up":       "../data.txt",
		"sub/updir":    "..",
		"abs":          "/etc/passwd",
		"secret":       filepath.Join(outside, "secret.txt"),
		"sub/relout":   filepath.Join(rel, "secret.txt"),
		"sub/reloutd":  rel,
		"environ":      "/proc/self/environ",
		"devnull":      "/dev/zero",
		"sub/loop":     "loop",
		"sub/dotdotup": "../../../../../../../../etc/passwd",
	} {
		if err := os.Symlink(target, filepath.Join(task, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(task, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(task, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-links", Files: task, Timeout: time.Minute})
	for _, c := range []struct {
		op   map[string]any
		want string
	}{
		{map[string]any{"op": "read", "path": "/var/task/inside"}, "shipped with the function"},
		{map[string]any{"op": "read", "path": "/var/task/sub/up"}, "shipped with the function"},
		{map[string]any{"op": "read", "path": "/var/task/sub/updir/data.txt"}, "shipped with the function"},
		{map[string]any{"op": "read", "path": "/var/task/abs"}, "error: open /var/task/abs: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/secret"}, "error: open /var/task/secret: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/sub/relout"}, "error: open /var/task/sub/relout: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/sub/reloutd/secret.txt"}, "error: open /var/task/sub/reloutd/secret.txt: Operation not permitted"},
		{map[string]any{"op": "list", "path": "/var/task/sub/reloutd"}, "error: open /var/task/sub/reloutd: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/environ"}, "error: open /var/task/environ: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/devnull"}, "error: open /var/task/devnull: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/sub/dotdotup"}, "error: open /var/task/sub/dotdotup: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/fifo"}, "error: open /var/task/fifo: Operation not permitted"},
		{map[string]any{"op": "read", "path": "/var/task/sock"}, "error: open /var/task/sock: Operation not permitted"},
		{map[string]any{"op": "list", "path": "/var/task/sub/updir"}, "[abs data.txt devnull environ fifo inside secret sock sub]"},
	} {
		if got := probe(t, f, c.op); got != c.want {
			t.Errorf("%v:\n got %q\nwant %q", c.op, got, c.want)
		}
	}
	if got := probe(t, f, map[string]any{"op": "read", "path": "/var/task/sub/loop"}); !strings.HasPrefix(got, "error: open /var/task/sub/loop: ") {
		t.Errorf("a link to itself: %q", got)
	}
}

// TestTmpCapHolds tries the ways past /tmp's cap that count names rather
// than what the disk holds: a file renamed over one that is still open, a
// file unlinked while open, a sparse file, and many empty files or
// directories. Each is refused inside the guest with EIO and a line in
// the function's log, and the space comes back once the handles close.
func TestTmpCapHolds(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-cap", EphemeralStorage: 2, Concurrency: 1, Timeout: time.Minute})
	const mb = 1 << 20
	step := func(op map[string]any, want string) {
		t.Helper()
		if got := probe(t, f, op); !strings.HasPrefix(got, want) {
			t.Fatalf("%v:\n got %q\nwant %q…", op, got, want)
		}
	}
	full := func(op map[string]any, want string) {
		t.Helper()
		b, _ := json.Marshal(op)
		res := invoke(t, f, string(b))
		if !strings.Contains(string(res.Payload), want) || !strings.Contains(string(res.Logs), "ferry: /tmp is full (ephemeralStorage 2 MB)") {
			t.Fatalf("%v: want %q and a log line\n%s\n%s", op, want, res.Payload, res.Logs)
		}
	}
	// Rename over a file that is still open: its blocks stay in use.
	step(map[string]any{"op": "hold", "path": "/tmp/a", "size": 3 * mb / 2}, "holding")
	step(map[string]any{"op": "write", "path": "/tmp/b", "size": 10}, "wrote 10 bytes")
	step(map[string]any{"op": "rename", "path": "/tmp/b", "target": "/tmp/a"}, "renamed")
	full(map[string]any{"op": "write", "path": "/tmp/c", "size": mb}, "write /tmp/c: I/O error")
	step(map[string]any{"op": "release"}, "closed 1")
	step(map[string]any{"op": "write", "path": "/tmp/c", "size": mb}, "wrote 1048576 bytes")
	step(map[string]any{"op": "remove", "path": "/tmp/c"}, "removed")
	// Unlink an open file: the same.
	step(map[string]any{"op": "hold", "path": "/tmp/x", "size": 3 * mb / 2}, "holding")
	step(map[string]any{"op": "remove", "path": "/tmp/x"}, "removed")
	full(map[string]any{"op": "write", "path": "/tmp/y", "size": mb}, "write /tmp/y: I/O error")
	step(map[string]any{"op": "release"}, "closed 1")
	step(map[string]any{"op": "write", "path": "/tmp/y", "size": mb}, "wrote 1048576 bytes")
	step(map[string]any{"op": "remove", "path": "/tmp/y"}, "removed")
	// A sparse file counts at its apparent size.
	full(map[string]any{"op": "sparse", "path": "/tmp/s", "size": 1 << 30}, "I/O error")
	// Empty files and directories are capped by count: one per 16 KiB
	// of the cap, as ext4 would have (128 for 2 MB).
	for _, op := range []string{"touch", "mkdirs"} {
		f.CloseIdle() // a fresh /tmp
		b, _ := json.Marshal(map[string]any{"op": op, "path": "/tmp", "size": 100000})
		res := invoke(t, f, string(b))
		var got string
		json.Unmarshal(res.Payload, &got)
		var made int
		if _, err := fmt.Sscanf(got, "made %d: ", &made); err != nil || made < 100 || made > 128 || !strings.Contains(got, "I/O error") {
			t.Fatalf("%s 100000: %s", op, res.Payload)
		}
		if !strings.Contains(string(res.Logs), "it holds 128 files and directories, the most it may") {
			t.Fatalf("%s: log %s", op, res.Logs)
		}
	}
}

// TestOutboundHeadsBounded: request and response heads live in the host,
// so what a guest may make it hold is bounded: one request head to 1 MiB,
// one response head to 1 MiB, and the heads of an invocation's open
// requests together to an eighth of the function's memory (16 MB for
// 128 MB). Each refusal is an error inside the guest, and closing the
// bodies frees the budget.
func TestOutboundHeadsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bighead" {
			w.Header().Set("X-Big", strings.Repeat("b", 2<<20))
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-heads", Concurrency: 1, Timeout: time.Minute, AllowedOutboundHosts: []string{srv.URL}})
	const kb = 1 << 10
	for _, c := range []struct {
		op   map[string]any
		want string
	}{
		{map[string]any{"op": "hold-get", "path": srv.URL + "/", "size": 2 << 20, "count": 1}, "opened 0: Get \"" + srv.URL + "/\": ferry: outbound request to " + srv.URL + " refused: its head (URL and header fields) is 2097"},
		{map[string]any{"op": "hold-get", "path": srv.URL + "/bighead", "count": 1}, "server response headers exceeded 1048576 bytes"},
		// 512 KiB heads: 16 MB holds 31 of them with their 16 KiB each.
		{map[string]any{"op": "hold-get", "path": srv.URL + "/", "size": 512 * kb, "count": 40}, "opened 31: Get \"" + srv.URL + "/\": ferry: outbound request to " + srv.URL + " refused: the open requests of this invocation hold"},
		{map[string]any{"op": "release"}, "closed 31"},
		{map[string]any{"op": "hold-get", "path": srv.URL + "/", "size": 512 * kb, "count": 20}, "opened 20"},
	} {
		if got := probe(t, f, c.op); !strings.Contains(got, c.want) {
			t.Errorf("%v:\n got %.300q\nwant %q", c.op["op"], got, c.want)
		}
	}
}

// TestInstanceRecycledNearMemoryLimit: an instance whose linear memory
// grew past 7/8 of the function's memory (it never shrinks) is discarded
// after its invocation, so the next invocation starts afresh instead of
// running out of memory; one below it is kept.
func TestInstanceRecycledNearMemoryLimit(t *testing.T) {
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-recycle", Concurrency: 1, Timeout: time.Minute})
	const mb = 1 << 20
	for _, c := range []struct {
		size int
		want string
	}{
		{10 * mb, "retaining 10 MiB"},
		{0, "retaining 10 MiB"},        // kept: the same instance
		{90 * mb, "retaining 100 MiB"}, // 110 MB of linear memory: kept
		{10 * mb, "retaining 110 MiB"}, // 120 MB: discarded after
		{0, "retaining 0 MiB"},         // a new instance
		{100 * mb, "retaining 100 MiB"},
		{10 * mb, "retaining 110 MiB"},
		{0, "retaining 0 MiB"}, // again, and never out of memory
	} {
		if got := probe(t, f, map[string]any{"op": "retain", "size": c.size}); got != c.want {
			t.Fatalf("retain %d: got %q, want %q", c.size>>20, got, c.want)
		}
	}
}
