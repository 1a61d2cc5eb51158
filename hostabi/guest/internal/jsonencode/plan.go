// Package jsonencode writes a handler's response as encoding/json's
// Encoder writes it, several times faster inside a Go guest, or says it
// cannot be sure it would write the same bytes and leaves the value to
// encoding/json.
//
// encoding/json reaches every field and map entry of a value through
// reflect, and sorts a map's keys through reflect.Values; as Go compiled
// to Wasm, where every call and allocation is dear, that was a fifth of
// what the guest SDK does around a warm http-api handler (BENCHMARKS.md,
// "The response's encoder"). An Encoder walks the value with offsets
// worked out once per type and writes strings with a table lookup per
// byte.
//
// It does not try to be encoding/json. It writes only types whose every
// part it knows, and refuses, when planning, any type with a MarshalJSON
// or MarshalText method, a `,string` or `omitzero` option, an embedded
// field, an array, a non-empty interface or a map whose keys are not
// strings, so it never calls a method of the value. It gives up at write
// time on what encoding/json reports as an error (NaN, infinities, values
// nested deeper than encoding/json starts looking for cycles) and on
// dynamic types it refuses: the caller then encodes the value with
// encoding/json, whose bytes and error messages are then its own.
// TestMatchesEncodingJSON and FuzzAppend hold it to that, on
// aws-lambda-go's own event types and test data.
package jsonencode

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/jsontag"
)

// Encoder writes values of one type as JSON.
type Encoder struct {
	root *plan
}

// For returns an Encoder for values of type t, or nil if t has a part
// whose encoding Encoder does not know (see the package's comment). An
// empty interface type is known: each value is then written as its
// dynamic type is, when that type is known. With GOEXPERIMENT=jsonv2 For
// returns nil for every type.
func For(t reflect.Type) *Encoder {
	if v2Linked || t == nil {
		return nil
	}
	p := plans.get(t)
	if p == nil {
		return nil
	}
	return &Encoder{root: p}
}

type kind uint8

const (
	kindBool kind = iota
	kindInt
	kindUint
	kindFloat
	kindString
	kindBytes // a []byte-like slice: base64 in JSON
	kindStruct
	kindPointer
	kindSlice
	kindMap
	kindStringMap // map[string]string, without reflect
	kindStrings   // []string, likewise
	kindListMap   // map[string][]string
	kindAnyMap    // map[string]any
	kindInterface // an empty interface
)

// A plan is how to write values of one type.
type plan struct {
	kind kind
	typ  reflect.Type
	bits int // the size of an int, uint or float
	// direct is whether an interface holding this type holds the value
	// itself (a pointer-shaped type), not a pointer to it.
	direct bool
	elem   *plan // a pointer's, slice's or map's element
	// fields are a struct's fields, in encoding/json's order: the
	// struct's, as it has no embedded fields.
	fields []field
}

type field struct {
	name      string // `"name":`
	nameHTML  string // the same with <, > and & escaped, for escapeHTML
	offset    uintptr
	omitEmpty bool
	plan      *plan
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
	stringMapType     = reflect.TypeFor[map[string]string]()
	stringsType       = reflect.TypeFor[[]string]()
	listMapType       = reflect.TypeFor[map[string][]string]()
	anyMapType        = reflect.TypeFor[map[string]any]()
)

// plans holds the plan of every type planned so far, and nil for a type
// refused: a handler's result type is planned when the handler is built,
// and the dynamic types of interface values as they are met.
var plans = planCache{m: map[reflect.Type]*plan{}}

type planCache struct {
	mu sync.Mutex
	m  map[reflect.Type]*plan
}

// get returns t's plan, planning it (and every type it reaches) the
// first time; nil if t is refused.
func (c *planCache) get(t reflect.Type) *plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[t]; ok {
		return p
	}
	b := planner{plans: map[reflect.Type]*plan{}}
	p := b.plan(t)
	if b.failed {
		c.m[t] = nil
		return nil
	}
	// Every type reached is planned too: a refused one would have failed t.
	for t, p := range b.plans {
		c.m[t] = p
	}
	return p
}

