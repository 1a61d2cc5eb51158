// Command capsprobe tries what a function may and may not do with files:
// tests send it one operation per invocation and check what it got.
package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"unsafe"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type op struct {
	// read, write, remove, list, symlink, getenv, environ, cwd, clone-get,
	// rename, hold, release, sparse, touch, mkdirs, hold-get, retain
	Op     string `json:"op"`
	Path   string `json:"path"`
	Target string `json:"target"`
	Size   int    `json:"size"`
	Count  int    `json:"count"`
}

// held are files the guest keeps open across invocations ("hold"), as a
// function that caches a file handle would.
var held []*os.File

// heldResp are responses whose bodies the guest keeps open ("hold-get").
var heldResp []*http.Response

// retained is memory the guest keeps across invocations ("retain").
var retained [][]byte

func handler(ctx context.Context, o op) (string, error) {
	switch o.Op {
	case "retain":
		// Keep size more bytes (in 1 MiB pieces), and report how many
		// this instance keeps in all.
		for n := 0; n < o.Size; n += 1 << 20 {
			retained = append(retained, make([]byte, min(1<<20, o.Size-n)))
		}
		total := 0
		for _, b := range retained {
			total += len(b)
		}
		return fmt.Sprintf("retaining %d MiB", total>>20), nil
	case "rename":
		return "renamed", os.Rename(o.Path, o.Target)
	case "hold":
		// Write size bytes to a file and keep it open.
		f, err := os.Create(o.Path)
		if err != nil {
			return "", err
		}
		held = append(held, f)
		_, err = f.Write(bytes.Repeat([]byte{'h'}, o.Size))
		return fmt.Sprintf("holding %d bytes", o.Size), err
	case "release":
		for _, f := range held {
			f.Close()
		}
		for _, r := range heldResp {
			r.Body.Close()
		}
		n := len(held) + len(heldResp)
		held, heldResp = nil, nil
		return fmt.Sprintf("closed %d", n), nil
	case "hold-get":
		// GET path count times with a header of size bytes, keeping every
		// response body open; report how many got a response.
		pad := string(bytes.Repeat([]byte{'p'}, o.Size))
		for i := 0; i < o.Count; i++ {
			req, err := http.NewRequestWithContext(ctx, "GET", o.Path, nil)
			if err != nil {
				return "", err
			}
			req.Header.Set("X-Pad", pad)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Sprintf("opened %d: %v", i, err), nil
			}
			heldResp = append(heldResp, resp)
		}
		return fmt.Sprintf("opened %d", o.Count), nil
	case "sparse":
		// One byte at offset size-1: a file of that apparent size that
		// takes one block on disk.
		f, err := os.Create(o.Path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{1}, int64(o.Size)-1); err != nil {
			return "", err
		}
		return fmt.Sprintf("sparse %d bytes", o.Size), nil
	case "touch", "mkdirs":
		// Make size empty files or directories in path; report how many
		// were made before the first error.
		for i := 0; i < o.Size; i++ {
			p := fmt.Sprintf("%s/%d", o.Path, i)
			var err error
			if o.Op == "mkdirs" {
				err = os.Mkdir(p, 0o755)
			} else {
				var f *os.File
				if f, err = os.Create(p); err == nil {
					err = f.Close()
				}
			}
			if err != nil {
				return fmt.Sprintf("made %d: %v", i, err), nil
			}
		}
		return fmt.Sprintf("made %d", o.Size), nil
	case "read":
		b, err := os.ReadFile(o.Path)
		return string(b), err
	case "write":
		f, err := os.Create(o.Path)
		if err != nil {
			return "", err
		}
		chunk := bytes.Repeat([]byte{'x'}, 64<<10)
		for n := 0; n < o.Size; n += len(chunk) {
			if _, err := f.Write(chunk[:min(len(chunk), o.Size-n)]); err != nil {
				f.Close()
				return "", err
			}
		}
		return fmt.Sprintf("wrote %d bytes", o.Size), f.Close()
	case "remove":
		return "removed", os.Remove(o.Path)
	case "list":
		entries, err := os.ReadDir(o.Path)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return fmt.Sprint(names), err
	case "symlink":
		return "linked", os.Symlink(o.Target, o.Path)
	case "getenv":
		return os.Getenv(o.Path), nil
	case "environ":
		// The environment as WASI gives it now, and as the Go runtime
		// copied it at init (a clone's comes from the snapshot), sorted,
		// without the variable the handler's library sets per invocation.
		wasi := wasiEnviron()
		var goEnv []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "_X_AMZN_TRACE_ID=") {
				goEnv = append(goEnv, kv)
			}
		}
		sort.Strings(wasi)
		sort.Strings(goEnv)
		return fmt.Sprintf("%q\n%q", wasi, goEnv), nil
	case "cwd":
		return os.Getwd()
	case "clone-get":
		// A library that clones the default transport gets one that cannot
		// dial; its error says what to use instead.
		c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		resp, err := c.Get(o.Path)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	}
	return "", fmt.Errorf("unknown op %q", o.Op)
}

//go:wasmimport wasi_snapshot_preview1 environ_sizes_get
func environSizesGet(count, size *uint32) uint32

//go:wasmimport wasi_snapshot_preview1 environ_get
func environGet(ptrs *uint32, buf *byte) uint32

// wasiEnviron asks the host for the environment (os.Environ is the copy
// the Go runtime made at init).
func wasiEnviron() []string {
	var count, size uint32
	if environSizesGet(&count, &size) != 0 || count == 0 {
		return nil
	}
	ptrs, buf := make([]uint32, count), make([]byte, size)
	if environGet(&ptrs[0], &buf[0]) != 0 {
		return nil
	}
	base := uint32(uintptr(unsafe.Pointer(&buf[0])))
	env := make([]string, count)
	for i, p := range ptrs {
		s := buf[p-base:]
		env[i] = string(s[:bytes.IndexByte(s, 0)])
	}
	return env
}

func main() { lambda.Start(handler) }
