package events

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// The append functions here write JSON exactly as encoding/json's Encoder
// with SetEscapeHTML(false) writes the same Go values (marshalEvent), for
// the events built on every request; readV2Response reads what functions
// return. encoding/json reaches each field through reflect and copies
// each map value out through it: for an HTTP API event that was 25
// allocations, and json.Unmarshal of the response a third of the
// gateway's own work per request (BENCHMARKS.md, "The gateway's own work
// and the guest's allocations"). Their results are checked against
// encoding/json's (TestAppendHTTPAPIEvent, FuzzAppendHTTPAPIEvent,
// FuzzNewHTTPEvent, FuzzReadV2Response).

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quote, backslash and
// control characters escaped (\b \f \n \r \t by name, others as \u00XX),
// invalid UTF-8 replaced by \ufffd, and U+2028 and U+2029 escaped, which
// JavaScript does not accept raw in a string literal. <, > and & stay as
// they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(append(b, s[start:i]...), `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			default:
				i += size
				continue
			}
			i += size
			start = i
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// appendStringField appends a member whose value is a string.
func appendStringField(b []byte, name, v string) []byte {
	return appendJSONString(appendJSONField(b, name), v)
}

// appendJSONStringMap appends m as an object with its keys in byte order,
// or null for a nil map.
func appendJSONStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONStrings appends ss as an array, or null for a nil slice.
func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONField appends a member: a comma unless it is the object's
// first, and the name, which must need no escaping.
func appendJSONField(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// readV2Response reads a payload 2.0 result that is what functions return
// nearly always, an object with statusCode, and gives what json.Unmarshal
// gives for it. It reports false, leaving the result to encoding/json, for
// anything else and for anything it is not sure encoding/json reads the
// same way: a key other than the response's fields as written (encoding/json
// also matches them case-insensitively) or repeated, an escaped surrogate,
// invalid UTF-8, a number that is not an integer,
// a null inside headers or cookies, multiValueHeaders that is not null.
// Its results are checked against encoding/json's by FuzzReadV2Response.
func readV2Response(data []byte) (lambdaevents.APIGatewayV2HTTPResponse, bool) {
	var v lambdaevents.APIGatewayV2HTTPResponse
	r := jsonReader{data: data}
	if !r.consume('{') {
		return v, false
	}
	var seen uint8
	for !r.consume('}') {
		if seen != 0 && !r.consume(',') {
			return v, false
		}
		key, ok := r.string()
		if !ok || !r.consume(':') {
			return v, false
		}
		var bit uint8
		switch key {
		case "statusCode":
			bit = 1
			if !r.null() {
				v.StatusCode, ok = r.int()
			}
		case "headers":
			bit = 2
			if !r.null() {
				v.Headers, ok = r.stringMap()
			}
		case "multiValueHeaders":
			bit, ok = 4, r.null()
		case "body":
			bit = 8
			if !r.null() {
				v.Body, ok = r.string()
			}
		case "isBase64Encoded":
			bit = 16
			if !r.null() {
				v.IsBase64Encoded, ok = r.bool()
			}
		case "cookies":
			bit = 32
			if !r.null() {
				v.Cookies, ok = r.strings()
			}
		default:
			return v, false
		}
		if !ok || seen&bit != 0 {
			return v, false
		}
		seen |= bit
	}
	r.space()
	return v, seen&1 != 0 && r.i == len(r.data)
}

// jsonReader reads the JSON readV2Response accepts.
type jsonReader struct {
	data []byte
	i    int
}

func (r *jsonReader) space() {
	for r.i < len(r.data) && (r.data[r.i] == ' ' || r.data[r.i] == '\t' || r.data[r.i] == '\n' || r.data[r.i] == '\r') {
		r.i++
	}
}

// consume skips space and c, if c is next.
func (r *jsonReader) consume(c byte) bool {
	r.space()
	if r.i < len(r.data) && r.data[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *jsonReader) literal(s string) bool {
	r.space()
	if len(r.data)-r.i >= len(s) && string(r.data[r.i:r.i+len(s)]) == s {
		r.i += len(s)
		return true
	}
	return false
}

func (r *jsonReader) null() bool { return r.literal("null") }

func (r *jsonReader) bool() (bool, bool) {
	if r.literal("true") {
		return true, true
	}
	return false, r.literal("false")
}

// int reads an integer as JSON writes it: -?(0|[1-9][0-9]*), in int's range.
func (r *jsonReader) int() (int, bool) {
	r.space()
	start := r.i
	if r.i < len(r.data) && r.data[r.i] == '-' {
		r.i++
	}
	digits := r.i
	for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
		r.i++
	}
	if r.i == digits || r.data[digits] == '0' && r.i-digits > 1 {
		return 0, false
	}
	if r.i < len(r.data) && (r.data[r.i] == '.' || r.data[r.i] == 'e' || r.data[r.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(r.data[start:r.i]), 10, 0)
	return int(n), err == nil
}

func (r *jsonReader) string() (string, bool) {
	if !r.consume('"') {
		return "", false
	}
	start, ascii := r.i, true
	for r.i < len(r.data) {
		switch c := r.data[r.i]; {
		case c == '"':
			s := r.data[start:r.i]
			r.i++
			return string(s), ascii || utf8.Valid(s)
		case c == '\\':
			return r.escaped(start, ascii)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		r.i++
	}
	return "", false
}

// escaped reads the rest of a string that has an escape at r.i.
func (r *jsonReader) escaped(start int, ascii bool) (string, bool) {
	// A Builder's String is its bytes, not a copy of them.
	var b strings.Builder
	b.Grow(r.i - start + 64)
	b.Write(r.data[start:r.i])
	for r.i < len(r.data) {
		c := r.data[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), ascii || utf8.ValidString(b.String())
		case c < 0x20:
			return "", false
		case c != '\\':
			ascii = ascii && c < utf8.RuneSelf
			b.WriteByte(c)
			r.i++
			continue
		}
		if r.i+1 == len(r.data) {
			return "", false
		}
		switch e := r.data[r.i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			// A surrogate is left to encoding/json, which pairs it or
			// replaces it.
			if len(r.data)-r.i < 6 {
				return "", false
			}
			n, err := strconv.ParseUint(string(r.data[r.i+2:r.i+6]), 16, 16)
			if err != nil || n >= 0xd800 && n < 0xe000 {
				return "", false
			}
			b.WriteRune(rune(n))
			r.i += 4
		default:
			return "", false
		}
		r.i += 2
	}
	return "", false
}

func (r *jsonReader) strings() ([]string, bool) {
	if !r.consume('[') {
		return nil, false
	}
	ss := []string{}
	if r.consume(']') {
		return ss, true
	}
	for {
		s, ok := r.string()
		if !ok {
			return nil, false
		}
		ss = append(ss, s)
		if r.consume(']') {
			return ss, true
		}
		if !r.consume(',') {
			return nil, false
		}
	}
}

func (r *jsonReader) stringMap() (map[string]string, bool) {
	if !r.consume('{') {
		return nil, false
	}
	m := map[string]string{}
	if r.consume('}') {
		return m, true
	}
	for {
		k, ok := r.string()
		if !ok || !r.consume(':') {
			return nil, false
		}
		if m[k], ok = r.string(); !ok {
			return nil, false
		}
		if r.consume('}') {
			return m, true
		}
		if !r.consume(',') {
			return nil, false
		}
	}
}
