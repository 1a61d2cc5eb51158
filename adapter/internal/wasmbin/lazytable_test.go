package wasmbin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// A table module's functions: f0…f3 (f_j returns 100+j, plus its argument
// for the odd ones, whose type differs), then call0(i) and call1(i), which
// call entry i as a function of type 0 and of type 1. Both are exported.
const (
	tableFuncs = 4
	call0      = tableFuncs
	call1      = tableFuncs + 1
)

// seg is an element segment of a table module: at offset, the functions
// funcs (-1: null, which needs exprs).
type seg struct {
	offset uint32
	funcs  []int
	exprs  bool // flags 4: expressions (ref.func, ref.null) instead of indices
	// passive: a segment no instruction uses (without table.init); it
	// still declares its functions for ref.func.
	passive bool
}

// tableModule is a module with a table of size entries filled by segs, the
// functions above (call0's body replaced by body0 unless nil), and the
// import sections given.
func tableModule(size uint32, segs []seg, body0 []byte, imports ...[]byte) []byte {
	var elems [][]byte
	for _, s := range segs {
		var e []byte
		switch {
		case s.passive && s.exprs:
			e = []byte{5, 0x70}
		case s.passive:
			e = []byte{1, 0}
		case s.exprs:
			e = append(appendSleb([]byte{4, 0x41}, int64(int32(s.offset))), 0x0b)
		default:
			e = append(appendSleb([]byte{0, 0x41}, int64(int32(s.offset))), 0x0b)
		}
		e = appendU32(e, uint32(len(s.funcs)))
		for _, f := range s.funcs {
			switch {
			case !s.exprs:
				e = appendU32(e, uint32(f))
			case f < 0:
				e = append(e, 0xd0, 0x70, 0x0b)
			default:
				e = append(appendU32(append(e, 0xd2), uint32(f)), 0x0b)
			}
		}
		elems = append(elems, e)
	}
	var funcs, codes [][]byte
	for j := range tableFuncs {
		b := []byte{0, 0x41} // i32.const 100+j
		b = appendSleb(b, int64(100+j))
		funcs = append(funcs, []byte{byte(j % 2)})
		if j%2 == 1 {
			b = append(b, 0x20, 0, 0x6a) // local.get 0; i32.add
		}
		codes = append(codes, append(b, 0x0b))
	}
	if body0 == nil {
		body0 = []byte{0, 0x20, 0, 0x11, 0, 0, 0x0b} // local.get 0; call_indirect type 0
	}
	codes = append(codes, body0,
		[]byte{0, 0x41, 7, 0x20, 0, 0x11, 1, 0, 0x0b}) // i32.const 7; local.get 0; call_indirect type 1
	funcs = append(funcs, []byte{1}, []byte{1})
	for i, c := range codes {
		codes[i] = append(appendU32(nil, uint32(len(c))), c...)
	}
	s := [][]byte{section(secType, vec([]byte{0x60, 0, 1, 0x7f}, []byte{0x60, 1, 0x7f, 1, 0x7f}))}
	s = append(s, imports...)
	s = append(s,
		section(secFunction, vec(funcs...)),
		section(secTable, vec(append([]byte{0x70, 0}, appendU32(nil, size)...))),
		section(secExport, vec(
			append(appendName(nil, "call0"), kindFunc, call0),
			append(appendName(nil, "call1"), kindFunc, call1),
		)),
	)
	s = append(s, section(secElement, vec(elems...)), section(secCode, vec(codes...)))
	return module(s...)
}

// sectionsOf splits a module (valid: made by a test) into its sections.
func sectionsOf(t testing.TB, wasm []byte) []rawSection {
	t.Helper()
	var sections []rawSection
	for r := (reader{b: wasm[8:]}); r.more(); {
		id := r.byte()
		sections = append(sections, rawSection{id, r.bytes(r.u32())})
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	return sections
}

// withSection returns wasm with the body of its section id replaced.
func withSection(t testing.TB, wasm []byte, id byte, body []byte) []byte {
	t.Helper()
	var parts [][]byte
	for _, s := range sectionsOf(t, wasm) {
		if s.id == id {
			s.body = body
		}
		parts = append(parts, section(s.id, s.body))
	}
	return module(parts...)
}

// callAll calls call0 and call1 on every entry of the table and a few past
// it, twice each (the second time, a lazy table's entry is filled), and
// says what each returned or how it trapped.
func callAll(t testing.TB, wasm []byte, size uint32) string {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, wasm)
	if err != nil {
		return "instantiate: " + err.Error()
	}
	var out strings.Builder
	for i := range uint64(size) + 3 {
		for range 2 {
			for _, name := range []string{"call0", "call1"} {
				res, err := mod.ExportedFunction(name).Call(ctx, i)
				if err != nil {
					// The first line is the trap; the stack trace names
					// functions by index, and they are the same.
					msg, _, _ := strings.Cut(err.Error(), "\n")
					fmt.Fprintf(&out, "%s(%d): %s\n", name, i, msg)
				} else {
					fmt.Fprintf(&out, "%s(%d) = %d\n", name, i, int32(res[0]))
				}
			}
		}
	}
	return out.String()
}

