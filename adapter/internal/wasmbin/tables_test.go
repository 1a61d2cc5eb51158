package wasmbin

import (
	"bytes"
	"errors"
	"testing"
)

func TestBoundTables(t *testing.T) {
	for _, c := range []struct {
		name      string
		in, want  []byte
		malformed bool
	}{
		{"no maximum gets its minimum", []byte{1, 0x70, 0x00, 0x05}, []byte{1, 0x70, 0x01, 0x05, 0x05}, false},
		{"a maximum is kept", []byte{1, 0x70, 0x01, 0x02, 0x09}, []byte{1, 0x70, 0x01, 0x02, 0x09}, false},
		{"several, externref, padded LEB", []byte{2, 0x6f, 0x00, 0x80, 0x01, 0x70, 0x01, 0x00, 0x80, 0x00}, []byte{2, 0x6f, 0x01, 0x80, 0x01, 0x80, 0x01, 0x70, 0x01, 0x00, 0x00}, false},
		{"an initializer (beyond Wasm 2.0)", []byte{1, 0x40, 0x00, 0x70, 0x00, 0x01, 0xd0, 0x70, 0x0b}, nil, false},
		{"shared limits", []byte{1, 0x70, 0x03, 0x01, 0x02}, nil, false},
		{"truncated", []byte{2, 0x70, 0x00, 0x01}, nil, true},
		{"trailing bytes", []byte{1, 0x70, 0x00, 0x01, 0x00}, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := boundTables(c.in)
			switch {
			case c.want != nil && (err != nil || !bytes.Equal(got, c.want)):
				t.Errorf("boundTables(% x) = % x, %v; want % x", c.in, got, err, c.want)
			case c.want == nil && err == nil:
				t.Errorf("boundTables(% x) = % x, want an error", c.in, got)
			case c.want == nil && errors.Is(err, ErrMalformed) != c.malformed:
				t.Errorf("boundTables(% x): %v, malformed %v", c.in, err, c.malformed)
			}
		})
	}
}
