package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferrywasm/ferry/internal/gobuild"
)

func runBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output module (default: DIR's name + .wasm in the current directory)")
	jsonv2 := fs.Bool("jsonv2", false, jsonv2Usage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ferry build [-o OUT.wasm] [--jsonv2] DIR\n\nCompiles the Go handler package in DIR (GOOS=wasip1, -buildmode=c-shared) to a module ferry runs.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		return fail(stderr, "build", errors.New("want exactly one package directory, e.g. ferry build ./samples/hello"))
	}
	dir := pos[0]
	if *out == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fail(stderr, "build", err)
		}
		*out = filepath.Base(abs) + ".wasm"
	}
	if err := gobuild.Build(context.Background(), dir, *out, gobuild.JSONv2(*jsonv2)); err != nil {
		return fail(stderr, "build", err)
	}
	if st, err := os.Stat(*out); err == nil {
		fmt.Fprintf(stderr, "built %s (%.1f MB)\n", *out, float64(st.Size())/(1<<20))
	}
	return 0
}

// jsonv2Usage documents --jsonv2, of ferry build and ferry invoke.
const jsonv2Usage = "build with GOEXPERIMENT=jsonv2: encoding/json on its v2 implementation, with some error messages differing from v1's (see README)"
