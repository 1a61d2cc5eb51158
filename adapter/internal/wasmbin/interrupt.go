package wasmbin

import (
	"errors"
	"fmt"
	"strings"
)

// Interruption (see DESIGN.md, "Interrupting guests").
//
// wazero stops a running guest only when its runtime is built
// WithCloseOnContextDone, and then its compiled code calls back into Go at
// every loop back-edge to ask whether the module was closed: Go-on-Wasm
// has a loop in nearly every function, and a CPU-bound guest runs 3–7×
// slower. Instrument instead gives the module two globals of its own and
// a check at every function entry and every loop header:
//
//	global.get $countdown; i32.const 1; i32.lt_s
//	if; call $yield; end
//	global.get $countdown; i32.const 1; i32.sub; global.set $countdown
//
// $yield runs once every YieldPeriod checks: it executes memory.grow 0,
// which wazero's compiled code cannot do itself, so it returns to Go (a
// point where the Go scheduler can stop the goroutine for a garbage
// collection: without it a stop-the-world waits forever for a guest that
// never calls the host); then it traps (unreachable) if the interrupt flag
// is set, and otherwise restarts the countdown. The host sets the flag and
// zeroes the countdown to interrupt, so the guest traps at its next check.
//
// Every guest stops this way: loops, loop-free recursion and call trees
// (each call is a function entry), and host calls (they return into a
// check). Only straight-line code runs between two checks.

// YieldPeriod is how many checks the guest makes between two returns to
// Go: each return costs about as much as a few hundred checks, and the
// time between two of them bounds how long a garbage collection can wait
// for a busy guest (and the interrupt latency when the host's write to
// the countdown is lost to the guest's own decrement).
const YieldPeriod = 20000

// The names under which Instrument exports its globals.
const (
	InterruptFlagExport      = "ferry:interrupt"
	InterruptCountdownExport = "ferry:countdown"
	// StartExport is the module's start function, which Instrument
	// exports instead of leaving it in the start section: the host calls
	// it once the instance exists (and its flag can be set), under the
	// init deadline, and a snapshot's clones do not run it again.
	StartExport = "ferry:start"
)

// ErrMalformed is Instrument's error for a module that is not valid
// WebAssembly (one it could not decode is refused with another error).
var ErrMalformed = errors.New("malformed module")

// ErrLimit is Instrument's error for a module that declares more than
// ferry accepts (WebAssembly allows more): wazero allocates what a module
// declares before it checks it, so a module of a few bytes could take
// gigabytes.
var ErrLimit = errors.New("over an implementation limit")

// MaxLocals bounds the locals of a function, as browsers do (the
// JavaScript API's implementation limits).
const MaxLocals = 50000

// Section ids Instrument touches besides those of Rewrite.
const (
	secType     = 1
	secFunction = 3
	secTable    = 4
	secElement  = 9
	secCode     = 10
	secTag      = 13
)

// order is the position of each non-custom section in a valid module.
var order = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5,
	secTag: 6, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10,
	secDataCount: 11, secCode: 12, secData: 13,
}

