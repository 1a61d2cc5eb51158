package gobuild_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/internal/gobuild"
)

// TestListInputs lists what ferry serve --watch watches for the hello
// sample: its main.go, the guest SDK's sources (a replace to this
// checkout, so the user's to edit), ferry's go.mod and go.sum; nothing
// from the module cache and no tests.
func TestListInputs(t *testing.T) {
	in, err := gobuild.ListInputs(context.Background(), "../../samples/hello")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	for _, want := range []string{"samples/hello/main.go", "go.mod", "go.sum", "hostabi/guest/lambda/lambda.go"} {
		if !slices.Contains(in.Files, filepath.Join(root, want)) {
			t.Errorf("inputs lack %s: %v", want, in.Files)
		}
	}
	if !slices.Contains(in.Dirs, filepath.Join(root, "samples", "hello")) {
		t.Errorf("dirs lack samples/hello: %v", in.Dirs)
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	modCache := strings.TrimSpace(string(out))
	for _, f := range append(in.Files, in.Dirs...) {
		if strings.HasPrefix(f, modCache) || strings.HasSuffix(f, "_test.go") {
			t.Errorf("an input that is not the user's to edit: %s", f)
		}
	}
}
