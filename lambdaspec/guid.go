package lambdaspec

import (
	"crypto/rand"
	"encoding/hex"
)

// NewGUID returns a random (version 4, RFC 4122 variant) UUID: the shape
// of Lambda request ids, Azure invocation ids and EventBridge event ids.
func NewGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte // without fmt or concatenation: one allocation
	hex.Encode(s[:8], b[:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
