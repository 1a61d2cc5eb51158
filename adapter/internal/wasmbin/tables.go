package wasmbin

import (
	"errors"
	"fmt"
)

// boundTables rewrites a table section so that every table without a
// maximum gets one equal to its minimum: such a table cannot grow.
//
// wazero keeps a table's elements on the host's heap, outside the
// function's memory, and grows a table without a maximum as far as
// table.grow asks: a 54-byte module made ferry allocate 2 GB with one
// instruction, and a loop of them would take the process, and every
// function it serves, down. With a maximum, table.grow past it returns
// -1, the failure the specification gives it; the sizes a module declares
// are checked against the function's memory before it loads
// (adapter's checkDeclaredLimits). Compilers targeting WASI (Go, wasi-sdk,
// Rust, TinyGo) do not grow tables.
func boundTables(body []byte) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		t := r.byte()
		if r.err == nil && t != 0x70 && t != 0x6f {
			// A table with an initializer (0x40) or of a typed reference
			// is beyond Wasm 2.0, which is what wazero compiles.
			return nil, fmt.Errorf("table %d: unsupported table type %#x", i, t)
		}
		flags := r.byte()
		min := r.u32()
		max := min
		switch {
		case r.err != nil:
		case flags == 1:
			max = r.u32()
		case flags != 0:
			return nil, fmt.Errorf("table %d: unsupported limits %#x", i, flags)
		}
		out = append(out, t, 1)
		out = appendU32(appendU32(out, min), max)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail(errors.New("bytes after the last table"))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: table section: %v", ErrMalformed, r.err)
	}
	return out, nil
}
