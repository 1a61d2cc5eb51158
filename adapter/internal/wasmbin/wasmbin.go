// Package wasmbin reads and rewrites just enough of a WebAssembly binary
// for ferry's snapshots: it exports every global the module defines (Go
// exports none of its eight, yet a snapshot must capture and restore them)
// and takes its active data segments out (so that instantiating a clone
// copies nothing: its memory is the snapshot), keeping them so the host can
// copy them itself when it starts an instance from scratch.
//
// Only the sections involved are parsed; everything else is copied byte
// for byte. A module this package cannot rewrite safely is reported with
// an error that says why, and the caller keeps the module as it was.
package wasmbin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Section ids (WebAssembly core spec, 5.5).
const (
	secCustom    = 0
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secData      = 11
	secDataCount = 12
)

// External kinds of imports and exports.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
)

// GlobalExportPrefix starts the name under which Rewrite exports global i:
// GlobalExportPrefix + decimal i.
const GlobalExportPrefix = "ferry:global:"

// Global is a global the module defines.
type Global struct {
	Index   uint32 // in the module's global index space (imports first)
	Mutable bool
	Export  string // the name Rewrite exported it under
}

// Segment is an active data segment: Data is copied to Offset of memory 0
// when an instance starts.
type Segment struct {
	Offset uint32
	Data   []byte
}

// Module is a rewritten module.
type Module struct {
	// Wasm is the rewritten binary.
	Wasm []byte
	// Globals are the globals the module defines, each now exported.
	Globals []Global
	// Segments are the module's active data segments, in order; Wasm has
	// none (they are passive when code refers to segments by index), so
	// instantiating it copies none of them.
	Segments []Segment
	// Exports are the names the module exported (before the rewrite).
	Exports []string
	// IsGo says the Go toolchain built the module (it has a go:buildid
	// custom section).
	IsGo bool
}

