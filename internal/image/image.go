// Package image builds a container image of a ferry app without a Docker
// daemon: ferry's static binary, the functions' modules, the config and
// the wazero machine code precompiled for the target, so that a pod starts
// serving without compiling. `ferry image` runs it; the tarball it writes
// loads with `docker load` and `kind load image-archive` and pushes with
// `crane push`.
//
// The image is FROM scratch with only what ferry needs: a passwd entry for
// the distroless "nonroot" user (65532) it runs as, and /tmp. It runs
// with a read-only root filesystem: everything ferry writes at run time
// goes under ScratchDir, which Kubernetes mounts as an emptyDir.
package image

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// Where things are in the image.
const (
	BinaryPath = "/usr/local/bin/ferry"
	ConfigPath = "/ferry/ferry.yaml"
	ModulesDir = "/ferry/modules"
	// FilesDir/<function> is a function's files, its /var/task.
	FilesDir = "/ferry/files"
	// PrimeDir/<function>.json is a function's primeEvent.
	PrimeDir = "/ferry/prime"
	// AzureDir/<app> is an Azure Functions app's definition: host.json
	// and */function.json. Its custom handler is ModulesDir/<app>.wasm.
	AzureDir = "/ferry/azure"
	// CACertsPath is where Go's crypto/x509 looks for the CA roots on
	// Linux: guests' outbound HTTPS is verified against them.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// CacheSeedDir holds the precompiled wazero cache, read-only; ferry
	// links its entries into the writable cache under ScratchDir.
	CacheSeedDir = "/ferry/cache"
	// ScratchDir is $FERRY_CACHE_DIR: the writable compilation cache, the
	// async spool and destination files whose paths were relative.
	ScratchDir = "/tmp/ferry"
	// Port is the port ferry listens on ($FERRY_ADDR).
	Port = 8080
	// UID and GID are distroless's "nonroot" user.
	UID = 65532
	GID = 65532
	// ModulePath is ferry's Go module.
	ModulePath = "github.com/ferrywasm/ferry"
)

// Env is the environment the image sets.
var Env = []string{
	"FERRY_CACHE_DIR=" + ScratchDir,
	"FERRY_CACHE_SEED=" + CacheSeedDir,
	"FERRY_ADDR=:" + strconv.Itoa(Port),
}

// Entrypoint and Cmd start `ferry serve` on the image's config. A pod that
// mounts its own ferry.yaml (ferry k8s's ConfigMap) passes its own args.
var (
	Entrypoint = []string{BinaryPath}
	Cmd        = []string{"serve", "-f", ConfigPath}
)

// RuntimeConfig returns cfg as the image runs it: each function's module
// at ModulesDir/<name>.wasm (a source function is shipped built), each
// Azure app at AzureDir/<app> with its handler at ModulesDir/<app>.wasm,
// and the paths ferry writes to that lay under the config's directory
// moved under ScratchDir, because the image's root is read-only (an Azure
// app's stateDir, when not set, is ScratchDir/azure/<app>). notes says
// what moved.
func RuntimeConfig(cfg *config.File) (out *config.File, notes []string) {
	c := *cfg
	c.Functions = append([]config.Function(nil), cfg.Functions...)
	c.AzureApps = append([]config.AzureApp(nil), cfg.AzureApps...)
	dir, _ := filepath.Abs(filepath.Dir(cfg.Path))
	scratch := func(what, p string) string {
		if p == "" {
			return ""
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			notes = append(notes, fmt.Sprintf("%s %s is kept: make sure it is on a writable volume", what, p))
			return p
		}
		moved := path.Join(ScratchDir, filepath.ToSlash(rel))
		notes = append(notes, fmt.Sprintf("%s %s is written to %s (the root filesystem is read-only)", what, rel, moved))
		return moved
	}
	if c.Async.SpoolDir != "" {
		c.Async.SpoolDir = scratch("async spoolDir", c.Async.SpoolDir)
	}
	for i := range c.Functions {
		fn := &c.Functions[i]
		fn.Module, fn.Source, fn.Build = path.Join(ModulesDir, fn.Name+".wasm"), "", config.Build{}
		if fn.Files != "" {
			fn.Files = path.Join(FilesDir, fn.Name)
		}
		if fn.PrimeEventFile != "" {
			fn.PrimeEventFile = path.Join(PrimeDir, fn.Name+".json")
		}
		if f := fn.AsyncConfig.OnSuccess.File; f != "" {
			fn.AsyncConfig.OnSuccess.File = scratch("function "+fn.Name+" onSuccess file", f)
		}
		if f := fn.AsyncConfig.OnFailure.File; f != "" {
			fn.AsyncConfig.OnFailure.File = scratch("function "+fn.Name+" onFailure file", f)
		}
	}
	for i := range c.AzureApps {
		a := &c.AzureApps[i]
		name := AzureAppName(*a)
		a.Path, a.Module, a.Build = path.Join(AzureDir, name), path.Join(ModulesDir, name+".wasm"), config.Build{}
		if a.StateDir != "" {
			a.StateDir = scratch("azure app "+name+" stateDir", a.StateDir)
		} else {
			a.StateDir = path.Join(ScratchDir, "azure", name)
		}
	}
	return &c, notes
}

