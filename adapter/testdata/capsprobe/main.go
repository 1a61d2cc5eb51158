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

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type op struct {
	Op     string `json:"op"` // read, write, remove, list, symlink, getenv, cwd, clone-get
	Path   string `json:"path"`
	Target string `json:"target"`
	Size   int    `json:"size"`
}

func handler(ctx context.Context, o op) (string, error) {
	switch o.Op {
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

func main() { lambda.Start(handler) }
