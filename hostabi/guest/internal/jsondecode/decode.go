package jsondecode

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Options are encoding/json.Decoder's, as aws-lambda-go sets them.
type Options struct {
	UseNumber             bool
	DisallowUnknownFields bool
}

// maxDepth bounds Decode's recursion; deeper JSON is left to
// encoding/json, whose limit is 10,000.
const maxDepth = 500

// Decode decodes data into the zero value v points to, a pointer to the
// Decoder's type, and reports true if it did so as encoding/json's
// Decoder.Decode would with opts, with no error. It reports false,
// leaving *v in any state, when it cannot be sure: the caller then
// decodes data with encoding/json into a new zero value. data must hold
// one JSON value, with white space around it at most.
func (dec *Decoder) Decode(data []byte, v any, opts Options) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Type().Elem() != dec.root.typ {
		return false
	}
	d := decodeState{data: data, opts: opts}
	d.skipSpace()
	if !d.value(rv.UnsafePointer(), dec.root) {
		return false
	}
	d.skipSpace()
	return d.off == len(d.data)
}

type decodeState struct {
	data    []byte
	off     int
	depth   int
	opts    Options
	scratch []byte // unescaped keys
	source  string // data as a string, once a string needs it
}

func (d *decodeState) skipSpace() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// next returns the next byte after white space, or 0 at the end.
func (d *decodeState) next() byte {
	d.skipSpace()
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

// open reads the '{' or '[' at d.off and the white space after it, one
// level deeper, and reports whether end follows at once (read too: the
// container is empty); ok is false past maxDepth.
func (d *decodeState) open(end byte) (empty, ok bool) {
	if d.depth++; d.depth > maxDepth {
		return false, false
	}
	d.off++
	if d.next() == end {
		d.off++
		d.depth--
		return true, true
	}
	return false, true
}

// more reads what follows a member of a container: a comma (more is
// true) or end (the container is done); ok is false for anything else.
// Small enough to be inlined: the caller skips the white space after a
// comma.
func (d *decodeState) more(end byte) (more, ok bool) {
	c := d.next()
	d.off++
	if c == end {
		d.depth--
		return false, true
	}
	return true, c == ','
}

// colon reads the ':' after an object's key and the white space after it.
func (d *decodeState) colon() bool {
	if d.next() != ':' {
		return false
	}
	d.off++
	d.skipSpace()
	return true
}

// value decodes the value at d.off (after white space) into p.
func (d *decodeState) value(p unsafe.Pointer, pl *plan) bool {
	if d.off >= len(d.data) {
		return false
	}
	c := d.data[d.off]
	switch pl.kind {
	case kindUnmarshaler:
		if c == 'n' {
			return false // encoding/json's handling of null varies by type
		}
		start := d.off
		if !d.skipValue() {
			return false
		}
		u := reflect.NewAt(pl.typ, p).Interface().(json.Unmarshaler)
		return u.UnmarshalJSON(d.data[start:d.off]) == nil
	case kindPointer:
		if c == 'n' {
			if !d.literal("null") {
				return false
			}
			*(*unsafe.Pointer)(p) = nil
			return true
		}
		pp := (*unsafe.Pointer)(p)
		if *pp == nil {
			*pp = reflect.New(pl.elem.typ).UnsafePointer()
		}
		return d.value(*pp, pl.elem)
	}
	switch c {
	case '{':
		switch pl.kind {
		case kindStruct:
			return d.object(p, pl)
		case kindStringMap, kindListMap, kindAnyMap, kindMap:
			return d.mapObject(p, pl)
		case kindInterface:
			v, ok := d.anyValue()
			*(*any)(p) = v
			return ok
		}
		return false
	case '[':
		switch pl.kind {
		case kindSlice:
			return d.array(p, pl)
		case kindStrings:
			return d.strings(p)
		case kindInterface:
			v, ok := d.anyValue()
			*(*any)(p) = v
			return ok
		}
		return false
	case '"':
		switch pl.kind {
		case kindString:
			s, ok := d.str()
			*(*string)(p) = s
			return ok
		case kindBytes:
			b, ok := d.strBytes()
			if !ok {
				return false
			}
			out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
			n, err := base64.StdEncoding.Decode(out, b)
			*(*[]byte)(p) = out[:n]
			return err == nil
		case kindInterface:
			s, ok := d.str()
			*(*any)(p) = s
			return ok
		}
		return false
	case 't', 'f':
		b := c == 't'
		if b && !d.literal("true") || !b && !d.literal("false") {
			return false
		}
		switch pl.kind {
		case kindBool:
			*(*bool)(p) = b
			return true
		case kindInterface:
			*(*any)(p) = b
			return true
		}
		return false
	case 'n':
		if !d.literal("null") {
			return false
		}
		// encoding/json sets these to nil, and leaves the rest.
		switch pl.kind {
		case kindInterface:
			*(*any)(p) = nil
		case kindSlice, kindStrings, kindBytes:
			*(*[]byte)(p) = nil // any slice's header: its pointer is all
		case kindStringMap, kindListMap, kindAnyMap, kindMap:
			*(*unsafe.Pointer)(p) = nil
		}
		return true
	}
	lit, ok := d.number()
	if !ok {
		return false
	}
	return d.storeNumber(p, pl, lit)
}

// storeNumber stores the number lit as encoding/json's literalStore does.
func (d *decodeState) storeNumber(p unsafe.Pointer, pl *plan, lit []byte) bool {
	switch pl.kind {
	case kindInt:
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil || pl.bits < 64 && (n < -1<<(pl.bits-1) || n >= 1<<(pl.bits-1)) {
			return false
		}
		switch pl.bits {
		case 8:
			*(*int8)(p) = int8(n)
		case 16:
			*(*int16)(p) = int16(n)
		case 32:
			*(*int32)(p) = int32(n)
		default:
			*(*int64)(p) = n
		}
		return true
	case kindUint:
		n, err := strconv.ParseUint(string(lit), 10, 64)
		if err != nil || pl.bits < 64 && n >= 1<<pl.bits {
			return false
		}
		switch pl.bits {
		case 8:
			*(*uint8)(p) = uint8(n)
		case 16:
			*(*uint16)(p) = uint16(n)
		case 32:
			*(*uint32)(p) = uint32(n)
		default:
			*(*uint64)(p) = n
		}
		return true
	case kindFloat:
		n, err := strconv.ParseFloat(string(lit), pl.bits)
		if err != nil {
			return false
		}
		if pl.bits == 32 {
			*(*float32)(p) = float32(n)
		} else {
			*(*float64)(p) = n
		}
		return true
	case kindInterface:
		v, ok := d.numberInterface(lit)
		*(*any)(p) = v
		return ok
	}
	return false
}

func (d *decodeState) numberInterface(lit []byte) (any, bool) {
	if d.opts.UseNumber {
		return json.Number(lit), true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// object decodes a JSON object into the struct at p.
func (d *decodeState) object(p unsafe.Pointer, pl *plan) bool {
	empty, ok := d.open('}')
	if empty || !ok {
		return ok
	}
	var seen uint64
	hint := 0 // the field after the last one found
	for more := true; more; {
		if d.next() != '"' {
			return false
		}
		key, ok := d.strBytes() // only compared: no copy
		if !ok || !d.colon() {
			return false
		}
		i := -1
		if hint < len(pl.fields) && pl.fields[hint].name == string(key) {
			i = hint
		} else {
			for j := range pl.fields {
				if pl.fields[j].name == string(key) {
					i = j
					break
				}
			}
		}
		if i < 0 {
			// encoding/json would decode it into a field whose name
			// matches it case-folded, or report it.
			if d.opts.DisallowUnknownFields || foldMatches(key, pl.fields) {
				return false
			}
			if !d.skipValue() {
				return false
			}
		} else {
			// A key seen twice decodes into the same field twice, merging
			// maps and structs: left to encoding/json.
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			hint = i + 1
			f := &pl.fields[i]
			if !d.value(unsafe.Add(p, f.offset), f.plan) {
				return false
			}
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return true
}

// foldMatches reports whether key matches one of fields case-folded,
// as encoding/json matches a key no name matches exactly. The names are
// ASCII (For refuses others); a key that is not is reported as matching.
func foldMatches(key []byte, fields []field) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	for i := range fields {
		if equalFoldASCII(key, fields[i].name) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// mapObject decodes a JSON object into the map at p, whose keys are
// strings.
func (d *decodeState) mapObject(p unsafe.Pointer, pl *plan) bool {
	// The maps of events are written without reflect; others with it.
	var (
		m  reflect.Value
		sm map[string]string
		lm map[string][]string
		am map[string]any
	)
	switch pl.kind {
	case kindStringMap:
		smp := (*map[string]string)(p)
		if *smp == nil {
			*smp = map[string]string{}
		}
		sm = *smp
	case kindListMap:
		lmp := (*map[string][]string)(p)
		if *lmp == nil {
			*lmp = map[string][]string{}
		}
		lm = *lmp
	case kindAnyMap:
		amp := (*map[string]any)(p)
		if *amp == nil {
			*amp = map[string]any{}
		}
		am = *amp
	default:
		m = reflect.NewAt(pl.typ, p).Elem()
		if m.IsNil() {
			m.Set(reflect.MakeMap(pl.typ))
		}
	}
	empty, ok := d.open('}')
	if empty || !ok {
		return ok
	}
	for more := true; more; {
		if d.next() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok || !d.colon() {
			return false
		}
		switch {
		case sm != nil:
			s, ok := d.stringValue()
			if !ok {
				return false
			}
			sm[key] = s
		case lm != nil:
			l, ok := d.stringsValue()
			if !ok {
				return false
			}
			lm[key] = l
		case am != nil:
			v, ok := d.anyValue()
			if !ok {
				return false
			}
			am[key] = v
		default:
			elem := reflect.New(pl.elem.typ)
			if !d.value(elem.UnsafePointer(), pl.elem) {
				return false
			}
			m.SetMapIndex(reflect.ValueOf(key).Convert(pl.typ.Key()), elem.Elem())
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return true
}

// strings decodes a JSON array into the nil []string at p, as array
// does, appending (which grows a slice as reflect.Value.Grow does).
func (d *decodeState) strings(p unsafe.Pointer) bool {
	l, ok := d.stringList()
	*(*[]string)(p) = l
	return ok
}

// stringList reads the array at d.off as strings reads it.
func (d *decodeState) stringList() ([]string, bool) {
	empty, ok := d.open(']')
	if empty {
		return []string{}, true // empty, not nil
	}
	if !ok {
		return nil, false
	}
	var l []string
	for more := true; more; {
		d.skipSpace()
		s, ok := d.stringValue()
		if !ok {
			return nil, false
		}
		l = append(l, s)
		if more, ok = d.more(']'); !ok {
			return nil, false
		}
	}
	return l, true
}

// stringValue reads the value at d.off as value reads it into a string: a
// quoted string, or null, which leaves it empty, as encoding/json does.
// It returns the string rather than write it through a pointer, which put
// each value of a map or a list on the heap (an allocation each).
func (d *decodeState) stringValue() (string, bool) {
	if d.off < len(d.data) && d.data[d.off] == '"' {
		return d.str()
	}
	return "", d.literal("null")
}

// stringsValue reads the value at d.off as value reads it into a []string:
// an array of strings, or null (nil).
func (d *decodeState) stringsValue() ([]string, bool) {
	if d.off < len(d.data) && d.data[d.off] == '[' {
		return d.stringList()
	}
	return nil, d.literal("null")
}

// array decodes a JSON array into the nil slice at p.
func (d *decodeState) array(p unsafe.Pointer, pl *plan) bool {
	s := reflect.NewAt(pl.typ, p).Elem()
	empty, ok := d.open(']')
	if empty {
		s.Set(reflect.MakeSlice(pl.typ, 0, 0)) // empty, not nil
	}
	if empty || !ok {
		return ok
	}
	for i, more := 0, true; more; i++ {
		if i >= s.Cap() {
			s.Grow(1)
		}
		s.SetLen(i + 1)
		d.skipSpace()
		if !d.value(s.Index(i).Addr().UnsafePointer(), pl.elem) {
			return false
		}
		if more, ok = d.more(']'); !ok {
			return false
		}
	}
	return true
}

// anyValue decodes the value at d.off as encoding/json decodes into an
// empty interface.
func (d *decodeState) anyValue() (any, bool) {
	if d.off >= len(d.data) {
		return nil, false
	}
	switch c := d.data[d.off]; c {
	case '{':
		m := make(map[string]any)
		empty, ok := d.open('}')
		for more := !empty && ok; more; {
			if d.next() != '"' {
				return nil, false
			}
			key, ok := d.str()
			if !ok || !d.colon() {
				return nil, false
			}
			v, ok := d.anyValue()
			if !ok {
				return nil, false
			}
			m[key] = v
			if more, ok = d.more('}'); !ok {
				return nil, false
			}
		}
		return m, ok
	case '[':
		a := make([]any, 0)
		empty, ok := d.open(']')
		for more := !empty && ok; more; {
			d.skipSpace()
			v, ok := d.anyValue()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			if more, ok = d.more(']'); !ok {
				return nil, false
			}
		}
		return a, ok
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	lit, ok := d.number()
	if !ok {
		return nil, false
	}
	return d.numberInterface(lit)
}

func (d *decodeState) literal(s string) bool {
	if len(d.data)-d.off < len(s) || string(d.data[d.off:d.off+len(s)]) != s {
		return false
	}
	d.off += len(s)
	return true
}

// number reads a number as JSON's grammar has it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decodeState) number() ([]byte, bool) {
	data, i := d.data, d.off
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(data, i)
	default:
		return nil, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		j := digits(data, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	lit := data[d.off:i]
	d.off = i
	return lit, true
}

func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// str reads a string as a Go string. One without escapes is a substring
// of d.source: a copy of the whole event, made once, in place of a copy
// of each of its strings (an allocation each, the most costly step of
// decoding as Go compiled to Wasm). It scans as strBytes does, rather
// than call it: that call was 7 % of decoding the gateway's event in a
// guest (BenchmarkDecode, 22.4 against 20.9 µs).
func (d *decodeState) str() (string, bool) {
	data := d.data
	start := d.off + 1
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			d.off = i + 1
			if d.source == "" {
				d.source = string(data)
			}
			return d.source[start:i], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			b, ok := d.unescape(start, i)
			return string(b), ok
		}
	}
	return "", false
}

// strBytes reads the string at d.off, unescaped: a slice of d.data where
// it has nothing to unescape, otherwise of d.scratch, valid until the
// next call.
func (d *decodeState) strBytes() ([]byte, bool) {
	data := d.data
	start := d.off + 1
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			d.off = i + 1
			return data[start:i], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return d.unescape(start, i)
		}
	}
	return nil, false
}

// unescape reads the rest of a string from data[i:], where start is its
// first byte, as encoding/json's unquote does; it reports false for
// what the scanner rejects and for what Decode does not handle (a
// surrogate escape, invalid UTF-8, which encoding/json replaces).
func (d *decodeState) unescape(start, i int) ([]byte, bool) {
	data := d.data
	b := append(d.scratch[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.off = i + 1
			d.scratch = b
			return b, true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if i+1 >= len(data) {
				return nil, false
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(data[i+2:])
				if r < 0 || utf16.IsSurrogate(r) {
					return nil, false
				}
				b = utf8.AppendRune(b, r)
				i += 4
			default:
				return nil, false
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false
			}
			b = append(b, data[i:i+size]...)
			i += size
		}
	}
	return nil, false
}

func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skipValue reads a value without decoding it, checking its syntax as
// encoding/json's scanner does.
func (d *decodeState) skipValue() bool {
	if d.off >= len(d.data) {
		return false
	}
	switch c := d.data[d.off]; c {
	case '{':
		empty, ok := d.open('}')
		for more := !empty && ok; more; {
			if d.next() != '"' || !d.skipString() || !d.colon() || !d.skipValue() {
				return false
			}
			if more, ok = d.more('}'); !ok {
				return false
			}
		}
		return ok
	case '[':
		empty, ok := d.open(']')
		for more := !empty && ok; more; {
			d.skipSpace()
			if !d.skipValue() {
				return false
			}
			if more, ok = d.more(']'); !ok {
				return false
			}
		}
		return ok
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, ok := d.number()
	return ok
}

// skipString reads a string as the scanner checks it: escapes valid, no
// control characters; any other byte, valid UTF-8 or not, is accepted.
func (d *decodeState) skipString() bool {
	data := d.data
	for i := d.off + 1; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			d.off = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(data) {
				return false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if hex4(data[i+2:]) < 0 {
					return false
				}
				i += 5
			default:
				return false
			}
		}
	}
	return false
}
