package adapter_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// sectionsModule is a module of the given sections (id, then body bytes,
// lengths under 128).
func sectionsModule(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s[0], byte(len(s)-1))
		b = append(b, s[1:]...)
	}
	return b
}

// TestDeclaredLimits: a tiny module that declares huge tables (wazero
// allocates each table's minimum on the host's heap when it instantiates
// the module) or more memory than the function has is refused when it is
// loaded, with a message that says why, before wazero compiles it.
func TestDeclaredLimits(t *testing.T) {
	e := sampletest.Engine(t)
	huge := []byte{0x80, 0x80, 0x80, 0x40} // 2^27, wazero's most elements a table
	tables := []byte{4, 7}
	for i := 0; i < 7; i++ {
		tables = append(append(tables, 0x70, 0x00), huge...)
	}
	for _, c := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"seven 2^27 tables", sectionsModule(tables), "the module declares tables of 134217728 elements or more; a function of 128 MB may have at most 2097152"},
		{"a table's maximum", sectionsModule([]byte{4, 1, 0x70, 0x01, 0x01, 0x80, 0x80, 0x80, 0x40}), "the module declares a table of up to 134217728 elements"},
		{"tables whose maximums add up", sectionsModule([]byte{4, 2, 0x70, 0x01, 0x00, 0x80, 0x80, 0x60, 0x70, 0x01, 0x00, 0x80, 0x80, 0x60}), "the module declares tables that may grow to 3145728 elements or more"},
		{"an imported table", sectionsModule([]byte{2, 1, 3, 'e', 'n', 'v', 1, 't', 1, 0x70, 0x00, 0x80, 0x80, 0x80, 0x40}), "the module declares tables of 134217728 elements or more"},
		{"memory above the function's", sectionsModule([]byte{5, 1, 0x00, 0x80, 0x20}), "the module declares a memory of at least 256 MB; the function's memory is 128 MB"},
		{"a truncated table section", sectionsModule([]byte{4, 2, 0x70, 0x00, 0x01}), "the module's section 4 cannot be read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), c.wasm, adapter.Config{Name: "limits"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant %q", err, c.want)
			}
		})
	}
	// Within bounds a module gets past the check to the next one: this
	// one has no exports for ferry to call.
	ok := sectionsModule([]byte{4, 1, 0x70, 0x00, 0x80, 0x80, 0x01}, []byte{5, 1, 0x01, 0x10, 0x80, 0x10})
	if _, err := e.Load(context.Background(), ok, adapter.Config{Name: "limits-ok", Memory: 256}); err == nil || strings.Contains(err.Error(), "declares") {
		t.Fatalf("within bounds: %v", err)
	}
}

// TestTableCannotGrow: a table declared without a maximum cannot grow
// past its size (wasmbin's boundTables): wazero would grow it on the
// host's heap, outside the function's memory, as far as table.grow asks
// (this module's 54-byte cousin made ferry allocate 2 GB). The guest
// traps unless table.grow fails with -1, and runs again.
func TestTableCannotGrow(t *testing.T) {
	e := sampletest.Engine(t)
	grow := sectionsModule(
		[]byte{1, 1, 0x60, 0x00, 0x00}, // type: func()
		[]byte{3, 1, 0x00},             // function 0: type 0
		[]byte{4, 1, 0x70, 0x00, 0x00}, // table: funcref, min 0, no maximum
		[]byte{7, 1, 6, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00},
		// if table.grow(ref.null, 1 Mi) != -1 { unreachable }
		[]byte{10, 1, 19, 0x00, 0xd0, 0x70, 0x41, 0x80, 0x80, 0xc0, 0x00, 0xfc, 0x0f, 0x00, 0x41, 0x7f, 0x47, 0x04, 0x40, 0x00, 0x0b, 0x0b},
	)
	f, err := e.Load(context.Background(), grow, adapter.Config{Name: "table-grow"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	for range 2 {
		res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatalf("table.grow of a table without a maximum did not fail: %s %s", res.ErrorType, res.Payload)
		}
	}
}
