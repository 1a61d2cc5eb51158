package jsonencode

import (
	"encoding/base64"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// maxDepth is how deep in pointers, maps, slices and interfaces Append
// goes before it gives the value to encoding/json, which starts looking
// for cycles there (and reports one as an error).
const maxDepth = 1000

// Append appends the JSON of v, a value of the Encoder's type, as
// encoding/json's Encoder writes it with SetEscapeHTML(escapeHTML) and no
// indentation, without the newline Encode ends with. It reports false,
// with b's contents past len(b) in any state, when the value is to be
// written by encoding/json: a float that is NaN or infinite, a value
// nested deeper than maxDepth, an interface holding a type For refuses,
// or a v of another type.
func (enc *Encoder) Append(b []byte, v any, escapeHTML bool) ([]byte, bool) {
	e := encodeState{escapeHTML: escapeHTML}
	if enc.root.kind == kindInterface {
		return e.iface(b, v)
	}
	if reflect.TypeOf(v) != enc.root.typ {
		return b, false
	}
	return e.value(b, dataOf(&v, enc.root), enc.root)
}

// dataOf is a pointer to the value the interface *v holds, whose plan is
// p: its data word, or the word itself for a pointer-shaped type.
func dataOf(v *any, p *plan) unsafe.Pointer {
	ef := (*eface)(unsafe.Pointer(v))
	if p.direct {
		return unsafe.Pointer(&ef.data)
	}
	return ef.data
}

type encodeState struct {
	escapeHTML bool
	depth      int
}

// value appends the value of plan pl at p.
func (e *encodeState) value(b []byte, p unsafe.Pointer, pl *plan) ([]byte, bool) {
	switch pl.kind {
	case kindBool:
		if *(*bool)(p) {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case kindInt:
		return strconv.AppendInt(b, loadInt(p, pl.bits), 10), true
	case kindUint:
		return strconv.AppendUint(b, loadUint(p, pl.bits), 10), true
	case kindFloat:
		if pl.bits == 32 {
			return appendFloat(b, float64(*(*float32)(p)), 32)
		}
		return appendFloat(b, *(*float64)(p), 64)
	case kindString:
		return appendString(b, *(*string)(p), e.escapeHTML), true
	case kindBytes:
		s := *(*[]byte)(p)
		if s == nil {
			return append(b, "null"...), true
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, s)
		return append(b, '"'), true
	case kindStruct:
		return e.structValue(b, p, pl)
	case kindInterface:
		return e.iface(b, *(*any)(p))
	}
	// The kinds that nest: each counts one level, as encoding/json's
	// ptrLevel does.
	if e.depth >= maxDepth {
		return b, false
	}
	e.depth++
	b, ok := e.nested(b, p, pl)
	e.depth--
	return b, ok
}

// nested appends a value of a kind that holds others.
func (e *encodeState) nested(b []byte, p unsafe.Pointer, pl *plan) ([]byte, bool) {
	switch pl.kind {
	case kindPointer:
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			return append(b, "null"...), true
		}
		return e.value(b, q, pl.elem)
	case kindStrings:
		return e.strings(b, *(*[]string)(p)), true
	case kindSlice:
		return e.slice(b, p, pl)
	case kindStringMap:
		return e.stringMap(b, *(*map[string]string)(p)), true
	case kindListMap:
		return e.listMap(b, *(*map[string][]string)(p))
	case kindAnyMap:
		return e.anyMap(b, *(*map[string]any)(p))
	case kindMap:
		return e.mapValue(b, p, pl)
	}
	return b, false
}

func loadInt(p unsafe.Pointer, bits int) int64 {
	switch bits {
	case 8:
		return int64(*(*int8)(p))
	case 16:
		return int64(*(*int16)(p))
	case 32:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
}

func loadUint(p unsafe.Pointer, bits int) uint64 {
	switch bits {
	case 8:
		return uint64(*(*uint8)(p))
	case 16:
		return uint64(*(*uint16)(p))
	case 32:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// appendFloat is encoding/json's floatEncoder: ES6's number formatting,
// and false (encoding/json's UnsupportedValueError) for NaN and
// infinities.
func appendFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	// float32 comparisons for a float32, for the exact cutoffs.
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 is written e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

func (e *encodeState) structValue(b []byte, p unsafe.Pointer, pl *plan) ([]byte, bool) {
	next := byte('{')
	for i := range pl.fields {
		f := &pl.fields[i]
		fp := unsafe.Add(p, f.offset)
		if f.omitEmpty && empty(fp, f.plan) {
			continue
		}
		b = append(b, next)
		next = ','
		if e.escapeHTML {
			b = append(b, f.nameHTML...)
		} else {
			b = append(b, f.name...)
		}
		var ok bool
		if b, ok = e.value(b, fp, f.plan); !ok {
			return b, false
		}
	}
	if next == '{' {
		return append(b, "{}"...), true
	}
	return append(b, '}'), true
}

// empty is encoding/json's isEmptyValue, for omitempty: false, 0, a nil
// pointer or interface, an empty string, slice or map. A float is empty
// as 0 and as -0 (reflect's IsZero compares with 0).
func empty(p unsafe.Pointer, pl *plan) bool {
	switch pl.kind {
	case kindBool:
		return !*(*bool)(p)
	case kindInt:
		return loadInt(p, pl.bits) == 0
	case kindUint:
		return loadUint(p, pl.bits) == 0
	case kindFloat:
		if pl.bits == 32 {
			return *(*float32)(p) == 0
		}
		return *(*float64)(p) == 0
	case kindString:
		return len(*(*string)(p)) == 0
	case kindPointer:
		return *(*unsafe.Pointer)(p) == nil
	case kindInterface:
		return *(*any)(p) == nil
	case kindBytes, kindSlice, kindStrings:
		return (*sliceHeader)(p).len == 0
	case kindStringMap:
		return len(*(*map[string]string)(p)) == 0
	case kindListMap:
		return len(*(*map[string][]string)(p)) == 0
	case kindAnyMap:
		return len(*(*map[string]any)(p)) == 0
	case kindMap:
		return reflectMap(p, pl).Len() == 0
	}
	return false // a struct
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// iface appends the value an empty interface holds, as its dynamic type
// is written.
func (e *encodeState) iface(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, v, e.escapeHTML), true
	case float64:
		return appendFloat(b, v, 64)
	case bool:
		if v {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	}
	pl := plans.get(reflect.TypeOf(v))
	if pl == nil {
		return b, false
	}
	if e.depth >= maxDepth {
		return b, false
	}
	e.depth++
	b, ok := e.value(b, dataOf(&v, pl), pl)
	e.depth--
	return b, ok
}

func (e *encodeState) strings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v, e.escapeHTML)
	}
	return append(b, ']')
}

func (e *encodeState) slice(b []byte, p unsafe.Pointer, pl *plan) ([]byte, bool) {
	s := (*sliceHeader)(p)
	if s.data == nil {
		return append(b, "null"...), true
	}
	size := pl.elem.typ.Size()
	b = append(b, '[')
	for i := range s.len {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = e.value(b, unsafe.Add(s.data, uintptr(i)*size), pl.elem); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// stringMap appends m with its keys in order, as all of a map's writers
// here do: encoding/json sorts the keys as strings.Compare does.
func (e *encodeState) stringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(small[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, e.escapeHTML)
		b = append(b, ':')
		b = appendString(b, m[k], e.escapeHTML)
	}
	return append(b, '}')
}

func (e *encodeState) listMap(b []byte, m map[string][]string) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var small [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(small[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, e.escapeHTML)
		b = append(b, ':')
		// A list is one level deeper, as any slice is.
		if e.depth >= maxDepth {
			return b, false
		}
		b = e.strings(b, m[k])
	}
	return append(b, '}'), true
}

func (e *encodeState) anyMap(b []byte, m map[string]any) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var small [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(small[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, e.escapeHTML)
		b = append(b, ':')
		var ok bool
		if b, ok = e.iface(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// sortedKeys appends m's keys to keys, sorted. The values are then looked
// up again: sorting key and value pairs instead took a sort of its own
// per map type, 25 KB of every module each, where slices.Sort of strings
// is in every Go module already.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reflectMap is the map at p as a reflect.Value. It reads the map from a
// copy of its word, which moves to the heap, so that p does not: every
// value Append writes would otherwise be moved there first.
func reflectMap(p unsafe.Pointer, pl *plan) reflect.Value {
	m := *(*unsafe.Pointer)(p)
	return reflect.NewAt(pl.typ, unsafe.Pointer(&m)).Elem()
}

// mapValue appends any other map with string keys, through reflect.
func (e *encodeState) mapValue(b []byte, p unsafe.Pointer, pl *plan) ([]byte, bool) {
	m := reflectMap(p, pl)
	if m.IsNil() {
		return append(b, "null"...), true
	}
	var small [8]string
	keys := small[:0]
	for it := m.MapRange(); it.Next(); {
		keys = append(keys, it.Key().String())
	}
	slices.Sort(keys)
	// Each value is copied where it can be addressed.
	elem := reflect.New(pl.elem.typ)
	keyType := pl.typ.Key()
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k, e.escapeHTML)
		b = append(b, ':')
		elem.Elem().Set(m.MapIndex(reflect.ValueOf(k).Convert(keyType)))
		var ok bool
		if b, ok = e.value(b, elem.UnsafePointer(), pl.elem); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

const hex = "0123456789abcdef"

// safe and htmlSafe say which bytes a string holds that encoding/json
// writes as they are, without and with escapeHTML: ASCII but control
// characters, quote and backslash, and for htmlSafe <, > and & either.
var safe, htmlSafe = func() (s, h [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
		h[c] = s[c] && c != '<' && c != '>' && c != '&'
	}
	return
}()

// escapes are the escapes of the ASCII bytes appendString escapes:
// quote, backslash and \b \f \n \r \t by name, the other control
// characters and <, > and & as \u00XX.
var escapes = func() (e [utf8.RuneSelf]string) {
	for c := range e {
		e[c] = `\u00` + string(hex[c>>4]) + string(hex[c&0xF])
	}
	e['"'], e['\\'], e['\b'], e['\f'], e['\n'], e['\r'], e['\t'] = `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`
	return
}()

// appendString is encoding/json's appendString: a quoted string with
// quote, backslash and control characters escaped (\b \f \n \r \t by
// name), with escapeHTML <, > and & too, invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped.
func appendString(b []byte, s string, escapeHTML bool) []byte {
	table := &safe
	if escapeHTML {
		table = &htmlSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; ; {
		// On to the next byte that may need escaping: eight bytes at a
		// time, then one at a time for the last seven.
		for {
			if i+8 > len(s) || !littleEndian {
				for i < len(s) && table[s[i]] {
					i++
				}
				break
			}
			x := *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
			t := special(x)
			if escapeHTML {
				t |= specialHTML(x)
			}
			if t != 0 {
				i += bits.TrailingZeros64(t) / 8
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		// One escape, or none for a valid multi-byte sequence; every
		// escape is appended by the same two appends: in a guest, code
		// per case was code to fetch again at every invocation.
		esc, size := "", 1
		if c := s[i]; c < utf8.RuneSelf {
			esc = escapes[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				esc = `\ufffd`
			case r == '\u2028':
				esc = `\u2028`
			case r == '\u2029':
				esc = `\u2029`
			}
		}
		if esc != "" {
			b = append(b, s[start:i]...)
			b = append(b, esc...)
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// littleEndian is whether a word loaded from memory has its first byte in
// its low lane, as special's callers take it to (Wasm is little-endian).
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Bytes repeated in each of a word's eight lanes.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// special has the high bit set of the first of the eight bytes of x (a
// string's, in little-endian order) that may need more than copying, if
// any does: a control character, a quote, a backslash or a byte of a
// multi-byte UTF-8 sequence. Lanes after that one may be set whether
// their bytes need it or not: a borrow only runs from a lane to the ones
// above it. Small enough to be inlined, as a call for every eight bytes
// would cost more than the test.
func special(x uint64) uint64 {
	return ((x-0x20*lanes01)&^x | hasByte(x, '"') | hasByte(x, '\\') | x) & lanes80
}

// specialHTML is special for <, > and &, which escapeHTML escapes too.
func specialHTML(x uint64) uint64 {
	return (hasByte(x, '<') | hasByte(x, '>') | hasByte(x, '&')) & lanes80
}

// hasByte has the high bit set of the first lane of x whose byte is c,
// and maybe of lanes above it: the classic "has zero byte" of x^c.
func hasByte(x uint64, c byte) uint64 {
	y := x ^ lanes01*uint64(c)
	return (y - lanes01) &^ y
}
