// Package jsontag reads a struct field's json tag as encoding/json v1
// does, for the guest SDK's event decoder and response encoder, which
// must name every field exactly as encoding/json names it.
package jsontag

import (
	"reflect"
	"strings"
	"unicode"
)

// Field returns the name encoding/json gives the exported, non-embedded
// field sf, and its tag's options (each in options, as "omitempty");
// ok is false for a field encoding/json leaves out (tag "-").
func Field(sf reflect.StructField) (name string, options []string, ok bool) {
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "", nil, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if !validName(name) {
		name = sf.Name
	}
	if opts != "" {
		options = strings.Split(opts, ",")
	}
	return name, options, true
}

// validName is encoding/json's test of a tag's name: an invalid one is
// ignored and the field keeps its Go name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote chars are reserved, but otherwise any
			// punctuation chars are allowed in a tag name.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
