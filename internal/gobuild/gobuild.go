// Package gobuild compiles Go handler packages to ferry reactor modules:
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. It is what
// `ferry build` runs, and what tests and `ferry serve` use through Cached,
// which builds each distinct source tree once.
package gobuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SDKs are the guest SDK packages a handler can be built on.
var SDKs = []string{
	"github.com/ferrywasm/ferry/hostabi/guest/lambda",
	"github.com/ferrywasm/ferry/hostabi/guest/azfunc",
}

const awsLambda = "github.com/aws/aws-lambda-go/lambda"

// An Option changes how a handler is built.
type Option func(*settings)

type settings struct {
	jsonv2 bool
}

// JSONv2 builds the handler with GOEXPERIMENT=jsonv2 when on: Go's
// encoding/json runs its v1 API on the v2 implementation, added to the
// experiments the user's go environment already sets. It is off by
// default because some error messages a handler returns differ from
// encoding/json v1's (TestJSONv2 lists them; README, DESIGN.md).
func JSONv2(on bool) Option {
	return func(s *settings) { s.jsonv2 = on }
}

func settingsOf(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

// experiments is the GOEXPERIMENT a build runs with: the user's (from
// the environment or `go env -w`), plus what s asks for. The toolchain
// applies the list in order, so jsonv2 appended overrides a nojsonv2 of
// the user's.
func experiments(user string, s settings) string {
	if !s.jsonv2 {
		return user
	}
	if user == "" {
		return "jsonv2"
	}
	return user + ",jsonv2"
}

// Build compiles the Go handler package in dir to the module out.
func Build(ctx context.Context, dir, out string, opts ...Option) error {
	pkg, err := inspect(ctx, dir, settingsOf(opts))
	if err != nil {
		return err
	}
	return build(ctx, pkg, out)
}

// guestTags are build tags of every guest build, added to the user's. They
// leave out code a guest never runs: aws-lambda-go's go1.x RPC invoker
// (lambda.norpc; the SDK calls the handler as aws-lambda-go's runtime API
// loop does), whose net/rpc, encoding/gob and html/template, and with them
// every exported method of every type (text/template calls methods by
// name), are 30 % of a module; and net/http's bundled HTTP/2
// (nethttpomithttp2), since a guest's requests go out through the host,
// whose transport speaks HTTP/2 itself. BENCHMARKS.md, "Module weight".
var guestTags = []string{"lambda.norpc", "nethttpomithttp2"}

// noDefaultTransport is the tag under which the guest SDK leaves
// http.DefaultTransport alone rather than route it through the host
// (hostabi/guest's internal/fhttp): referring to it links net/http's
// client and crypto/tls, 2.5 MB of a module. build tries it first and
// keeps the module if nothing in the program can send a request:
const noDefaultTransport = "ferry.nodefaulttransport"

// sendsRequests is the name of a function linked into a module only if
// the program can send an HTTP request through a transport net/http made:
// an http.Client (whose nil Transport means http.DefaultTransport), or the
// default transport used directly. Function names stay in a stripped
// module (the runtime's tracebacks need them). A module built without the
// default transport that has it is built again with it.
var sendsRequests = []byte("net/http.(*Transport).RoundTrip")

func build(ctx context.Context, p *pkg, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := goBuild(ctx, p, p.tags+","+noDefaultTransport, abs); err != nil {
		return err
	}
	if module, err := os.ReadFile(abs); err != nil || !bytes.Contains(module, sendsRequests) {
		return err
	}
	return goBuild(ctx, p, p.tags, abs)
}

func goBuild(ctx context.Context, p *pkg, tags, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-tags="+tags, "-o", out, ".")
	cmd.Dir = p.dir
	cmd.Env = wasmEnv(p.experiment)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s failed: %v\n%s", p.dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// wasmEnv is the environment of go commands for a build with the given
// GOEXPERIMENT ("": the user's, left as it is).
func wasmEnv(experiment string) []string {
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if experiment != "" {
		env = append(env, "GOEXPERIMENT="+experiment)
	}
	return env
}

// pkg is what `go list` says of a handler package.
type pkg struct {
	dir      string
	sources  []string // every non-standard file the build reads
	local    []string // the directories of its packages outside the module cache: the user's
	modFiles []string // go.mod and go.sum of their modules
	goVer    string
	// goflags and gowasm are the user's GOFLAGS and GOWASM, which change
	// what the build makes (-gcflags, -pgo, Wasm features).
	goflags, gowasm string
	tags            string // the build's -tags: the user's (GOFLAGS) and guestTags
	// experiment is the GOEXPERIMENT the build runs with: the user's
	// and the options'.
	experiment string
}

// inspect checks that dir holds a buildable handler and lists its inputs.
func inspect(ctx context.Context, dir string, s settings) (*pkg, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return nil, errors.New("the Go toolchain (go 1.26 or newer) is not on PATH; install it from https://go.dev/dl/")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (want a Go handler package)", dir)
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOMODCACHE", "GOFLAGS", "GOEXPERIMENT", "GOWASM").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %v", err)
	}
	env := strings.Split(string(out), "\n")
	if len(env) < 5 {
		return nil, fmt.Errorf("go env: unexpected output %q", out)
	}
	modCache := strings.TrimSpace(env[1]) + string(filepath.Separator)
	p := &pkg{goVer: strings.TrimSpace(env[0]), goflags: strings.TrimSpace(env[2]), gowasm: strings.TrimSpace(env[4]),
		tags: withTags(env[2], guestTags), experiment: experiments(strings.TrimSpace(env[3]), s)}
	// One go list call, with the build's tags, yields the package's name
	// and every file of every non-standard package it depends on.
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags="+p.tags, "-f",
		`{{if not .Standard}}{{.ImportPath}}{{"\t"}}{{.Name}}{{"\t"}}{{.Dir}}{{"\t"}}{{with .Module}}{{.GoMod}}{{end}}{{range .GoFiles}}{{"\t"}}{{.}}{{end}}{{range .EmbedFiles}}{{"\t"}}{{.}}{{end}}{{end}}`, ".")
	cmd.Dir = dir
	cmd.Env = wasmEnv(p.experiment)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s is not a buildable Go package: %s", dir, firstLine(stderr.String(), err))
	}
	var sdk, aws bool
	var main [3]string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 4 {
			continue
		}
		if gomod := f[3]; gomod != "" && !strings.HasPrefix(f[2], modCache) {
			p.local = append(p.local, f[2])
			for _, m := range []string{gomod, filepath.Join(filepath.Dir(gomod), "go.sum")} {
				if !slices.Contains(p.modFiles, m) {
					p.modFiles = append(p.modFiles, m)
				}
			}
		}
		main = [3]string{f[0], f[1], f[2]} // go list -deps prints the package itself last
		for _, s := range SDKs {
			sdk = sdk || f[0] == s
		}
		aws = aws || f[0] == awsLambda
		for _, file := range f[4:] {
			p.sources = append(p.sources, filepath.Join(f[2], file))
		}
	}
	if main[1] != "main" {
		return nil, fmt.Errorf("%s is package %s, not a main package: a handler is a main package whose main calls lambda.Start", dir, main[1])
	}
	if !sdk {
		if aws {
			return nil, fmt.Errorf("%s imports %s, which cannot run in WebAssembly: import %s instead (the only change a port needs)", dir, awsLambda, SDKs[0])
		}
		return nil, fmt.Errorf("%s is not a ferry handler: it imports none of %s", dir, strings.Join(SDKs, ", "))
	}
	p.dir = main[2]
	return p, nil
}