// Rewrite exports every global wasm defines and makes its active data
// segments passive. It fails, saying why, for modules whose state a
// snapshot of memory 0 and the globals would not capture: imported
// memories or mutable globals, more than one memory, shared memory, data
// segments placed by anything but a constant.
func Rewrite(wasm []byte) (*Module, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || binary.LittleEndian.Uint32(wasm[4:8]) != 1 {
		return nil, errors.New("not a WebAssembly 1.0 binary")
	}
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for r := (reader{b: wasm[8:]}); r.more(); {
		id := r.byte()
		n := r.u32()
		body := r.bytes(n)
		if id == secDataCount && r.err == nil {
			body, r.err = dataCountBody(body, !r.more())
		}
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		sections = append(sections, section{id, body})
	}

	m := &Module{}
	var importedGlobals uint32
	var exportBody []byte
	memories := 0
	hasDataCount := false
	for _, s := range sections {
		r := reader{b: s.body}
		switch s.id {
		case secCustom:
			if string(r.bytes(r.u32())) == "go:buildid" {
				m.IsGo = true
			}
		case secImport:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				r.name()
				r.name()
				switch kind := r.byte(); kind {
				case kindFunc:
					r.u32()
				case kindTable:
					r.byte()
					r.limits()
				case kindMemory:
					return nil, errors.New("the module imports its memory")
				case kindGlobal:
					r.byte()
					if r.byte() != 0 {
						return nil, errors.New("the module imports a mutable global")
					}
					importedGlobals++
				default:
					return nil, fmt.Errorf("import kind %d", kind)
				}
			}
		case secMemory:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				memories++
				if flags, _ := r.limits(); flags&2 != 0 {
					return nil, errors.New("the module's memory is shared")
				}
			}
		case secGlobal:
			n := r.u32()
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.byte() // value type
				mut := r.byte()
				r.constExpr()
				idx := importedGlobals + i
				m.Globals = append(m.Globals, Global{Index: idx, Mutable: mut == 1, Export: fmt.Sprint(GlobalExportPrefix, idx)})
			}
		case secExport:
			exportBody = s.body
		case secDataCount:
			hasDataCount = true
		case secData:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch flag := r.u32(); flag {
				case 1:
					r.bytes(r.u32())
				case 0, 2:
					if flag == 2 && r.u32() != 0 {
						return nil, errors.New("a data segment for a memory other than 0")
					}
					off, ok := r.offsetExpr()
					data := r.bytes(r.u32())
					if !ok && r.err == nil {
						return nil, errors.New("a data segment whose offset is not a constant")
					}
					m.Segments = append(m.Segments, Segment{Offset: off, Data: data})
				default:
					return nil, fmt.Errorf("data segment flag %d", flag)
				}
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, r.err)
		}
	}
	if memories != 1 {
		return nil, fmt.Errorf("the module defines %d memories, want 1", memories)
	}

	// The new export section: the old entries, then one per global.
	var exports []byte
	count := uint32(0)
	if exportBody != nil {
		r := reader{b: exportBody}
		count = r.u32()
		entries := r.b
		for i := uint32(0); i < count && r.err == nil; i++ {
			m.Exports = append(m.Exports, string(r.bytes(r.u32())))
			r.byte()
			r.u32()
		}
		if r.err != nil || len(r.b) != 0 {
			return nil, errors.New("malformed export section")
		}
		exports = append(exports, entries...)
	}
	for _, g := range m.Globals {
		exports = appendName(exports, g.Export)
		exports = append(exports, kindGlobal)
		exports = appendU32(exports, g.Index)
		count++
	}
	exports = append(appendU32(nil, count), exports...)

	out := append(make([]byte, 0, len(wasm)+len(exports)), wasm[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	wroteExports := false
	last := -1 // the last non-custom section: a missing export section goes after it (see Instrument)
	for i, s := range sections {
		if s.id != secCustom {
			last = i
		}
	}
	if last < 0 {
		emit(secExport, exports)
		wroteExports = true
	}
	for i, s := range sections {
		// Sections other than custom ones come in id order, except that
		// data count (12) precedes code (10): the export section goes
		// where it was, or before the first section that must follow it.
		if !wroteExports && s.id != secCustom && (s.id == secExport || s.id >= secStart) {
			emit(secExport, exports)
			wroteExports = true
			if s.id == secExport {
				continue
			}
		}
		switch {
		case s.id == secData:
			// Without a data count section no code refers to a segment
			// (memory.init and data.drop need one), so the segments can
			// go: wazero keeps a slice per segment per instance, and a Go
			// module has tens of thousands. Otherwise they stay, passive.
			if hasDataCount {
				emit(secData, passiveData(s.body))
			}
		default:
			emit(s.id, s.body)
		}
		if i == last && !wroteExports {
			emit(secExport, exports)
			wroteExports = true
		}
	}
	m.Wasm = out
	return m, nil
}

// dataCountBody returns the body of a data count section as wazero
// (v1.12) reads it. wazero decodes the count from the module's reader, not
// the section's, and takes a LEB128 cut short by the end of the module as
// 0: a section that ends the module (endsModule) with a body of 0 to 4
// bytes that all continue the LEB128 is a count of 0, returned as such so
// that sections can follow it. Anywhere else such a body reads into the
// next section, and wazero refuses the module. Other bodies are returned
// as they are.
func dataCountBody(body []byte, endsModule bool) ([]byte, error) {
	if len(body) > 4 {
		return body, nil
	}
	for _, b := range body {
		if b < 0x80 {
			return body, nil
		}
	}
	if !endsModule {
		return nil, fmt.Errorf("%w: data count cut short", ErrMalformed)
	}
	return []byte{0}, nil
}

// passiveData re-encodes a data section (already validated by Rewrite)
// with every segment passive.
func passiveData(body []byte) []byte {
	r := reader{b: body}
	n := r.u32()
	out := appendU32(nil, n)
	for ; n > 0; n-- {
		flag := r.u32()
		if flag == 2 {
			r.u32()
		}
		if flag != 1 {
			r.offsetExpr()
		}
		data := r.bytes(r.u32())
		out = append(out, 1)
		out = appendU32(out, uint32(len(data)))
		out = append(out, data...)
	}
	return out
}

type reader struct {
	b   []byte
	err error
}

var errShort = fmt.Errorf("%w: unexpected end", ErrMalformed)

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				r.fail(fmt.Errorf("%w: integer too large", ErrMalformed))
			}
			return uint32(v)
		}
	}
	r.fail(fmt.Errorf("%w: integer too long", ErrMalformed))
	return 0
}

// sleb reads a signed LEB128 of at most 64 bits.
func (r *reader) sleb() int64 {
	var v int64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
		if shift >= 70 {
			r.fail(fmt.Errorf("%w: integer too long", ErrMalformed))
			return 0
		}
	}
}

func (r *reader) name() { r.bytes(r.u32()) }

func (r *reader) limits() (flags byte, min uint32) {
	flags = r.byte()
	min = r.u32()
	if flags&1 != 0 {
		r.u32()
	}
	return flags, min
}

// constExpr skips a constant expression of the forms MVP and reference
// types allow; extended constant expressions are refused.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.sleb()
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.u32()
		case 0xd0: // ref.null
			r.byte()
		case 0xfd: // v128.const
			if r.u32() != 12 {
				r.fail(errors.New("unsupported constant expression"))
			}
			r.bytes(16)
		default:
			r.fail(fmt.Errorf("unsupported constant expression (opcode %#x)", op))
		}
	}
}

// offsetExpr reads a data segment's offset: ok when it is one i32.const.
func (r *reader) offsetExpr() (uint32, bool) {
	start := r.b
	if r.byte() == 0x41 {
		v := r.sleb()
		if r.byte() == 0x0b && r.err == nil {
			return uint32(v), true
		}
	}
	if r.err != nil {
		return 0, false
	}
	r.b = start
	r.constExpr()
	return 0, false
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