// Instrument returns wasm with interruption checks (see above): the
// exported globals InterruptFlagExport (i32, set it to non-zero to
// interrupt) and InterruptCountdownExport (i32, set it to 0 for the guest
// to look at the flag at its next check). A module without a memory gets
// an empty one for memory.grow. The module's function table is filled on
// first use of each entry instead of at instantiation, when nothing but
// call_indirect can tell (lazytable.go). Custom sections that hold code offsets
// (DWARF .debug_*, sourceMappingURL) are dropped: the checks move the
// code. It fails, saying why, on what it cannot decode (instructions of
// proposals wazero does not enable: exception handling, GC).
func Instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: not a WebAssembly binary", ErrMalformed)
	}
	var sections []rawSection
	present := map[byte]bool{}
	for r := (reader{b: wasm[8:]}); r.more(); {
		id := r.byte()
		n := r.u32()
		body := r.bytes(n)
		if id == secDataCount && r.err == nil {
			body, r.err = dataCountBody(body, !r.more())
		}
		if r.err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", ErrMalformed, id, r.err)
		}
		if id == secCustom {
			cr := reader{b: body}
			name := cr.bytes(cr.u32())
			if cr.err != nil {
				return nil, fmt.Errorf("custom section: %w", cr.err)
			}
			if strings.HasPrefix(string(name), ".debug_") || string(name) == "sourceMappingURL" {
				continue
			}
		} else if _, ok := order[id]; !ok {
			return nil, fmt.Errorf("%w: unknown section id %d", ErrMalformed, id)
		} else if id != secStart && id != secDataCount {
			// Each entry of a vector takes a byte at least: a larger count
			// is malformed, and wazero would allocate for it before
			// finding out (gigabytes, for a module of a few bytes).
			cr := reader{b: body}
			if n := cr.u32(); cr.err != nil || int(n) > len(cr.b) {
				return nil, fmt.Errorf("%w: section %d declares %d entries in %d bytes", ErrMalformed, id, n, len(body))
			}
		}
		if id == secTable {
			var err error
			if body, err = boundTables(body); err != nil {
				return nil, err
			}
		}
		present[id] = true
		sections = append(sections, rawSection{id, body})
	}

	// What the new entries' indices are: after every existing one.
	var types, importedFuncs, importedGlobals, importedTables, funcs, globals uint32
	var params []uint32    // per type
	var funcTypes []uint32 // per function defined
	memories := 0
	exportNames := map[string]bool{}
	start, hasStart := uint32(0), false
	for _, s := range sections {
		r := reader{b: s.body}
		switch s.id {
		case secType:
			// types counts type indexes: a recursion group (0x4e) of
			// function types, which wazero compiles, defines one per member.
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				members := uint32(1)
				if len(r.b) > 0 && r.b[0] == 0x4e {
					r.byte()
					members = r.count()
				}
				for ; members > 0 && r.err == nil; members-- {
					if form := r.byte(); form != 0x60 {
						return nil, fmt.Errorf("type %d: form %#x (only function types are supported)", types, form)
					}
					n := r.count()
					params = append(params, n)
					for ; n > 0 && r.err == nil; n-- {
						r.valType()
					}
					for n := r.count(); n > 0 && r.err == nil; n-- { // results
						r.valType()
					}
					types++
				}
			}
		case secElement:
			if err := checkElements(&r); err != nil {
				return nil, err
			}
		case secData:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch flag := r.u32(); flag {
				case 0, 2:
					if flag == 2 {
						r.u32()
					}
					r.constExpr()
				case 1:
				default:
					return nil, fmt.Errorf("%w: data segment flag %d", ErrMalformed, flag)
				}
				r.bytes(r.u32())
			}
		case secCustom:
			if err := checkNames(s.body); err != nil {
				return nil, err
			}
		case secImport:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				r.name()
				r.name()
				switch kind := r.byte(); kind {
				case kindFunc:
					importedFuncs++
					if t := r.u32(); t >= types && r.err == nil {
						return nil, fmt.Errorf("%w: imported function %d has type %d of %d", ErrMalformed, importedFuncs-1, t, types)
					}
				case kindTable:
					importedTables++
					r.valType() // its reference type
					r.limits()
				case kindMemory:
					memories++
					r.limits()
				case kindGlobal:
					importedGlobals++
					r.byte()
					r.byte()
				default:
					return nil, fmt.Errorf("%w: import kind %d", ErrMalformed, kind)
				}
			}
		case secFunction:
			funcs = r.count()
			funcTypes = make([]uint32, 0, funcs)
			for i := uint32(0); i < funcs && r.err == nil; i++ {
				// Checked here, not left to wazero: v1.12.0's validator
				// looks up a callee's type before it checks the callee's
				// type index, and panics on one past the type section.
				t := r.u32()
				if t >= types && r.err == nil {
					return nil, fmt.Errorf("%w: function %d has type %d of %d", ErrMalformed, importedFuncs+i, t, types)
				}
				funcTypes = append(funcTypes, t)
			}
		case secMemory:
			memories += int(r.u32())
		case secGlobal:
			globals = r.u32()
		case secStart:
			start, hasStart = r.u32(), true
		case secExport:
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				exportNames[string(r.bytes(r.u32()))] = true
				r.byte()
				r.u32()
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, r.err)
		}
	}
	for _, name := range []string{InterruptFlagExport, InterruptCountdownExport, StartExport} {
		if exportNames[name] {
			return nil, fmt.Errorf("the module already exports %q", name)
		}
	}
	if types == 1<<32-1 || funcs == 1<<32-1 || globals >= 1<<32-2 {
		return nil, errors.New("too many entries to add one")
	}
	yieldType := types
	yieldFunc := importedFuncs + funcs
	flag := importedGlobals + globals
	countdown := flag + 1

	// The check, and $yield's body.
	check := []byte{0x23}
	check = appendU32(check, countdown)
	check = append(check, 0x41, 1, 0x48, 0x04, 0x40, 0x10) // i32.const 1; i32.lt_s; if; call
	check = appendU32(check, yieldFunc)
	check = append(check, 0x0b, 0x23) // end; global.get
	check = appendU32(check, countdown)
	check = append(check, 0x41, 1, 0x6b, 0x24) // i32.const 1; i32.sub; global.set
	check = appendU32(check, countdown)

	yield := []byte{0, 0x41, 0, 0x40, 0, 0x1a, 0x23} // no locals; i32.const 0; memory.grow 0; drop; global.get
	yield = appendU32(yield, flag)
	yield = append(yield, 0x04, 0x40, 0x00, 0x0b, 0x41) // if; unreachable; end; i32.const
	yield = appendSleb(yield, YieldPeriod)
	yield = append(yield, 0x24)
	yield = appendU32(yield, countdown)
	yield = append(yield, 0x0b)

	rewritten := map[byte][]byte{}
	var err error
	// The function table is filled lazily (lazytable.go) when nothing but
	// call_indirect uses it: instrumentCode finds out.
	lazy := newLazyCode(sections, importedTables, params, funcTypes, yieldFunc+1, types)
	code := sectionBody(sections, secCode)
	rewritten[secCode], err = instrumentCode(code, check, yield, lazy)
	if errors.Is(err, errTableUsed) {
		lazy = nil
		rewritten[secCode], err = instrumentCode(code, check, yield, nil)
	}
	if err != nil {
		return nil, err
	}
	newTypes, nTypes := []byte{0x60, 0, 0}, uint32(1)        // $yield: [] → []
	newFuncs, nFuncs := appendU32(nil, yieldType), uint32(1) // $yield
	if lazy != nil {
		newTypes, nTypes = append(newTypes, 0x60, 1, 0x7f, 0), 2 // $fill and its chunks: [i32] → []
		for range lazy.bodies {
			newFuncs = appendU32(newFuncs, yieldType+1)
			nFuncs++
		}
		rewritten[secElement] = lazy.table.elements()
	}
	if rewritten[secType], err = appendEntries(sectionBody(sections, secType), nTypes, newTypes); err != nil {
		return nil, err
	}
	if rewritten[secFunction], err = appendEntries(sectionBody(sections, secFunction), nFuncs, newFuncs); err != nil {
		return nil, err
	}
	g := append([]byte{0x7f, 1, 0x41, 0, 0x0b}, 0x7f, 1, 0x41) // mut i32 = 0; mut i32 = YieldPeriod
	g = append(appendSleb(g, YieldPeriod), 0x0b)
	if rewritten[secGlobal], err = appendEntries(sectionBody(sections, secGlobal), 2, g); err != nil {
		return nil, err
	}
	var ex []byte
	ex = append(appendName(ex, InterruptFlagExport), kindGlobal)
	ex = appendU32(ex, flag)
	ex = append(appendName(ex, InterruptCountdownExport), kindGlobal)
	ex = appendU32(ex, countdown)
	nex := uint32(2)
	if hasStart {
		ex = append(appendName(ex, StartExport), kindFunc)
		ex = appendU32(ex, start)
		nex++
	}
	if rewritten[secExport], err = appendEntries(sectionBody(sections, secExport), nex, ex); err != nil {
		return nil, err
	}
	if memories == 0 {
		rewritten[secMemory] = []byte{1, 1, 0, 0} // one memory, min 0, max 0
	}
	if !present[secCode] && funcs != 0 {
		return nil, fmt.Errorf("%w: function section without code section", ErrMalformed)
	}

	out := append(make([]byte, 0, len(wasm)+len(wasm)/32+256), wasm[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// Sections keep their places; a new one goes before the first
	// section that must follow it.
	emitMissing := func(before int) {
		for _, id := range []byte{secType, secFunction, secMemory, secGlobal, secExport, secCode} {
			if body, ok := rewritten[id]; ok && !present[id] && order[id] < before {
				emit(id, body)
				delete(rewritten, id)
			}
		}
	}
	// What is still missing goes right after the last non-custom section,
	// not at the end: wazero reads a name section's subsections by their
	// contents, and a last one whose declared size overruns them would
	// swallow a section put after it.
	last := lastStandard(sections)
	if last < 0 {
		emitMissing(1 << 30)
	}
	for i, s := range sections {
		switch {
		case s.id == secCustom:
			emit(s.id, s.body)
		case s.id == secStart:
			// exported instead
		default:
			emitMissing(order[s.id])
			if body, ok := rewritten[s.id]; ok {
				emit(s.id, body)
			} else {
				emit(s.id, s.body)
			}
		}
		if i == last {
			emitMissing(1 << 30)
		}
	}
	return out, nil
}

type rawSection struct {
	id   byte
	body []byte
}

// lastStandard is the index of the last non-custom section, -1 if none.
func lastStandard(sections []rawSection) int {
	for i := len(sections) - 1; i >= 0; i-- {
		if sections[i].id != secCustom {
			return i
		}
	}
	return -1
}

func sectionBody(sections []rawSection, id byte) []byte {
	for _, s := range sections {
		if s.id == id {
			return s.body
		}
	}
	return nil
}

// appendEntries adds n entries to a vector-shaped section body (nil: an
// empty one).
func appendEntries(body []byte, n uint32, entries []byte) ([]byte, error) {
	r := reader{b: body}
	count := uint32(0)
	if body != nil {
		count = r.u32()
		if r.err != nil {
			return nil, r.err
		}
	}
	out := appendU32(nil, count+n)
	out = append(out, r.b...)
	return append(out, entries...), nil
}

// instrumentCode puts check at the start of every function body and of
// every loop, and appends the body of $yield; with lazy, it also puts the
// table check before every call_indirect and appends lazy's functions.
func instrumentCode(body, check, yield []byte, lazy *lazyCode) ([]byte, error) {
	r := reader{b: body}
	n := uint32(0)
	if body != nil {
		n = r.u32()
	}
	var extra [][]byte
	if lazy != nil {
		if int(n) != len(lazy.params) {
			return nil, fmt.Errorf("%w: %d function bodies for %d functions", ErrMalformed, n, len(lazy.params))
		}
		extra = lazy.bodies
	}
	out := make([]byte, 0, len(body)+len(body)/16+64)
	out = appendU32(out, n+1+uint32(len(extra)))
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		code := r.bytes(size)
		if r.err != nil {
			return nil, fmt.Errorf("code section: %w", r.err)
		}
		var err error
		fn, err = instrumentFunc(fn[:0], code, check, lazy, i)
		if err != nil {
			if err == errTableUsed {
				return nil, err
			}
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.err == nil && len(r.b) != 0 {
		return nil, fmt.Errorf("%w: code section: trailing bytes", ErrMalformed)
	}
	out = appendU32(out, uint32(len(yield)))
	out = append(out, yield...)
	for _, b := range extra {
		out = append(out, b...)
	}
	return out, nil
}

// instrumentFunc appends the instrumented body of function i (code) to
// out.
func instrumentFunc(out, code, check []byte, lazy *lazyCode, i uint32) ([]byte, error) {
	r := reader{b: code}
	groups := r.count()
	groupsLen := len(code) - len(r.b)
	locals := uint64(0)
	for n := groups; n > 0 && r.err == nil; n-- {
		locals += uint64(r.u32())
		r.valType()
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals > MaxLocals {
		return nil, fmt.Errorf("%w: %d locals (at most %d)", ErrLimit, locals, MaxLocals)
	}
	start := len(out)
	decls := code[:len(code)-len(r.b)]
	out = append(out, decls...)
	out = append(out, check...)
	// The local that holds a call_indirect's index, after the others.
	var tmp uint32
	if lazy != nil {
		tmp = lazy.params[i] + uint32(locals)
	}
	usedTmp := false
	for r.more() {
		insn := r.b
		op := r.byte()
		if lazy != nil {
			switch op {
			case 0x11, 0x13: // call_indirect, return_call_indirect
				out = lazyCall(out, tmp, lazy.fill)
				usedTmp = true
			case 0x25, 0x26: // table.get, table.set
				return nil, errTableUsed
			case 0xfc:
				// table.init, elem.drop, table.copy, table.grow, table.size, table.fill
				if peek := r; peek.u32()-12 <= 5 {
					return nil, errTableUsed
				}
			}
		}
		loop := op == 0x03
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, insn[:len(insn)-len(r.b)]...)
		if loop {
			out = append(out, check...)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if usedTmp {
		// One more group of locals: one i32.
		body := out[start+len(decls):]
		redecl := appendU32(nil, groups+1)
		redecl = append(redecl, decls[groupsLen:]...)
		redecl = append(redecl, 1, 0x7f)
		out = append(out[:start], append(redecl, body...)...)
	}
	return out, nil
}

// valType reads a value type: one byte, or a reference type with a heap
// type (typed function references).
func (r *reader) valType() {
	switch t := r.byte(); t {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.sleb()
	}
}

func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u64()
}

func (r *reader) u64() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail(fmt.Errorf("%w: integer too long", ErrMalformed))
}

// skipImmediates reads the immediates of op (WebAssembly 2.0, with the
// tail-call and threads proposals wazero implements).
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		// no immediates
	case op >= 0x02 && op <= 0x04: // block, loop, if: a block type
		r.sleb()
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0x12, op == 0xd2,
		op >= 0x20 && op <= 0x26:
		r.u32()
	case op == 0x0e: // br_table
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.sleb()
	case op == 0x42:
		r.sleb64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.sleb()
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7:
		case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17:
			r.u32()
		default:
			return fmt.Errorf("unknown instruction 0xfc %d", sub)
		}
	case op == 0xfd:
		switch sub := r.u32(); {
		case sub <= 11, sub == 92, sub == 93: // loads and stores
			r.memarg()
		case sub == 12, sub == 13: // v128.const, i8x16.shuffle
			r.bytes(16)
		case sub >= 21 && sub <= 34: // extract and replace lane
			r.byte()
		case sub >= 84 && sub <= 91: // load and store lane
			r.memarg()
			r.byte()
		case sub <= 0xff:
		default:
			return fmt.Errorf("unknown instruction 0xfd %d (relaxed SIMD is not supported)", sub)
		}
	case op == 0xfe:
		switch sub := r.u32(); {
		case sub == 3: // atomic.fence
			r.byte()
		case sub <= 0x4e:
			r.memarg()
		default:
			return fmt.Errorf("unknown instruction 0xfe %d", sub)
		}
	default:
		return fmt.Errorf("unsupported instruction %#x (exception handling and GC are not supported)", op)
	}
	return nil
}

