package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/image"
)

// runImage runs `ferry image`: an image tarball of the config's app,
// built without a Docker daemon.
func runImage(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file     = fs.String("f", "ferry.yaml", "config file")
		out      = fs.String("o", "", "the image tarball to write (required)")
		tag      = fs.String("tag", "", "the image's name and tag (default: the config's kubernetes.image, else ferry-app:latest)")
		platform = fs.String("platform", "", "linux/ARCH; only this machine's architecture (wazero precompiles for the host)")
		rootfs   = fs.String("rootfs", "", "also write the image's filesystem into this folder (for a Dockerfile to COPY)")
		src      = fs.String("ferry-src", "", "ferry's module directory to build the static binary from (default: go list -m "+image.ModulePath+")")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry image -f ferry.yaml -o IMAGE.tar [--tag NAME:TAG]\n\nBuilds a container image (a tarball for docker load, kind load image-archive or\ncrane push) with a static ferry, the functions' modules, the config and their\nprecompiled machine code. It runs as uid 65532 on a read-only root; /tmp is scratch.")
		fs.PrintDefaults()
	}
	if pos, err := parseArgs(fs, args); err != nil {
		return flagStatus(err)
	} else if len(pos) > 0 {
		return fail(stderr, "image", fmt.Errorf("unexpected argument %q (the config is given with -f)", pos[0]))
	}
	if *out == "" && *rootfs == "" {
		return fail(stderr, "image", fmt.Errorf("-o IMAGE.tar (or --rootfs DIR) is required"))
	}
	cfg, err := config.LoadTemplate(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ref := cmp.Or(*tag, cfg.Kubernetes.Image, "ferry-app:latest")
	tagged, err := name.NewTag(ref)
	if err != nil {
		return fail(stderr, "image", fmt.Errorf("--tag %q: %v", ref, err))
	}
	res, err := image.Build(ctx, image.Options{Config: cfg, Platform: *platform, FerrySource: *src, Version: version, Log: stderr})
	if err != nil {
		return fail(stderr, "image", err)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "ferry image: note: %s\n", n)
	}
	fmt.Fprintf(stderr, "ferry image: %d module(s) precompiled\n", res.Compiled)
	if *rootfs != "" {
		if err := image.Unpack(res.Image, *rootfs); err != nil {
			return fail(stderr, "image", err)
		}
		fmt.Fprintf(stderr, "ferry image: filesystem written to %s\n", *rootfs)
	}
	if *out == "" {
		return 0
	}
	if err := tarball.WriteToFile(*out, tagged, res.Image); err != nil {
		return fail(stderr, "image", err)
	}
	digest, err := res.Image.Digest()
	if err != nil {
		return fail(stderr, "image", err)
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(stdout, "%s %s %s\n", abs, tagged.Name(), digest)
	return 0
}

// runCompile runs `ferry compile`: it compiles modules into a wazero
// compilation cache directory. ferry image runs it with the binary it puts
// in the image, so that the cache matches that binary's wazero.
func runCompile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry compile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("cache-dir", "", "the compilation cache directory to fill (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry compile --cache-dir DIR MODULE.wasm...\n\nCompiles modules to machine code for this machine into DIR, as ferry image does.")
		fs.PrintDefaults()
	}
	modules, err := parseArgs(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if *dir == "" || len(modules) == 0 {
		fs.Usage()
		return 2
	}
	engine, err := adapter.NewEngine(ctx, adapter.WithCacheDir(*dir))
	if err != nil {
		return fail(stderr, "compile", err)
	}
	defer engine.Close(ctx)
	for _, m := range modules {
		if _, err := engine.LoadFile(ctx, m, adapter.Config{Name: "compile"}); err != nil {
			return fail(stderr, "compile", err)
		}
	}
	st := engine.CompileStats()
	fmt.Fprintf(stdout, "%d compiled, %d already in the cache\n", st.Compiled, st.FromCache)
	return 0
}
