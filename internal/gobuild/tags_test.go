package gobuild_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrywasm/ferry/internal/gobuild"
)

// TestBuildTags builds testdata/tagged with a build tag in GOFLAGS, as a
// user sets one: the module has the tagged file's string, so the user's
// tags still apply, and none of net/rpc, which aws-lambda-go's
// lambda.norpc tag leaves out, nor net/http's bundled HTTP/2, which
// nethttpomithttp2 leaves out. Nor crypto/tls: a handler that makes no
// HTTP request links no TLS, since the guest SDK builds its handler
// without aws-lambda-go's Extensions API client (hostabi/guest's
// internal/awshandler). (Function names stay in a stripped module: the
// runtime's tracebacks need them.)
func TestBuildTags(t *testing.T) {
	t.Setenv("GOFLAGS", "-tags=ferry_test_tag")
	out := filepath.Join(t.TempDir(), "tagged.wasm")
	if err := gobuild.Build(context.Background(), "testdata/tagged", out); err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(module, []byte("built with ferry_test_tag")) {
		t.Error("the user's tag from GOFLAGS was not applied")
	}
	if !bytes.Contains(module, []byte("runtime.gopanic")) {
		t.Fatal("no function names in the module: the checks below would prove nothing")
	}
	for _, name := range []string{"net/rpc.", "net/http.(*http2Framer).ReadFrame", "crypto/tls.(*Conn)."} {
		if bytes.Contains(module, []byte(name)) {
			t.Errorf("the module has %s", name)
		}
	}
}

// TestCacheKeyHoldsGOFLAGS: a module built with other GOFLAGS (or GOWASM)
// is built again, not taken from the cache, and the first is still found.
func TestCacheKeyHoldsGOFLAGS(t *testing.T) {
	t.Setenv("FERRY_CACHE_DIR", t.TempDir())
	t.Setenv("GOFLAGS", "")
	ctx := context.Background()
	first, err := gobuild.CachedBuild(ctx, "testdata/tagged")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range [][2]string{{"GOFLAGS", "-tags=ferry_test_tag"}, {"GOFLAGS", "-gcflags=-l"}, {"GOWASM", "satconv"}} {
		t.Run(env[0]+"="+env[1], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			r, err := gobuild.CachedBuild(ctx, "testdata/tagged")
			if err != nil {
				t.Fatal(err)
			}
			if !r.Built || r.Path == first.Path {
				t.Errorf("with %s=%s: built %v, %s (without: %s)", env[0], env[1], r.Built, r.Path, first.Path)
			}
		})
	}
	again, err := gobuild.CachedBuild(ctx, "testdata/tagged")
	if err != nil {
		t.Fatal(err)
	}
	if again.Built || again.Path != first.Path {
		t.Errorf("built %v, %s; want the first, %s, from the cache", again.Built, again.Path, first.Path)
	}
}
