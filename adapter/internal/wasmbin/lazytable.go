package wasmbin

import (
	"errors"
	"fmt"
	"slices"
)

// Lazy function table (see DESIGN.md, "Filling the function table
// lazily").
//
// wazero fills a module's function table from its active element segments
// at every instantiation: per entry it evaluates the constant expression
// and allocates the function reference (which holds the instance's module
// context). A Go module has about 9,000 entries, and that is most of the
// time a snapshot's clone takes to start. Instrument therefore removes the
// segments, when that cannot be observed, and fills each entry on first
// use instead: before every call_indirect (index i on the stack),
//
//	local.tee $i; table.get 0; ref.is_null
//	if; local.get $i; call $fill; end
//	local.get $i
//
// $fill(i) sets entry i to the reference the segments would have put
// there (table.set i (ref.func f)), or leaves it null when no segment
// covers it, so the call_indirect then traps as it did. An index out of
// the table traps in table.get, with wazero's same error as in
// call_indirect (invalid table access). $fill dispatches on i/lazyChunk with a
// br_table to one function per group of lazyChunk entries, each of which
// dispatches on the rest with another: a single br_table over 9,000 entries
// would need as many nested blocks. The segments are replaced by one
// declarative segment of the functions they listed, which wazero needs to
// accept ref.func on them and does nothing with at instantiation.
//
// The new functions are neither loops nor recursive, so Instrument leaves
// them without interruption checks: a fill runs two br_tables, one
// ref.func (an exit to Go in wazero's compiled code) and one table.set.

// lazyChunk is how many table entries one chunk function covers.
const (
	lazyChunkBits = 6
	lazyChunk     = 1 << lazyChunkBits
)

// maxLazySpan bounds the span of table entries the segments cover (the
// plan holds one word per entry of it).
const maxLazySpan = 1 << 20

// errTableUsed is instrumentCode's error for code that reads or changes
// the table other than by call_indirect: its entries must then be there
// from the start.
var errTableUsed = errors.New("code uses the table")

// lazyTable is a module's table as its element segments fill it.
type lazyTable struct {
	lo    uint32   // the first entry any segment sets
	funcs []uint64 // entry lo+k refers to function funcs[k]-1; 0: null
	// declared are the functions the element section names, in order of
	// first appearance, for the declarative segment.
	declared []uint32
}