// sleb64 reads a signed LEB128 of up to 10 bytes.
func (r *reader) sleb64() { r.u64() }

func appendSleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// count reads a vector's length, which cannot be more than the bytes left
// (every entry takes one at least).
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)) {
		r.fail(fmt.Errorf("%w: %d entries in %d bytes", ErrMalformed, n, len(r.b)))
		return 0
	}
	return n
}

// checkElements reads an element section, checking its vectors' lengths.
func checkElements(r *reader) error {
	for n := r.count(); n > 0 && r.err == nil; n-- {
		flags := r.u32()
		if flags > 7 {
			return fmt.Errorf("%w: element segment flags %d", ErrMalformed, flags)
		}
		if flags&3 == 2 { // an explicit table index
			r.u32()
		}
		if flags&1 == 0 { // active: an offset
			r.constExpr()
		}
		if flags&3 != 0 { // an element kind or reference type
			r.valType()
		}
		for m := r.count(); m > 0 && r.err == nil; m-- {
			if flags&4 != 0 {
				r.constExpr()
			} else {
				r.u32()
			}
		}
	}
	return nil
}

// checkNames checks the lengths in a name section as wazero reads them:
// by their contents, not by the subsections' sizes.
func checkNames(body []byte) error {
	r := reader{b: body}
	if string(r.bytes(r.u32())) != "name" {
		return nil
	}
	for r.more() {
		id := r.byte()
		size := r.u32()
		switch id {
		case 0:
			r.name()
		case 1, 2:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				r.u32()
				if id == 1 {
					r.name()
					continue
				}
				for m := r.count(); m > 0 && r.err == nil; m-- {
					r.u32()
					r.name()
				}
			}
		default:
			r.bytes(size)
		}
	}
	return r.err
}
