package wasmbin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func section(id byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(append([]byte{id}, appendU32(nil, uint32(len(b)))...), b...)
}

func vec(items ...[]byte) []byte {
	return append(appendU32(nil, uint32(len(items))), bytes.Join(items, nil)...)
}

func module(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

// tiny is a module with one memory, an immutable and a mutable global, an
// export of the memory, and two active data segments.
func tiny(extra ...[]byte) []byte {
	s := [][]byte{
		section(secMemory, vec([]byte{0, 1})), // min 1 page
		section(secGlobal, vec(
			[]byte{0x7f, 0, 0x41, 7, 0x0b},                // i32 const 7
			[]byte{0x7e, 1, 0x42, 0xc0, 0xbb, 0x78, 0x0b}, // mut i64 -123456
		)),
		section(secExport, vec(append(appendName(nil, "memory"), kindMemory, 0))),
		section(secCustom, appendName(nil, "note"), []byte("kept")),
	}
	s = append(s, extra...) // before the data section, as a data count must be
	s = append(s,
		section(secData, vec(
			append([]byte{0, 0x41, 16, 0x0b}, appendName(nil, "hello")...),
			append([]byte{2, 0, 0x41, 0x80, 0x02, 0x0b}, appendName(nil, "world")...), // offset 256
		)),
	)
	return module(s...)
}

func TestRewrite(t *testing.T) {
	ctx := context.Background()
	m, err := Rewrite(tiny())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Globals) != 2 || m.Globals[0].Mutable || !m.Globals[1].Mutable || m.Globals[1].Export != "ferry:global:1" {
		t.Fatalf("globals %+v", m.Globals)
	}
	if len(m.Segments) != 2 || m.Segments[0].Offset != 16 || string(m.Segments[0].Data) != "hello" ||
		m.Segments[1].Offset != 256 || string(m.Segments[1].Data) != "world" {
		t.Fatalf("segments %+v", m.Segments)
	}
	if len(m.Exports) != 1 || m.Exports[0] != "memory" {
		t.Fatalf("exports %q", m.Exports)
	}
	if !bytes.Contains(m.Wasm, []byte("kept")) {
		t.Fatal("custom section lost")
	}

	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	// The original copies its segments; the rewrite does not, but exports
	// its globals with their values.
	orig, err := r.InstantiateWithConfig(ctx, tiny(), wazero.NewModuleConfig().WithName("orig"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := orig.Memory().Read(16, 5); string(b) != "hello" {
		t.Fatalf("original memory %q", b)
	}
	mod, err := r.InstantiateWithConfig(ctx, m.Wasm, wazero.NewModuleConfig().WithName("rewritten"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := mod.Memory().Read(16, 5); !bytes.Equal(b, make([]byte, 5)) {
		t.Fatalf("rewritten module copied its data: %q", b)
	}
	if v := mod.ExportedGlobal("ferry:global:0").Get(); v != 7 {
		t.Fatalf("global 0 = %d", v)
	}
	g, ok := mod.ExportedGlobal("ferry:global:1").(api.MutableGlobal)
	if !ok || int64(g.Get()) != -123456 {
		t.Fatalf("global 1: %v %d", ok, int64(g.Get()))
	}
	g.Set(42)
	if g.Get() != 42 {
		t.Fatal("set")
	}
	if mod.ExportedMemory("memory") == nil {
		t.Fatal("original export lost")
	}
}

func TestRewriteNoExportSection(t *testing.T) {
	wasm := module(
		section(secMemory, vec([]byte{0, 1})),
		section(secGlobal, vec([]byte{0x7f, 1, 0x41, 1, 0x0b})),
		section(secStart-0+2, vec()), // element section (9) follows exports
	)
	m, err := Rewrite(wasm)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, m.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	if mod.ExportedGlobal("ferry:global:0") == nil {
		t.Fatal("global not exported")
	}
}

func TestRewriteRefuses(t *testing.T) {
	for _, c := range []struct {
		name, want string
		wasm       []byte
	}{
		{"not wasm", "not a WebAssembly", []byte("hello world")},
		{"truncated", "unexpected end", tiny()[:30]},
		{"no memory", "0 memories", module(section(secGlobal, vec()))},
		{"shared memory", "shared", module(section(secMemory, vec([]byte{3, 1, 2})))},
		{"imported memory", "imports its memory", module(section(secImport, vec(
			append(append(appendName(nil, "env"), appendName(nil, "mem")...), kindMemory, 0, 1))))},
		{"imported mutable global", "mutable global", module(section(secImport, vec(
			append(append(appendName(nil, "env"), appendName(nil, "g")...), kindGlobal, 0x7f, 1))))},
		{"computed offset", "not a constant", module(
			section(secMemory, vec([]byte{0, 1})),
			section(secData, vec(append([]byte{0, 0x23, 0, 0x0b}, appendName(nil, "x")...))))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Rewrite(c.wasm)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

// TestRewriteKeepsSegmentsCodeRefersTo: with a data count section (code
// may use memory.init or data.drop) the segments stay, passive, so their
// indices still hold; without one the data section goes.
func TestRewriteKeepsSegmentsCodeRefersTo(t *testing.T) {
	for _, withCount := range []bool{false, true} {
		var count []byte
		if withCount {
			count = section(secDataCount, appendU32(nil, 2))
		}
		m, err := Rewrite(tiny(count))
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(m.Wasm, []byte("hello")); got != withCount {
			t.Fatalf("data count %v: segments kept %v", withCount, got)
		}
		if len(m.Segments) != 2 {
			t.Fatalf("segments %+v", m.Segments)
		}
		ctx := context.Background()
		r := wazero.NewRuntime(ctx)
		mod, err := r.Instantiate(ctx, m.Wasm)
		if err != nil {
			t.Fatalf("data count %v: %v", withCount, err)
		}
		if b, _ := mod.Memory().Read(16, 5); !bytes.Equal(b, make([]byte, 5)) {
			t.Fatalf("data count %v: data copied at instantiation: %q", withCount, b)
		}
		r.Close(ctx)
	}
}