// withTags returns the value of a -tags flag that adds tags to those set
// in goflags (GOFLAGS): a -tags on the command line replaces GOFLAGS'
// rather than adding to it.
func withTags(goflags string, tags []string) string {
	var user []string
	for _, f := range strings.Fields(goflags) {
		if v, ok := strings.CutPrefix(strings.TrimLeft(f, "-"), "tags="); ok {
			user = strings.Split(v, ",") // the last one wins, as in go's flag parsing
		}
	}
	all := slices.DeleteFunc(user, func(t string) bool { return t == "" || slices.Contains(tags, t) })
	return strings.Join(append(all, tags...), ",")
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return err.Error()
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Inputs are what a build of a handler reads that a user edits: the Go
// sources and embedded files of its packages outside the module cache,
// and their modules' go.mod and go.sum. Dirs are those packages'
// directories, where a new .go file would join the build. ferry serve
// --watch rebuilds when one of them changes, and only then (a log written
// into the source folder is none of them).
type Inputs struct {
	Files []string
	Dirs  []string
}

// ListInputs lists the inputs of the handler package in dir, built with
// opts.
func ListInputs(ctx context.Context, dir string, opts ...Option) (Inputs, error) {
	p, err := inspect(ctx, dir, settingsOf(opts))
	if err != nil {
		return Inputs{}, err
	}
	in := Inputs{Dirs: p.local}
	for _, src := range p.sources {
		if slices.Contains(p.local, filepath.Dir(src)) || slices.ContainsFunc(p.local, func(d string) bool { return strings.HasPrefix(src, d+string(filepath.Separator)) }) {
			in.Files = append(in.Files, src)
		}
	}
	in.Files = append(in.Files, p.modFiles...)
	return in, nil
}

// CacheDir is where Cached keeps modules: $FERRY_CACHE_DIR/modules, else
// ferry/modules under the user's cache directory.
func CacheDir() string {
	if d := os.Getenv("FERRY_CACHE_DIR"); d != "" {
		return filepath.Join(d, "modules")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ferry", "modules")
	}
	return filepath.Join(os.TempDir(), "ferry", "modules")
}

// Cached returns the path of the module built from the handler in dir
// with opts, building it only if no module was built before from the
// same sources with the same toolchain and settings. Concurrent callers
// (parallel test packages) build a given source tree once.
func Cached(ctx context.Context, dir string, opts ...Option) (string, error) {
	r, err := CachedBuild(ctx, dir, opts...)
	return r.Path, err
}

// ModuleFile is the name of the cached module of the handler in dir: the
// directory's name, a variant (which directory, built how: two handlers
// of the same directory name, or one built with and without jsonv2, are
// different functions to `ferry cache prune`), then the key of its
// sources and settings. A newer key of the same name and variant
// supersedes an older one.
func ModuleFile(dir, experiment, goflags, gowasm, key string) string {
	v := sha256.Sum256([]byte(dir + "\x00" + experiment + "\x00" + goflags + "\x00" + gowasm))
	return filepath.Base(dir) + "-" + hex.EncodeToString(v[:4]) + "-" + key + ".wasm"
}

// Result is what CachedBuild did.
type Result struct {
	Path  string // the module
	Built bool   // false: found in the cache
}

// CachedBuild is Cached, saying whether it built the module. Different
// source trees build in parallel (ferry serve builds a config's functions
// on all cores, overlapping one's link with another's compile); the same
// tree is built once, other callers wait for it.
func CachedBuild(ctx context.Context, dir string, opts ...Option) (Result, error) {
	p, err := inspect(ctx, dir, settingsOf(opts))
	if err != nil {
		return Result{}, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "ferry-gobuild-3\x00%s\x00%s\x00%s\x00%s\x00%s\x00", p.goVer, p.tags, p.experiment, p.goflags, p.gowasm)
	for _, src := range p.sources {
		f, err := os.Open(src)
		if err != nil {
			return Result{}, err
		}
		fmt.Fprintf(h, "%s\x00", filepath.Base(src))
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return Result{}, err
		}
	}
	cache := CacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Result{}, err
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	out := filepath.Join(cache, ModuleFile(p.dir, p.experiment, p.goflags, p.gowasm, key))
	if _, err := os.Stat(out); err == nil {
		// The modification time says when a module was last used, so
		// `ferry cache prune` keeps the modules in use (best effort: a
		// read-only cache stays as it is).
		now := time.Now()
		os.Chtimes(out, now, now)
		return Result{Path: out}, nil
	}
	// One lock per handler directory name: one build per tree, while
	// other handlers build alongside.
	unlock, err := lock(filepath.Join(cache, "."+filepath.Base(p.dir)+".lock"))
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return Result{Path: out}, nil // built by another process while we waited
	}
	// The first build with a toolchain compiles the standard library for
	// wasip1 into Go's build cache; builds started alongside it would each
	// compile it again, so they wait for it, then run in parallel.
	// (An experiment compiles it anew.)
	warmed := filepath.Join(cache, ".warm-"+p.goVer)
	if p.experiment != "" {
		warmed += "-" + p.experiment
	}
	if _, err := os.Stat(warmed); err != nil {
		unlockWarm, err := lock(filepath.Join(cache, ".warm.lock"))
		if err != nil {
			return Result{}, err
		}
		if _, err := os.Stat(warmed); err == nil {
			unlockWarm() // warmed by the build we waited for
		} else {
			defer unlockWarm()
		}
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	if err := build(ctx, p, tmp); err != nil {
		os.Remove(tmp)
		return Result{}, err
	}
	os.WriteFile(warmed, nil, 0o644)
	return Result{Path: out, Built: true}, os.Rename(tmp, out)
}
