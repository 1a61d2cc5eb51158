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
		// A table with an initializer: 0x40 0x00, the table type, then
		// the expression its elements start as.
		withInit := len(r.b) > 0 && r.b[0] == 0x40
		if withInit {
			r.byte()
			if r.byte() != 0 && r.err == nil {
				return nil, fmt.Errorf("%w: table %d: no 0x00 after 0x40", ErrMalformed, i)
			}
		}
		typeStart := r.b
		switch t := r.byte(); t {
		case 0x70, 0x6f, 0x69: // funcref, externref, exnref
		case 0x63, 0x64: // (ref null ht), (ref ht)
			r.sleb()
		default:
			// Not a reference type: wazero refuses it too.
			if r.err == nil {
				return nil, fmt.Errorf("%w: table %d: type %#x is not a reference type", ErrMalformed, i, t)
			}
		}
		refType := typeStart[:len(typeStart)-len(r.b)]
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
		var init []byte
		if withInit {
			initStart := r.b
			r.constExpr()
			init = initStart[:len(initStart)-len(r.b)]
			out = append(out, 0x40, 0)
		}
		out = append(out, refType...)
		out = append(out, 1)
		out = appendU32(appendU32(out, min), max)
		out = append(out, init...)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail(errors.New("bytes after the last table"))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: table section: %v", ErrMalformed, r.err)
	}
	return out, nil
}
