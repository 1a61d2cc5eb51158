// Package jsondecode decodes an event into a handler's argument as
// encoding/json does, several times faster inside a Go guest, or says it
// cannot be sure it would decode it the same and leaves the event to
// encoding/json.
//
// encoding/json is slow as Go compiled to Wasm: it scans every byte twice
// (the validity scan, then the decoding scan), each byte through an
// indirect call to the scanner's state function, and it reaches every
// field through reflect. Under wazero that was two thirds of a warm
// http-api invocation (BENCHMARKS.md, "Go invocations: the SDK's own
// work"). A Decoder scans once, with direct calls, and writes fields at
// offsets worked out when the handler is built.
//
// It does not try to be encoding/json. It accepts only what it is sure of:
// well-formed JSON whose every value it decodes exactly as encoding/json
// v1 would, into types whose every part it knows. Anything else, a syntax
// error, a type mismatch, a duplicate or case-folded key, an escape it
// does not handle, a number out of range, makes Decode return false
// before the caller has seen the value, and the caller decodes the event
// with encoding/json: its result and, above all, its error messages are
// then encoding/json's own. TestMatchesEncodingJSON and FuzzDecode hold
// it to that, on aws-lambda-go's own event types and test data.
package jsondecode

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/jsontag"
)

// Decoder decodes JSON into values of one type.
type Decoder struct {
	root *plan
}

// For returns a Decoder for values of type t, or nil if t has a part
// whose decoding Decoder does not know: embedded fields, `,string`
// options, encoding.TextUnmarshaler, non-empty interfaces, maps whose
// keys are not strings, arrays, channels, functions and the like.
// json.Unmarshaler types are known: their UnmarshalJSON decodes them
// (and decodes them again if Decode then fails elsewhere in the event).
// With GOEXPERIMENT=jsonv2 For returns nil for every type.
func For(t reflect.Type) *Decoder {
	if v2Linked {
		return nil
	}
	b := planner{plans: map[reflect.Type]*plan{}}
	p := b.plan(t)
	if p == nil || b.failed {
		return nil
	}
	return &Decoder{root: p}
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
	kindStringMap // map[string]string, written without reflect
	kindStrings   // []string, likewise
	kindListMap   // map[string][]string
	kindAnyMap    // map[string]any
	kindInterface // an empty interface
	kindUnmarshaler
)

// A plan is how to decode values of one type.
type plan struct {
	kind kind
	typ  reflect.Type
	bits int   // the size of an int, uint or float
	elem *plan // a pointer's, slice's or map's element
	// fields are a struct's fields, in its order (which is also the order
	// encoding/json writes them in, so the next key is usually the next
	// field).
	fields []field
}

type field struct {
	name   string
	offset uintptr
	plan   *plan
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
	stringMapType       = reflect.TypeFor[map[string]string]()
	stringsType         = reflect.TypeFor[[]string]()
	listMapType         = reflect.TypeFor[map[string][]string]()
	anyMapType          = reflect.TypeFor[map[string]any]()
)

type planner struct {
	plans  map[reflect.Type]*plan // for recursive types
	failed bool
}

func (b *planner) plan(t reflect.Type) *plan {
	if p, ok := b.plans[t]; ok {
		return p
	}
	p := &plan{typ: t}
	b.plans[t] = p
	if t.Name() != "" && reflect.PointerTo(t).Implements(unmarshalerType) {
		p.kind = kindUnmarshaler
		return p
	}
	if t.Name() != "" && reflect.PointerTo(t).Implements(textUnmarshalerType) || t == numberType {
		b.failed = true
		return nil
	}
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
			// encoding/json decodes a string into it as base64, and an
			// array element by element: Decode knows only the first.
			p.kind = kindBytes
			break
		}
		p.kind, p.elem = kindSlice, b.plan(t.Elem())
		if t == stringsType {
			p.kind = kindStrings
		}
	case reflect.Map:
		k := t.Key()
		if k.Kind() != reflect.String || reflect.PointerTo(k).Implements(textUnmarshalerType) {
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
	default:
		b.failed = true
		return nil
	}
	return p
}

// structFields lists the fields encoding/json decodes into, named as it
// names them, for a struct without embedded fields; it reports false for
// a struct Decode leaves to encoding/json.
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
		if slices.Contains(opts, "string") {
			return false
		}
		// A key that matches no name exactly may match one case-folded;
		// Decode checks that for ASCII names only.
		for _, r := range name {
			if r >= 0x80 {
				return false
			}
		}
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
		p.fields = append(p.fields, field{name: name, offset: sf.Offset, plan: fp})
	}
	return len(p.fields) <= 64 // Decode keeps the keys it has seen in a uint64
}