// checkLazyTable is the property: the instrumented module behaves as the
// original at every entry of its table.
func checkLazyTable(t testing.TB, wasm []byte, size uint32) (lazy bool) {
	t.Helper()
	out, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	want, got := callAll(t, wasm, size), callAll(t, out, size)
	if got != want {
		t.Fatalf("the instrumented module behaves differently:\n%s\noriginal:\n%s", got, want)
	}
	lt, _ := planLazyTable(sectionsOf(t, out), 0)
	return lt == nil && !bytes.Equal(sectionBody(sectionsOf(t, wasm), secElement), sectionBody(sectionsOf(t, out), secElement))
}

func TestLazyTable(t *testing.T) {
	// Entries 0, 1 and 9 are null, 8 is set then cleared, 6 and 7
	// overwritten, 11 is call1 itself; 12…14 are past the table.
	segs := []seg{
		{offset: 2, funcs: []int{0, 1, 2, 3, 0, 1}},
		{offset: 6, funcs: []int{3, 1, 2}, exprs: true},
		{offset: 8, funcs: []int{-1}, exprs: true},
		{offset: 10, funcs: []int{0, call1}},
	}
	wasm := tableModule(12, segs, nil)
	if !checkLazyTable(t, wasm, 12) {
		t.Fatal("the table was not made lazy")
	}
	// What the calls do, as the original does (checked above): the
	// entries set, the type mismatches, the null ones, those past the end.
	got := callAll(t, wasm, 12)
	for _, want := range []string{
		"call0(2) = 100\n", "call1(3) = 108\n", "call1(6) = 110\n", "call0(4) = 102\n", "call1(7) = 108\n",
		"call0(0): wasm error: invalid table access\n", "call0(8): wasm error: invalid table access\n",
		"call0(3): wasm error: indirect call type mismatch\n",
		"call1(11) = 108\n", // call1(7) through the table
		"call0(12): wasm error: invalid table access\n", "call0(14): wasm error: invalid table access\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// TestLazyTableChunks fills a table of 1,000 entries from 300 on, across
// chunks and with gaps, which the two-level dispatch must find.
func TestLazyTableChunks(t *testing.T) {
	var segs []seg
	for off := uint32(300); off < 1000; off += 70 {
		segs = append(segs, seg{offset: off, funcs: []int{int(off % 4), 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0}})
	}
	if !checkLazyTable(t, tableModule(1000, segs, nil), 1000) {
		t.Fatal("the table was not made lazy")
	}
}

// TestLazyTableIneligible: modules whose table may be observed other than
// by call_indirect keep their segments, and behave as before.
func TestLazyTableIneligible(t *testing.T) {
	segs := []seg{{offset: 1, funcs: []int{0, 1, 2}}}
	tableSize := []byte{0, 0xfc, 16, 0, 0x0b} // table.size 0 (as call0's body)
	importG := section(secImport, vec(append(append(appendName(nil, "env"), appendName(nil, "g")...), kindGlobal, 0x7f, 0)))
	for _, c := range []struct {
		name, reason string
		wasm         []byte
	}{
		{"table.size", "", tableModule(4, segs, tableSize)},
		{"past the end", "past the table's end", tableModule(3, segs, nil)},
		{"exported", "exports its table", withSection(t, tableModule(4, segs, nil), secExport, vec(
			append(appendName(nil, "call0"), kindFunc, call0),
			append(appendName(nil, "call1"), kindFunc, call1),
			append(appendName(nil, "table"), kindTable, 0),
		))},
		{"computed offset", "not a constant", withSection(t, tableModule(4, nil, nil, importG),
			secElement, vec([]byte{0, 0x23, 0, 0x0b, 1, 0}))}, // offset global.get 0 (imported)
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := compileErr(c.wasm); err != nil {
				t.Fatalf("wazero refuses the module: %v", err)
			}
			lt, reason := planLazyTable(sectionsOf(t, c.wasm), 0)
			if c.reason != "" && (lt != nil || !strings.Contains(reason, c.reason)) {
				t.Fatalf("plan %v, reason %q, want %q", lt != nil, reason, c.reason)
			}
			out, err := Instrument(c.wasm)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sectionBody(sectionsOf(t, c.wasm), secElement), sectionBody(sectionsOf(t, out), secElement)) {
				t.Fatal("the element section changed")
			}
			if c.name != "computed offset" { // its global is imported
				if checkLazyTable(t, c.wasm, 4) {
					t.Fatal("made lazy")
				}
			}
		})
	}
}

