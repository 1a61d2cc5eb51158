//go:build goexperiment.jsonv2

package awshandler

import (
	"encoding"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/jsontag"
)

// primeType builds the caches of encoding/json v2's engine for t. v2
// looks up a pointer's, a struct's fields' or a container's element's
// arshalers only when it meets a value of them, so a nil pointer builds
// nothing: primeType decodes a skeleton of t instead, a JSON document
// with one of every field, element and map entry t can hold, recursive
// types once. Types that decode themselves (UnmarshalJSON,
// UnmarshalJSONFrom, UnmarshalText) are left out of it, so no method of
// the handler's types is called. v2 builds both directions' caches at
// once.
func primeType(t reflect.Type) {
	if !reachable(t) {
		return
	}
	var b strings.Builder
	skeleton(&b, t, map[reflect.Type]bool{})
	json.Unmarshal([]byte(b.String()), reflect.New(t).Interface())
}

var unmarshalerTypes = []reflect.Type{
	reflect.TypeFor[json.Unmarshaler](),
	reflect.TypeFor[jsonv2.UnmarshalerFrom](),
	reflect.TypeFor[encoding.TextUnmarshaler](),
}

// decodesItself reports whether decoding into a t calls a method of it.
func decodesItself(t reflect.Type) bool {
	for _, u := range unmarshalerTypes {
		if t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return true
		}
	}
	return false
}

// reachable reports whether a skeleton may hold a value of t: not if t,
// or what it points to, decodes itself (with v1's semantics even a null
// is handed to its UnmarshalJSON), nor if encoding/json cannot decode it
// at all (channels, functions, complex numbers).
func reachable(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		if decodesItself(t) {
			return false
		}
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return false
	}
	return !decodesItself(t)
}

// skeleton writes a JSON value for t, a reachable type, that reaches every
// type in it: fields, elements and map entries of types that are not
// reachable are left out, a type already on the way down and anything but
// the kinds below are null.
func skeleton(b *strings.Builder, t reflect.Type, onPath map[reflect.Type]bool) {
	if onPath[t] {
		b.WriteString("null")
		return
	}
	onPath[t] = true
	defer delete(onPath, t)
	switch t.Kind() {
	case reflect.Pointer:
		skeleton(b, t.Elem(), onPath)
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, ok := jsontag.Field(f)
			if !ok || slices.Contains(opts, "string") {
				continue // not decoded; or decoded from a quoted value
			}
			if !reachable(f.Type) {
				continue
			}
			if f.Anonymous && f.Tag.Get("json") == "" && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
				continue // an embedded struct's fields are its parent's: not named here
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(strconv.Quote(name))
			b.WriteByte(':')
			skeleton(b, f.Type, onPath)
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			b.WriteString(`""`) // base64; a byte array is an array of numbers
			return
		}
		if !reachable(t.Elem()) {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		skeleton(b, t.Elem(), onPath)
		b.WriteByte(']')
	case reflect.Map:
		if t.Key().Kind() != reflect.String || decodesItself(t.Key()) || !reachable(t.Elem()) {
			b.WriteString("{}")
			return
		}
		b.WriteString(`{"":`)
		skeleton(b, t.Elem(), onPath)
		b.WriteByte('}')
	case reflect.String:
		b.WriteString(`""`)
	case reflect.Bool:
		b.WriteString("false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		b.WriteString("0")
	default:
		b.WriteString("null")
	}
}
