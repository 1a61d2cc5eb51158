package adapter

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// panickingRuntime is a wazero runtime whose compiler panics, as
// v1.12.0's validator did on some malformed modules.
type panickingRuntime struct{ wazero.Runtime }

func (panickingRuntime) CompileModule(context.Context, []byte) (wazero.CompiledModule, error) {
	var types []int
	_ = types[48] // index out of range, as wazero's was
	return nil, nil
}

// TestWazeroPanicIsAnError: a panic in wazero's compilation comes back as
// the module's error, not as the process's crash.
func TestWazeroPanicIsAnError(t *testing.T) {
	m, err := wazeroCompile(context.Background(), panickingRuntime{}, []byte("\x00asm\x01\x00\x00\x00"))
	if m != nil || err == nil || !strings.Contains(err.Error(), "wazero failed on the module: runtime error: index out of range") {
		t.Fatalf("CompileModule = %v, %v", m, err)
	}
}
