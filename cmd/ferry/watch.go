package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// watchPeriod is how often --watch looks at source directories. Polling
// a handler's few files costs microseconds and needs no inotify limits.
const watchPeriod = 500 * time.Millisecond

// watchSources rebuilds a source function whose build inputs change and
// reloads it in place: routes, queue and metrics keep pointing at the
// same function. A build that fails leaves the previous code serving.
// Only the build's inputs count (gobuild.ListInputs: Go sources, embedded
// files, go.mod, go.sum): logs or outputs written into the source folder
// trigger nothing. A change is acted on once it has held for a period, so
// an editor's several writes make one rebuild.
func watchSources(ctx context.Context, d *gateway.Gateway, logs io.Writer) {
	type watched struct {
		name    string
		src     gateway.Source
		inputs  gobuild.Inputs
		seen    uint64 // the fingerprint built last
		pending uint64 // a changed fingerprint waiting to hold for a period
	}
	var ws []*watched
	for name, src := range d.Sources {
		in, err := gobuild.ListInputs(ctx, src.Dir, src.Build...)
		if err != nil {
			fmt.Fprintf(logs, "ferry: watch: %s: %v\n", name, err)
		}
		fp := fingerprint(in)
		ws = append(ws, &watched{name: name, src: src, inputs: in, seen: fp, pending: fp})
	}
	// Edits from here on are rebuilt (tests wait for this line).
	fmt.Fprintf(logs, "ferry: watch: watching %d source functions\n", len(ws))
	t := time.NewTicker(watchPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, w := range ws {
			name := w.name
			fp := fingerprint(w.inputs)
			if fp == w.seen {
				w.pending = fp
				continue
			}
			if fp != w.pending { // still changing: wait for it to settle
				w.pending = fp
				continue
			}
			start := time.Now()
			module, err := gobuild.Cached(ctx, w.src.Dir, w.src.Build...)
			var wasm []byte
			if err == nil {
				wasm, err = os.ReadFile(module)
			}
			if err == nil {
				err = d.Functions[name].Reload(ctx, wasm)
			}
			// The inputs may have changed with the sources (a new file
			// or import): list them again, and fingerprint what was built.
			if in, lerr := gobuild.ListInputs(ctx, w.src.Dir, w.src.Build...); lerr == nil {
				w.inputs = in
			}
			w.seen = fingerprint(w.inputs)
			w.pending = w.seen
			if err != nil {
				fmt.Fprintf(logs, "ferry: watch: %s not reloaded, the previous build keeps serving: %v\n", name, err)
				continue
			}
			fmt.Fprintf(logs, "ferry: watch: %s rebuilt and reloaded in %s\n", name, time.Since(start).Round(time.Millisecond))
		}
	}
}

// fingerprint hashes the names, sizes and modification times of a
// build's input files and of the .go files in its package directories
// (a new one joins the build; tests do not).
func fingerprint(in gobuild.Inputs) uint64 {
	h := fnv.New64a()
	stat := func(path string) {
		if info, err := os.Stat(path); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		} else {
			fmt.Fprintf(h, "%s missing\n", path)
		}
	}
	for _, f := range in.Files {
		stat(f)
	}
	for _, dir := range in.Dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				stat(filepath.Join(dir, n))
			}
		}
	}
	return h.Sum64()
}