// planLazyTable decides from the module's sections whether its table can
// be filled lazily, and what with; when not, it says why. The code is
// checked afterwards (errTableUsed). importedTables is the count of table
// imports.
func planLazyTable(sections []rawSection, importedTables uint32) (*lazyTable, string) {
	if importedTables != 0 {
		return nil, "the module imports a table"
	}
	r := reader{b: sectionBody(sections, secTable)}
	if n := r.u32(); r.err != nil || n != 1 {
		return nil, "the module does not define exactly one table"
	}
	if t := r.byte(); t != 0x70 {
		return nil, fmt.Sprintf("the table's type is %#x, not funcref", t)
	}
	flags, size := r.limits()
	if r.err != nil || flags&^1 != 0 {
		return nil, "the table's limits are not plain 32-bit ones"
	}
	r = reader{b: sectionBody(sections, secExport)}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		if r.byte() == kindTable {
			return nil, "the module exports its table"
		}
		r.u32()
	}
	if r.err != nil {
		return nil, "malformed export section"
	}

	// The entries in the order the segments set them: a later segment
	// overwrites an earlier one.
	type set struct {
		at, fn uint32
		null   bool
	}
	var sets []set
	lt := &lazyTable{}
	seen := map[uint32]bool{}
	declare := func(f uint32) {
		if !seen[f] {
			seen[f] = true
			lt.declared = append(lt.declared, f)
		}
	}
	r = reader{b: sectionBody(sections, secElement)}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		flags := r.u32()
		if flags > 7 || r.err != nil {
			return nil, "malformed element section"
		}
		if flags&3 == 2 && r.u32() != 0 {
			return nil, "an element segment for another table"
		}
		active := flags&1 == 0
		var off uint32
		if active {
			var ok bool
			if off, ok = r.offsetExpr(); !ok {
				return nil, "an element segment whose offset is not a constant"
			}
		}
		if flags&3 != 0 {
			if t := r.byte(); t != 0 && t != 0x70 { // elemkind funcref, reftype funcref
				return nil, "an element segment not of function references"
			}
		}
		m := r.count()
		if active && uint64(off)+uint64(m) > uint64(size) {
			// wazero stops filling the table there, silently.
			return nil, "an element segment past the table's end"
		}
		for k := uint32(0); k < m && r.err == nil; k++ {
			fn, null := uint32(0), false
			if flags&4 == 0 {
				fn = r.u32()
			} else {
				switch op := r.byte(); op {
				case 0xd2: // ref.func
					fn = r.u32()
				case 0xd0: // ref.null
					r.valType()
					null = true
				default:
					return nil, "an element segment with a computed reference"
				}
				if r.byte() != 0x0b {
					return nil, "an element segment with a computed reference"
				}
			}
			if !null {
				declare(fn)
			}
			if active {
				sets = append(sets, set{off + k, fn, null})
			}
		}
	}
	if r.err != nil {
		return nil, "malformed element section"
	}
	if !slices.ContainsFunc(sets, func(s set) bool { return !s.null }) {
		return nil, "no element segment puts a function in the table"
	}
	lo, hi := sets[0].at, sets[0].at+1
	for _, s := range sets {
		lo, hi = min(lo, s.at), max(hi, s.at+1)
	}
	if hi-lo > maxLazySpan {
		return nil, "the element segments are spread too wide"
	}
	lt.lo = lo
	lt.funcs = make([]uint64, hi-lo)
	for _, s := range sets {
		lt.funcs[s.at-lo] = 0 // null
		if !s.null {
			lt.funcs[s.at-lo] = uint64(s.fn) + 1
		}
	}
	return lt, ""
}

// chunks returns the chunks (of lazyChunk entries from lo rounded down)
// that have an entry to fill.
func (lt *lazyTable) chunks() []uint32 {
	base := lt.lo &^ (lazyChunk - 1)
	var out []uint32
	for k, fn := range lt.funcs {
		c := (lt.lo + uint32(k) - base) / lazyChunk
		if fn != 0 && (len(out) == 0 || out[len(out)-1] != c) {
			out = append(out, c)
		}
	}
	return out
}

// functions returns the bodies (each with its size first) of $fill, index
// fill, and of its chunk functions, which follow it.
func (lt *lazyTable) functions(fill uint32) [][]byte {
	base := lt.lo &^ (lazyChunk - 1)
	chunks := lt.chunks()
	// $fill: br_table on (i - base) / lazyChunk to the case that calls
	// the chunk's function.
	labels := make([]uint32, chunks[len(chunks)-1]+1)
	for c := range labels {
		labels[c] = uint32(len(chunks)) // the default: nothing to fill
	}
	for p, c := range chunks {
		labels[c] = uint32(p)
	}
	var cases []byte
	for p := range chunks {
		cases = append(cases, 0x20, 0, 0x10) // local.get 0; call
		cases = appendU32(cases, fill+1+uint32(p))
		cases = append(cases, 0x0f, 0x0b) // return; end
	}
	bodies := [][]byte{dispatch(base, lazyChunkBits, labels, uint32(len(chunks)), cases)}

	for _, c := range chunks {
		from := base + c*lazyChunk
		labels := make([]uint32, lazyChunk)
		cases = cases[:0]
		n := uint32(0)
		for j := range labels {
			at := from + uint32(j)
			if at < lt.lo || at-lt.lo >= uint32(len(lt.funcs)) || lt.funcs[at-lt.lo] == 0 {
				labels[j] = ^uint32(0)
				continue
			}
			labels[j] = n
			n++
			// local.get 0; ref.func f; table.set 0; return; end
			cases = append(cases, 0x20, 0, 0xd2)
			cases = appendU32(cases, uint32(lt.funcs[at-lt.lo]-1))
			cases = append(cases, 0x26, 0, 0x0f, 0x0b)
		}
		for j := range labels {
			if labels[j] == ^uint32(0) {
				labels[j] = n
			}
		}
		bodies = append(bodies, dispatch(from, 0, labels, n, cases))
	}
	return bodies
}

