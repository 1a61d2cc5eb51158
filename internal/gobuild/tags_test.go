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
// nethttpomithttp2 leaves out. (Function names stay in a stripped module:
// the runtime's tracebacks need them.)
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
	for _, name := range []string{"net/rpc.", "net/http.(*http2Framer).ReadFrame"} {
		if bytes.Contains(module, []byte(name)) {
			t.Errorf("the module has %s", name)
		}
	}
}