// AzureAppName is the name an Azure app is served under: its folder's
// name, as azure.Load names it.
func AzureAppName(a config.AzureApp) string { return filepath.Base(a.Path) }

// Options configure Build.
type Options struct {
	// Config is the parsed ferry.yaml.
	Config *config.File
	// Platform is os/arch; "" is linux and this machine's architecture,
	// the only one possible: wazero compiles for the machine it runs on.
	Platform string
	// FerrySource is the directory of ferry's module, from which the
	// static binary is built; "" asks `go list -m` from the config's
	// directory, then from the working directory (see FindFerrySource).
	FerrySource string
	// Version labels the image (org.opencontainers.image.version).
	Version string
	// Created is the image's creation time, also every file's time; zero
	// is $SOURCE_DATE_EPOCH, else the Unix epoch, so that the same inputs
	// give the same image.
	Created time.Time
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Result is a built image.
type Result struct {
	Image v1.Image
	// Compiled is how many modules were precompiled into the image.
	Compiled int
	// Notes are what RuntimeConfig moved.
	Notes []string
}

// Build builds the image.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	arch, err := checkPlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	created := createdTime(o.Created)
	src := o.FerrySource
	if src == "" {
		if src, err = FindFerrySource(ctx, filepath.Dir(o.Config.Path)); err != nil {
			return nil, err
		}
	}
	if err := checkAzureNames(o.Config); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "ferry-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	fmt.Fprintf(o.Log, "ferry image: building a static ferry (linux/%s) from %s\n", arch, src)
	bin := filepath.Join(work, "ferry")
	if err := BuildStatic(ctx, src, bin, arch, o.Version); err != nil {
		return nil, err
	}
	mods, err := gatherModules(ctx, o, filepath.Join(work, "modules"))
	if err != nil {
		return nil, err
	}

	// The binary that will run in the image compiles the modules, so that
	// the cache is keyed by its own wazero version, not this process's.
	cacheDir := filepath.Join(work, "cache")
	fmt.Fprintf(o.Log, "ferry image: precompiling %d module(s) for linux/%s\n", len(mods.paths), arch)
	cmd := exec.CommandContext(ctx, bin, append([]string{"compile", "--cache-dir", cacheDir}, mods.paths...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("precompiling the modules: %v\n%s", err, bytes.TrimSpace(out))
	}

	rc, notes := RuntimeConfig(o.Config)
	yml, err := config.Marshal(rc)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Written by ferry image from %s: modules are in %s, built from source when the\n# original said source:. Paths ferry writes are under %s (the root is read-only).\n",
		filepath.Base(o.Config.Path), ModulesDir, ScratchDir)
	yml = append([]byte(header), yml...)

	base := baseLayer(created, o.Log)
	binLayer, err := binaryLayer(created, bin)
	if err != nil {
		return nil, err
	}
	app, compiled, err := appLayer(created, o.Config, yml, mods, cacheDir)
	if err != nil {
		return nil, err
	}
	img, err := assemble([]*tarball_{base, binLayer, app}, o, arch, created)
	if err != nil {
		return nil, err
	}
	return &Result{Image: img, Compiled: compiled, Notes: notes}, nil
}