// dispatch is the body of a function of one i32 parameter i that runs
// case labels[(i-base)>>shift] of the n in cases (each ends with the end
// of its block; label n, and every i past the labels, does nothing), with
// its size first.
func dispatch(base uint32, shift byte, labels []uint32, n uint32, cases []byte) []byte {
	body := []byte{0} // no locals
	for range n + 1 {
		body = append(body, 0x02, 0x40) // block
	}
	body = append(body, 0x20, 0, 0x41) // local.get 0; i32.const base
	body = appendSleb(body, int64(int32(base)))
	body = append(body, 0x6b) // i32.sub
	if shift != 0 {
		body = append(body, 0x41, shift, 0x76) // i32.const shift; i32.shr_u
	}
	body = append(body, 0x0e) // br_table
	body = appendU32(body, uint32(len(labels)))
	for _, l := range labels {
		body = appendU32(body, l)
	}
	body = appendU32(body, n)
	body = append(body, 0x0b) // the innermost block's end: case 0 follows
	body = append(body, cases...)
	body = append(body, 0x0b) // the function's end
	return append(appendU32(nil, uint32(len(body))), body...)
}

// elements is the element section that replaces the segments: one
// declarative segment of the functions they listed.
func (lt *lazyTable) elements() []byte {
	if len(lt.declared) == 0 {
		return []byte{0}
	}
	out := []byte{1, 3, 0} // one segment: declarative, elemkind funcref
	out = appendU32(out, uint32(len(lt.declared)))
	for _, f := range lt.declared {
		out = appendU32(out, f)
	}
	return out
}

// lazyCall is what instrumentFunc inserts before a call_indirect, for a
// function whose new local is local.
func lazyCall(out []byte, local, fill uint32) []byte {
	out = append(out, 0x22) // local.tee
	out = appendU32(out, local)
	out = append(out, 0x25, 0, 0xd1, 0x04, 0x40, 0x20) // table.get 0; ref.is_null; if; local.get
	out = appendU32(out, local)
	out = append(out, 0x10) // call
	out = appendU32(out, fill)
	out = append(out, 0x0b, 0x20) // end; local.get
	return appendU32(out, local)
}

// lazyCode is what instrumentCode needs to make a module's table lazy.
type lazyCode struct {
	table  *lazyTable
	fill   uint32   // $fill's function index
	params []uint32 // each defined function's parameter count
	bodies [][]byte // $fill's and the chunk functions' bodies, sizes first
}

// newLazyCode plans the lazy table of a module (nil: it keeps its
// segments) whose types have params parameters, whose defined functions
// have types funcTypes, with $fill at index fill and types types.
func newLazyCode(sections []rawSection, importedTables uint32, params, funcTypes []uint32, fill, types uint32) *lazyCode {
	lt, _ := planLazyTable(sections, importedTables)
	if lt == nil || types >= 1<<32-2 {
		return nil
	}
	lc := &lazyCode{table: lt, fill: fill, params: make([]uint32, len(funcTypes))}
	for i, t := range funcTypes {
		if t >= uint32(len(params)) {
			return nil // invalid: wazero refuses the module anyway
		}
		lc.params[i] = params[t]
	}
	lc.bodies = lt.functions(fill)
	if uint64(fill)+uint64(len(lc.bodies)) > 1<<32-1 {
		return nil
	}
	return lc
}
