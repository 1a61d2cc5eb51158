package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrywasm/ferry/gateway"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// watchPeriod is how often --watch looks at source directories. Polling
// a handler's few files costs microseconds and needs no inotify limits.
const watchPeriod = 500 * time.Millisecond

// watchSources rebuilds a source function whose files change and reloads
// it in place: routes, queue and metrics keep pointing at the same
// function. A build that fails leaves the previous code serving.
func watchSources(ctx context.Context, d *gateway.Gateway, logs io.Writer) {
	seen := map[string]uint64{}
	for name, dir := range d.Sources {
		seen[name] = fingerprint(dir)
	}
	t := time.NewTicker(watchPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, dir := range d.Sources {
			fp := fingerprint(dir)
			if fp == seen[name] {
				continue
			}
			seen[name] = fp
			start := time.Now()
			module, err := gobuild.Cached(ctx, dir)
			var wasm []byte
			if err == nil {
				wasm, err = os.ReadFile(module)
			}
			if err == nil {
				err = d.Functions[name].Reload(ctx, wasm)
			}
			if err != nil {
				fmt.Fprintf(logs, "ferry: watch: %s not reloaded, the previous build keeps serving: %v\n", name, err)
				continue
			}
			fmt.Fprintf(logs, "ferry: watch: %s rebuilt and reloaded in %s\n", name, time.Since(start).Round(time.Millisecond))
		}
	}
}

// fingerprint hashes the names, sizes and modification times of the
// files under dir.
func fingerprint(dir string) uint64 {
	h := fnv.New64a()
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if e.IsDir() && path != dir && (e.Name()[0] == '.' || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if info, err := e.Info(); err == nil && !e.IsDir() {
			fmt.Fprintf(h, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return h.Sum64()
}
