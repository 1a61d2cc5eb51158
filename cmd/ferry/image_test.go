package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ferrywasm/ferry/internal/image"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestImage builds an image with `ferry image`, unpacks its layers into a
// directory and runs the image's entrypoint there in isolation, as a pod
// would: chrooted, as uid 65532, on a read-only root (a read-only bind
// mount in a private mount namespace, with a tmpfs on /tmp as the pod's
// emptyDir). The sample answers over HTTP, and ferry's compilation counter
// says the module's machine code came from the image's precompiled cache.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static ferry and an image")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; this is " + runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skip("running the image needs root (chroot, mount namespace); CI runs as root")
	}
	dir := t.TempDir()
	samples, err := filepath.Abs("../../samples")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ferry.yaml")
	yml := fmt.Sprintf("functions:\n  - name: hello\n    source: %[1]s/hello\n    memory: 256\n    minInstances: 1\n"+
		"azureApps:\n  - path: %[1]s/azure-app\n    environment: {FERRY_AZURE_FUNCTION_KEYS_HttpExample: k1}\n", samples)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "image.tar")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"image", "-f", cfg, "-o", tarPath, "--tag", "ferry-test:1"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("ferry image: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "ferry-test:1 sha256:") {
		t.Errorf("stdout %q: want the path, the tag and the digest", stdout.String())
	}

	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("user %q, platform %s/%s", c.User, cf.OS, cf.Architecture)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source", "org.opencontainers.image.created"} {
		if c.Labels[l] == "" {
			t.Errorf("label %s missing: %v", l, c.Labels)
		}
	}

	root := filepath.Join(dir, "root")
	files := unpack(t, img, root)
	for _, want := range []string{"usr/local/bin/ferry", "ferry/ferry.yaml", "ferry/modules/hello.wasm", "etc/passwd", "tmp",
		"ferry/modules/azure-app.wasm", "ferry/azure/azure-app/host.json", "ferry/azure/azure-app/HttpExample/function.json", "ferry/azure/azure-app/TimerExample/function.json"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the image has no /%s", want)
		}
	}
	cached := 0
	for f := range files {
		if strings.HasPrefix(f, "ferry/cache/wazero-") && strings.Count(f, "/") == 3 {
			cached++
		}
	}
	if cached != 2 {
		t.Errorf("the image holds %d precompiled modules, want 2 (hello and the Azure app's handler)", cached)
	}
	for f := range files {
		if strings.HasPrefix(f, "ferry/azure/") && strings.HasSuffix(f, ".go") {
			t.Errorf("the image holds the Azure app's Go source /%s", f)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}

	// The entrypoint, command and environment are the image's own, with
	// the listen address moved to a free loopback port.
	addr := freePort(t)
	env := append(append([]string{}, c.Env...), "FERRY_ADDR="+addr)
	argv := append(append([]string{}, c.Entrypoint...), c.Cmd...)
	cmd, how := isolated(t, root, argv, env)
	t.Logf("running the image %s", how)
	log := &sampletest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	url := "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("ferry exited: %v\n%s", err, log)
		default:
		}
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", log)
		}
	}
	resp, err := http.Post(url+"/2015-03-31/functions/hello/invocations", "application/json", strings.NewReader(`"Image"`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `"Hello Image!"` {
		t.Fatalf("invoke: %d %s\n%s", resp.StatusCode, body, log)
	}
	if code, body := httpDo(t, "GET", url+"/api/HttpExample/tools?name=Image&code=k1", ""); code != 200 || !strings.Contains(body, `"greeting":"Hello, Image.`) {
		t.Fatalf("the Azure app: %d %s\n%s", code, body, log)
	}
	metrics := get(t, url+"/metrics")
	for _, want := range []string{
		`ferry_module_compilations_total{source="compiled"} 0`,
		`ferry_module_compilations_total{source="cache"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "ferry_module_compilations_total"))
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no exit after SIGTERM:\n%s", log)
	}
	// Nothing was written outside the scratch directories.
	after := walk(t, root)
	for f := range after {
		if _, ok := files[f]; !ok && !strings.HasPrefix(f, "tmp/") && !strings.HasPrefix(f, "home/nonroot/") {
			t.Errorf("ferry wrote /%s on the read-only root", f)
		}
	}
}

// isolated returns the command that runs argv (paths inside root) as
// uid 65532 chrooted in root. Where mount namespaces work, root is also
// bind-mounted read-only with a tmpfs on /tmp, as a pod with
// readOnlyRootFilesystem and an emptyDir has it; otherwise the root's
// files are root's and not writable by 65532 except /tmp.
func isolated(t *testing.T, root string, argv, env []string) (*exec.Cmd, string) {
	if _, err := exec.LookPath("unshare"); err == nil && exec.Command("unshare", "--mount", "--propagation", "private", "true").Run() == nil {
		script := `set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
mount -t tmpfs -o mode=1777 tmpfs "$1/tmp"
root=$1; shift
exec chroot --userspec=65532:65532 "$root" "$@"`
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", root}, argv...)...)
		cmd.Env = append(env, "PATH="+os.Getenv("PATH"))
		return cmd, "in a mount namespace: chroot, uid 65532, read-only bind mount, tmpfs /tmp"
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Env: env, SysProcAttr: &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: image.UID, Gid: image.GID},
	}}
	return cmd, "with chroot and uid 65532 (no mount namespace here: the root is read-only by ownership only)"
}

// unpack extracts the image's filesystem into root and returns its paths.
func unpack(t *testing.T, img v1.Image, root string) map[string]bool {
	t.Helper()
	if err := image.Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	return walk(t, root)
}

// walk lists the paths under root, relative to it.
func walk(t *testing.T, root string) map[string]bool {
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