// TestLazyTableSamples: the Go and C samples' tables are made lazy.
func TestLazyTableSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the samples")
	}
	for i, wasm := range sampleModules(t) {
		lt, reason := planLazyTable(sectionsOf(t, wasm), 0)
		if lt == nil {
			t.Fatalf("sample %d: %s", i, reason)
		}
		out, err := Instrument(wasm)
		if err != nil {
			t.Fatal(err)
		}
		if lt, _ := planLazyTable(sectionsOf(t, out), 0); lt != nil {
			t.Fatalf("sample %d: the instrumented module still fills its table at instantiation", i)
		}
		if err := compileErr(out); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
}

// FuzzLazyTable checks the lazy table against wazero's eager one: data
// describes the table's size and segments.
func FuzzLazyTable(f *testing.F) {
	f.Add([]byte{12, 2, 6, 0, 1, 2, 3, 0, 1, 0x86, 3, 3, 0xff, 2})
	f.Add([]byte{200, 100, 64, 1, 2, 3, 190, 20, 0})
	f.Add([]byte{5, 4, 3, 1, 2, 3})
	f.Add([]byte{8, 0xc0, 2, 1, 2, 0x81, 1, 5}) // a passive segment, a null
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		size := uint32(data[0])
		var segs []seg
		for r := data[1:]; len(r) >= 2 && len(segs) < 8; {
			s := seg{offset: uint32(r[0] & 0x3f), passive: r[0]&0x40 != 0, exprs: r[0]&0x80 != 0}
			n := int(r[1] % 32)
			r = r[2:]
			for ; n > 0 && len(r) > 0; n-- {
				// f0…f3 or call0 (not call1: call1 at entry 7 would
				// recurse until the stack overflows), or null.
				f := int(r[0] % (tableFuncs + 2))
				if f == tableFuncs+1 {
					f = -1
					if !s.exprs {
						f = int(r[0] % (tableFuncs + 1))
					}
				}
				s.funcs = append(s.funcs, f)
				r = r[1:]
			}
			segs = append(segs, s)
		}
		checkLazyTable(t, tableModule(size, segs, nil), size)
	})
}

// BenchmarkCallIndirect is the worst case for the lazy table's check: a
// loop whose body is one call_indirect of a function that adds a constant,
// 10^7 iterations, instrumented with the table filled eagerly (exported,
// so left as it is) and lazily.
func BenchmarkCallIndirect(b *testing.B) {
	loop := []byte{1, 1, 0x7f, 0x03, 0x40, // one i32 local; loop
		0x20, 1, 0x41, 3, 0x11, 1, 0, 0x21, 1, // acc = table[3](acc)
		0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, // br_if (n -= 1) != 0
		0x0b, 0x20, 1, 0x0b} // end; acc
	lazy := tableModule(8, []seg{{offset: 2, funcs: []int{0, 1, 2, 3}}}, loop)
	eager := withSection(b, lazy, secExport, vec(
		append(appendName(nil, "call0"), kindFunc, call0),
		append(appendName(nil, "table"), kindTable, 0),
	))
	for _, c := range []struct {
		name string
		wasm []byte
	}{{"eager", eager}, {"lazy", lazy}} {
		b.Run(c.name, func(b *testing.B) {
			wasm, err := Instrument(c.wasm)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			r := wazero.NewRuntime(ctx)
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			fn := mod.ExportedFunction("call0")
			for range b.N {
				if res, err := fn.Call(ctx, 10_000_000); err != nil || int32(res[0]) != 1_010_000_000 {
					b.Fatal(res, err)
				}
			}
		})
	}
}
