package gobuild_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/internal/gobuild"
)

// TestHandlerModuleKeepsItsOwnVersions builds a handler the way a user's
// module holds one: its own go.mod requiring aws-sdk-go-v2 at an old version
// and ferry's guest SDK (replaced to this checkout, as the README says to
// before a release). The SDK being a module of its own means the handler's
// graph gains aws-lambda-go and nothing of ferry's host (wazero, k8s,
// prometheus), and minimal version selection leaves aws-sdk-go-v2 where the
// handler put it. The require and replace lines are the README's. It
// needs the module proxy (or a warm module cache).
func TestHandlerModuleKeepsItsOwnVersions(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain on PATH")
	}
	sdk, err := filepath.Abs(filepath.Join("..", "..", "hostabi", "guest"))
	if err != nil {
		t.Fatal(err)
	}
	// The go.mod lines the README tells a user to write, with the path of
	// this checkout for /path/to/ferry.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var require, replace string
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case require == "" && strings.HasPrefix(line, "require github.com/ferrywasm/ferry/hostabi/guest "):
			require = strings.TrimPrefix(line, "require ")
		case replace == "" && strings.HasPrefix(line, "replace github.com/ferrywasm/ferry/hostabi/guest => /path/to/ferry/hostabi/guest"):
			replace = strings.Replace(strings.TrimPrefix(line, "replace "), "/path/to/ferry/hostabi/guest", sdk, 1)
		}
	}
	if require == "" || replace == "" {
		t.Fatalf("README.md lacks the require and replace lines for a handler's go.mod (found %q, %q)", require, replace)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", `module example.com/handler

go 1.26.0

require github.com/aws/aws-sdk-go-v2 v1.30.0

require `+require+`

replace `+replace+"\n")
	write("main.go", `package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, name string) (string, error) {
		return aws.ToString(aws.String("hello " + name)), nil
	})
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "tidy")
	all := goCmd("list", "-m", "all")
	versions := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			versions[f[0]] = f[1]
		}
		for _, host := range []string{"tetratelabs/wazero", "k8s.io/", "prometheus", "go-containerregistry", "github.com/ferrywasm/ferry "} {
			if strings.Contains(line+" ", host) {
				t.Errorf("the handler's module graph holds %q, a dependency of ferry's host, not of the SDK", line)
			}
		}
	}
	if v := versions["github.com/aws/aws-sdk-go-v2"]; v != "v1.30.0" {
		t.Errorf("aws-sdk-go-v2 is %s in the handler's graph, want the handler's own v1.30.0\n%s", v, all)
	}
	if _, ok := versions["github.com/aws/aws-lambda-go"]; !ok {
		t.Errorf("aws-lambda-go missing from the handler's graph:\n%s", all)
	}

	out := filepath.Join(t.TempDir(), "handler.wasm")
	if err := gobuild.Build(ctx, dir, out); err != nil {
		t.Fatalf("ferry build of the handler module: %v", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("ferry build wrote no module: %v", err)
	}
}