type planner struct {
	plans  map[reflect.Type]*plan // the types planned, for recursive types
	failed bool
}

func (b *planner) plan(t reflect.Type) *plan {
	if p, ok := b.plans[t]; ok {
		return p
	}
	if implementsMarshaler(t) || t == numberType {
		b.failed = true
		return nil
	}
	p := &plan{typ: t, direct: direct(t)}
	b.plans[t] = p
	switch t.Kind() {
	case reflect.Bool:
		p.kind = kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind, p.bits = kindInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind, p.bits = kindUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		p.kind, p.bits = kindFloat, t.Bits()
	case reflect.String:
		p.kind = kindString
	case reflect.Interface:
		if t.NumMethod() != 0 {
			b.failed = true
			return nil
		}
		p.kind = kindInterface
	case reflect.Pointer:
		p.kind, p.elem = kindPointer, b.plan(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json writes base64 unless the element type has a
			// marshaler, which it then calls for each byte.
			if implementsMarshaler(t.Elem()) {
				b.failed = true
				return nil
			}
			p.kind = kindBytes
			break
		}
		p.kind, p.elem = kindSlice, b.plan(t.Elem())
		if t == stringsType {
			p.kind = kindStrings
		}
	case reflect.Map:
		// A key of a string kind is written as it is, methods or not.
		if t.Key().Kind() != reflect.String {
			b.failed = true
			return nil
		}
		p.kind, p.elem = kindMap, b.plan(t.Elem())
		switch t {
		case stringMapType:
			p.kind = kindStringMap
		case listMapType:
			p.kind = kindListMap
		case anyMapType:
			p.kind = kindAnyMap
		}
	case reflect.Struct:
		p.kind = kindStruct
		if !b.structFields(p) {
			b.failed = true
			return nil
		}
	default: // arrays, complex numbers, channels, functions, unsafe pointers
		b.failed = true
		return nil
	}
	return p
}

// implementsMarshaler reports whether encoding/json would call a method
// to write a value of type t (or, addressable, a pointer to it).
func implementsMarshaler(t reflect.Type) bool {
	for _, m := range [...]reflect.Type{marshalerType, textMarshalerType} {
		if t.Implements(m) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(m) {
			return true
		}
	}
	return false
}

// direct reports whether an interface holding a value of type t holds
// the value itself in its data word rather than a pointer to it: then
// the zero value's data word is nil, where an indirect type's points to
// a zero value (also for zero-size types).
func direct(t reflect.Type) bool {
	v := reflect.Zero(t).Interface()
	return (*eface)(unsafe.Pointer(&v)).data == nil
}

// eface is the layout of an empty interface.
type eface struct {
	typ, data unsafe.Pointer
}

// structFields lists the fields encoding/json writes, named as it names
// them, for a struct without embedded fields; it reports false for a
// struct Encoder leaves to encoding/json.
func (b *planner) structFields(p *plan) bool {
	t := p.typ
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return false // encoding/json's rules for embedding are not repeated here
		}
		if !sf.IsExported() {
			continue
		}
		name, opts, ok := jsontag.Field(sf)
		if !ok {
			continue
		}
		if slices.Contains(opts, "string") || slices.Contains(opts, "omitzero") {
			return false
		}
		omitEmpty := slices.Contains(opts, "omitempty")
		// Two fields of one name: encoding/json keeps the tagged one or
		// neither.
		if seen[name] {
			return false
		}
		seen[name] = true
		fp := b.plan(sf.Type)
		if fp == nil {
			return false
		}
		p.fields = append(p.fields, field{
			name:      `"` + name + `":`,
			nameHTML:  `"` + htmlEscape(name) + `":`,
			offset:    sf.Offset,
			omitEmpty: omitEmpty,
			plan:      fp,
		})
	}
	return true
}

// htmlEscape is encoding/json's HTML escaping of a field's name: a valid
// tag has no quote, backslash or control character, and no U+2028 or
// U+2029, which are not letters.
func htmlEscape(name string) string {
	var b []byte
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '<', '>', '&':
			b = append(b, escapes[c]...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
