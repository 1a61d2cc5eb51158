package adapter

import (
	"errors"
	"fmt"
)

// checkDeclaredLimits refuses a module that declares more memory or
// tables than a function of memoryMB may have, before wazero compiles or
// instantiates it. wazero allocates every table's minimum size at
// instantiation on the Go heap (8 bytes an element, up to 2^27 elements a
// table, and a module may declare many), outside the function's memory
// and so outside what the pod is sized for: a 26-byte module made ferry
// reserve 7.3 GB. Linear memory is held to the function's memory by the
// allocator (memory.go); declaring a minimum above it is refused here too,
// with a clearer message than the instantiation failure it would be.
//
// The tables may hold memoryMB<<20/64 elements in all (2 Mi for 128 MB,
// 16 MB of host memory: an eighth of the function's memory), counting each
// table at its maximum, as table.grow may take it there; real programs
// declare some thousands.
func checkDeclaredLimits(wasm []byte, memoryMB int) error {
	memBytes := uint64(memoryMB) << 20
	maxTable := memBytes / 64
	if len(wasm) < 8 {
		return nil // compile says what is wrong with it
	}
	r := &limitsReader{b: wasm[8:]}
	// tables is what the tables hold at instantiation, upTo what they may
	// grow to: a table without a maximum cannot grow under ferry
	// (wasmbin's boundTables), one with a maximum may reach it.
	var tables, upTo uint64
	table := func(min, max uint64, hasMax bool) error {
		tables += min
		if tables > maxTable {
			return fmt.Errorf("the module declares tables of %d elements or more; a function of %d MB may have at most %d", tables, memoryMB, maxTable)
		}
		if hasMax && max > maxTable {
			return fmt.Errorf("the module declares a table of up to %d elements; a function of %d MB may have at most %d", max, memoryMB, maxTable)
		}
		if !hasMax {
			max = min
		}
		if upTo += max; upTo > maxTable {
			return fmt.Errorf("the module declares tables that may grow to %d elements or more; a function of %d MB may have at most %d", upTo, memoryMB, maxTable)
		}
		return nil
	}
	memory := func(min uint64) error {
		if min > memBytes>>16 {
			return fmt.Errorf("the module declares a memory of at least %d MB; the function's memory is %d MB", min>>4, memoryMB)
		}
		return nil
	}
	for r.more() {
		id := r.byte()
		size := r.u32()
		body := r.bytes(uint64(size))
		if r.err != nil {
			break
		}
		s := &limitsReader{b: body}
		switch id {
		case 2: // imports
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				s.bytes(uint64(s.u32())) // module
				s.bytes(uint64(s.u32())) // name
				switch s.byte() {
				case 0: // function
					s.u32()
				case 1: // table
					s.refType()
					if err := s.limits(table); err != nil {
						return err
					}
				case 2: // memory
					if err := s.limits(func(min, _ uint64, _ bool) error { return memory(min) }); err != nil {
						return err
					}
				case 3: // global
					s.byte()
					s.byte()
				case 4: // tag
					s.byte()
					s.u32()
				default:
					s.fail()
				}
			}
		case 4: // tables
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				init := false
				if len(s.b) > 0 && s.b[0] == 0x40 {
					s.byte()
					s.byte()
					init = true
				}
				s.refType()
				if err := s.limits(table); err != nil {
					return err
				}
				if init {
					s.constExpr()
				}
			}
		case 5: // memories
			for n := s.u32(); n > 0 && s.err == nil; n-- {
				if err := s.limits(func(min, _ uint64, _ bool) error { return memory(min) }); err != nil {
					return err
				}
			}
		}
		if s.err != nil {
			// Refused rather than let through unchecked: wazero would
			// report the same section as malformed, or it holds something
			// this reader does not know and cannot vouch for.
			return fmt.Errorf("the module's section %d cannot be read to check its declared sizes", id)
		}
	}
	return nil
}

// limitsReader reads the few parts of the binary format checkDeclaredLimits
// needs; any error sticks.
type limitsReader struct {
	b   []byte
	err error
}

var errShort = errors.New("malformed")

func (r *limitsReader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *limitsReader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *limitsReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *limitsReader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *limitsReader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			r.fail()
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *limitsReader) u32() uint32 { return uint32(r.uleb(32)) }

// sleb skips a signed LEB128.
func (r *limitsReader) sleb() { r.uleb(64) }

// refType skips a reference type: one byte, or 0x63/0x64 and a heap type.
func (r *limitsReader) refType() {
	if c := r.byte(); c == 0x63 || c == 0x64 {
		r.sleb()
	}
}

// limits reads a limits pair (flags: bit 0 a maximum follows, bit 1
// shared, bit 2 64-bit) and passes it to check.
func (r *limitsReader) limits(check func(min, max uint64, hasMax bool) error) error {
	flags := r.byte()
	if flags > 7 {
		r.fail()
		return nil
	}
	min := r.uleb(64)
	var max uint64
	if flags&1 != 0 {
		max = r.uleb(64)
	}
	if r.err != nil {
		return nil
	}
	return check(min, max, flags&1 != 0)
}

// constExpr skips a table's initializer: ref.null, ref.func or
// global.get, then end.
func (r *limitsReader) constExpr() {
	for r.err == nil {
		switch r.byte() {
		case 0x0b: // end
			return
		case 0xd0: // ref.null heaptype
			r.sleb()
		case 0xd2, 0x23: // ref.func, global.get
			r.u32()
		default:
			r.fail()
		}
	}
}