// createdTime is the image's creation time (Options.Created).
func createdTime(created time.Time) time.Time {
	if !created.IsZero() {
		return created
	}
	created = time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			created = time.Unix(n, 0).UTC()
		}
	}
	return created
}

// modules are the image's Wasm modules: by file name, their copies in a
// directory (paths) for `ferry compile`, and the Azure apps' definition
// files (app → relative path → content).
type modules struct {
	wasm      map[string][]byte
	paths     []string
	azureDefs map[string]map[string][]byte
}

// add keeps wasm as name.wasm.
func (m *modules) add(dir, name string, wasm []byte) error {
	m.wasm[name+".wasm"] = wasm
	p := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(p, wasm, 0o644); err != nil {
		return err
	}
	m.paths = append(m.paths, p)
	return nil
}

// gatherModules builds the functions and Azure apps that give a source
// and collects every module into dir.
func gatherModules(ctx context.Context, o Options, dir string) (*modules, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	m := &modules{wasm: map[string][]byte{}, azureDefs: map[string]map[string][]byte{}}
	for _, fn := range o.Config.Functions {
		module := fn.Module
		if fn.Source != "" {
			fmt.Fprintf(o.Log, "ferry image: building %s from %s\n", fn.Name, fn.Source)
			var err error
			if module, err = gobuild.Cached(ctx, fn.Source, fn.Build.Options()...); err != nil {
				return nil, fmt.Errorf("%s:%d: function %s: %w", o.Config.Path, fn.Line, fn.Name, err)
			}
		}
		wasm, err := os.ReadFile(module)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: function %s: %w", o.Config.Path, fn.Line, fn.Name, err)
		}
		if err := m.add(dir, fn.Name, wasm); err != nil {
			return nil, err
		}
	}
	for _, a := range o.Config.AzureApps {
		name := AzureAppName(a)
		where := fmt.Sprintf("%s:%d: azure app %s", o.Config.Path, a.Line, name)
		defs, err := azureDefinition(a.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		m.azureDefs[name] = defs
		module := a.Module
		if module == "" {
			fmt.Fprintf(o.Log, "ferry image: building Azure app %s from %s\n", name, a.Path)
			if module, err = gobuild.Cached(ctx, a.Path, a.Build.Options()...); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		wasm, err := os.ReadFile(module)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := m.add(dir, name, wasm); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// baseLayer is the root file system: passwd, group, home, /tmp and the
// build machine's CA roots.
func baseLayer(created time.Time, log io.Writer) *tarball_ {
	base := newTarball(created)
	base.dir("etc", 0o755)
	base.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
	base.file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n"))
	base.dir("home", 0o755)
	base.dirOwned("home/nonroot", 0o700, UID, GID)
	base.dir("tmp", 0o1777)
	// The build machine's CA roots, so that functions' outbound HTTPS
	// (made by ferry on their behalf) verifies as it does there.
	if roots, err := os.ReadFile(CACertsPath); err == nil {
		base.dir("etc/ssl", 0o755)
		base.dir("etc/ssl/certs", 0o755)
		base.file(strings.TrimPrefix(CACertsPath, "/"), 0o644, roots)
	} else {
		fmt.Fprintf(log, "ferry image: no %s on this machine: the image has no CA roots, outbound HTTPS will fail\n", CACertsPath)
	}
	return base
}

// binaryLayer holds the static ferry binary at BinaryPath.
func binaryLayer(created time.Time, bin string) (*tarball_, error) {
	binLayer := newTarball(created)
	binData, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	binLayer.dir("usr", 0o755)
	binLayer.dir("usr/local", 0o755)
	binLayer.dir("usr/local/bin", 0o755)
	binLayer.file(strings.TrimPrefix(BinaryPath, "/"), 0o755, binData)
	return binLayer, nil
}

// appLayer holds the app: its config, modules, precompiled code (it
// returns how many modules that is), files, prime events and Azure app
// definitions.
func appLayer(created time.Time, cfg *config.File, yml []byte, mods *modules, cacheDir string) (*tarball_, int, error) {
	modules, azureDefs := mods.wasm, mods.azureDefs
	app := newTarball(created)
	app.dir("ferry", 0o755)
	app.file(strings.TrimPrefix(ConfigPath, "/"), 0o644, yml)
	app.dir(strings.TrimPrefix(ModulesDir, "/"), 0o755)
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		app.file(path.Join(strings.TrimPrefix(ModulesDir, "/"), n), 0o644, modules[n])
	}
	compiled, err := app.tree(cacheDir, strings.TrimPrefix(CacheSeedDir, "/"))
	if err != nil {
		return nil, 0, err
	}
	app.dir(strings.TrimPrefix(FilesDir, "/"), 0o755)
	app.dir(strings.TrimPrefix(PrimeDir, "/"), 0o755)
	for _, fn := range cfg.Functions {
		if fn.PrimeEvent != nil {
			app.file(path.Join(strings.TrimPrefix(PrimeDir, "/"), fn.Name+".json"), 0o644, fn.PrimeEvent)
		}
		if fn.Files != "" {
			if _, err := app.tree(fn.Files, path.Join(strings.TrimPrefix(FilesDir, "/"), fn.Name)); err != nil {
				return nil, 0, fmt.Errorf("%s:%d: function %s: files %s: %w", cfg.Path, fn.Line, fn.Name, fn.Files, err)
			}
		}
	}

	if len(azureDefs) > 0 {
		app.dir(strings.TrimPrefix(AzureDir, "/"), 0o755)
		for _, name := range sortedKeys(azureDefs) {
			root := path.Join(strings.TrimPrefix(AzureDir, "/"), name)
			app.dir(root, 0o755)
			made := map[string]bool{}
			for _, rel := range sortedKeys(azureDefs[name]) {
				if d := path.Dir(rel); d != "." && !made[d] {
					app.dir(path.Join(root, d), 0o755)
					made[d] = true
				}
				app.file(path.Join(root, rel), 0o644, azureDefs[name][rel])
			}
		}
	}
	return app, compiled, nil
}

// assemble makes the OCI image of the layers, with its config: entry
// point, user, port and labels.
func assemble(tars []*tarball_, o Options, arch string, created time.Time) (v1.Image, error) {
	var layers []v1.Layer
	for _, t := range tars {
		data, err := t.bytes()
		if err != nil {
			return nil, err
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: created}
	cf.Author = "ferry image"
	cf.Config = v1.Config{
		Entrypoint:   Entrypoint,
		Cmd:          Cmd,
		Env:          Env,
		User:         fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir:   "/ferry",
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "ferry: " + strings.TrimSuffix(filepath.Base(o.Config.Path), filepath.Ext(o.Config.Path)),
			"org.opencontainers.image.description": fmt.Sprintf("ferry serving %s", strings.Join(functionNames(o.Config), ", ")),
			"org.opencontainers.image.version":     cmp.Or(o.Version, "dev"),
			"org.opencontainers.image.created":     created.Format(time.RFC3339),
			"org.opencontainers.image.source":      "https://" + ModulePath,
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.vendor":      "ferry",
		},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return img, nil
}

func functionNames(cfg *config.File) []string {
	var names []string
	for _, fn := range cfg.Functions {
		names = append(names, fn.Name)
	}
	for _, a := range cfg.AzureApps {
		names = append(names, "Azure app "+AzureAppName(a))
	}
	return names
}

// checkAzureNames refuses Azure apps whose folders have the same name, or
// a function's name: each is a module in ModulesDir, named after it.
func checkAzureNames(cfg *config.File) error {
	taken := map[string]string{}
	for _, fn := range cfg.Functions {
		taken[fn.Name] = fmt.Sprintf("function %s (line %d)", fn.Name, fn.Line)
	}
	var errs []string
	for _, a := range cfg.AzureApps {
		name := AzureAppName(a)
		if other, ok := taken[name]; ok {
			errs = append(errs, fmt.Sprintf("%s:%d: azure app %s: the name %s is taken by %s; the image names modules after them, so rename the folder", cfg.Path, a.Line, a.Path, name, other))
			continue
		}
		taken[name] = fmt.Sprintf("azure app %s (line %d)", a.Path, a.Line)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// azureDefinition reads an Azure app's definition: host.json and each
// function folder's function.json, by slash-separated relative path.
func azureDefinition(dir string) (map[string][]byte, error) {
	defs := map[string][]byte{}
	b, err := os.ReadFile(filepath.Join(dir, "host.json"))
	if err != nil {
		return nil, err
	}
	defs["host.json"] = b
	matches, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		defs[filepath.Base(filepath.Dir(m))+"/function.json"] = b
	}
	return defs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkPlatform returns the architecture of platform ("linux/amd64"),
// which must be this machine's.
func checkPlatform(platform string) (string, error) {
	if platform == "" {
		return runtime.GOARCH, nil
	}
	osName, arch, _ := strings.Cut(platform, "/")
	arch, _, _ = strings.Cut(arch, "/") // a variant (arm64/v8) is the machine's
	if osName != "linux" || arch == "" {
		return "", fmt.Errorf("--platform %q: want linux/%s", platform, runtime.GOARCH)
	}
	if arch != runtime.GOARCH {
		return "", fmt.Errorf("--platform %s: this machine is %s, and wazero compiles modules for the machine it runs on, so the precompiled cache can only be made for linux/%s; build the image on a linux/%s machine (or a CI runner of that architecture)",
			platform, runtime.GOARCH, runtime.GOARCH, arch)
	}
	return arch, nil
}

// FindFerrySource returns the directory of ferry's Go module to build the
// static binary from: `go list -m` run in dir (ferry's own tree, or a
// project that requires ferry), else in the working directory.
func FindFerrySource(ctx context.Context, dir string) (string, error) {
	var errs []string
	for _, d := range []string{dir, "."} {
		cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", ModulePath)
		cmd.Dir = d
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if src := strings.TrimSpace(string(out)); err == nil && src != "" {
			return src, nil
		}
		errs = append(errs, strings.TrimSpace(stderr.String()))
	}
	return "", fmt.Errorf("cannot find the source of %s to build a static ferry from (go list -m: %s); run ferry image inside a module that requires ferry, or give --ferry-src DIR",
		ModulePath, strings.Join(errs, "; "))
}

// BuildStatic builds cmd/ferry from the module in src as a static
// linux/arch executable at out, and checks that it is static.
func BuildStatic(ctx context.Context, src, out, arch, version string) error {
	ldflags := "-s -w"
	if version != "" {
		ldflags += " -X main.version=" + version
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/ferry")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/ferry in %s: %v\n%s", src, err, bytes.TrimSpace(b))
	}
	return checkStatic(out)
}

// checkStatic refuses an executable that needs a dynamic loader, which the
// image does not have.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (it has an ELF interpreter); build it with CGO_ENABLED=0", p)
		}
	}
	return nil
}

// tarball_ writes one layer.
type tarball_ struct {
	buf     bytes.Buffer
	tw      *tar.Writer
	modTime time.Time
	err     error
}

func newTarball(t time.Time) *tarball_ {
	tb := &tarball_{modTime: t}
	tb.tw = tar.NewWriter(&tb.buf)
	return tb
}

func (t *tarball_) header(h *tar.Header) {
	if t.err == nil {
		h.ModTime, h.Format = t.modTime, tar.FormatPAX
		t.err = t.tw.WriteHeader(h)
	}
}

func (t *tarball_) dir(name string, mode int64) { t.dirOwned(name, mode, 0, 0) }

func (t *tarball_) dirOwned(name string, mode int64, uid, gid int) {
	t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid})
}

func (t *tarball_) file(name string, mode int64, data []byte) {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))})
	if t.err == nil {
		_, t.err = t.tw.Write(data)
	}
}

// tree adds the regular files under dir as prefix, and returns how many.
func (t *tarball_) tree(dir, prefix string) (int, error) {
	n := 0
	t.dir(prefix, 0o755)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			t.dir(name, 0o755)
		case d.Type().IsRegular() && !strings.HasSuffix(p, ".tmp"):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			t.file(name, 0o644, data)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, t.err
}

func (t *tarball_) bytes() ([]byte, error) {
	if t.err == nil {
		t.err = t.tw.Close()
	}
	if t.err != nil {
		return nil, t.err
	}
	return t.buf.Bytes(), nil
}
