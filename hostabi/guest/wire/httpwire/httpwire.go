// Package httpwire encodes the request and response heads that cross the
// outbound HTTP imports (ferry.http_request, ferry.http_header_read; see
// hostabi/ABI.md). It is shared by the host (hostabi) and the Go guest SDK,
// so, like package record, it imports only what net/http already brings
// into every guest that makes HTTP requests.
//
// Every string is a little-endian u32 length and its bytes; headers are a
// u32 count of (name, value) pairs, one pair per value, so a header with
// two values appears twice.
package httpwire

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// Request is the head of an outbound request.
type Request struct {
	Method string
	URL    string
	// Host overrides the URL's host in the Host header when not empty
	// (http.Request.Host).
	Host string
	// ContentLength is the body's length: -1 unknown (streamed), 0 none.
	ContentLength int64
	// DeadlineMs is the request's own deadline (its context's), Unix ms;
	// 0 for none. The host also bounds it by the invocation's deadline.
	DeadlineMs int64
	Header     http.Header
}

// Append appends the encoding of r to b.
func (r *Request) Append(b []byte) []byte {
	b = appendString(b, r.Method)
	b = appendString(b, r.URL)
	b = appendString(b, r.Host)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.ContentLength))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.DeadlineMs))
	return AppendHeader(b, r.Header)
}

// DecodeRequest decodes b into r, copying every string.
func DecodeRequest(b []byte, r *Request) error {
	d := decoder{b: b}
	r.Method, r.URL, r.Host = d.string(), d.string(), d.string()
	r.ContentLength, r.DeadlineMs = int64(d.u64()), int64(d.u64())
	r.Header = d.header()
	return d.err
}

// Response is the head of a response.
type Response struct {
	StatusCode int
	Status     string // "200 OK"
	Proto      string // "HTTP/1.1"
	// ContentLength is -1 when unknown.
	ContentLength int64
	// Uncompressed is http.Response.Uncompressed: the host's transport
	// asked for gzip and decompressed the body.
	Uncompressed bool
	Header       http.Header
}

// Append appends the encoding of r to b.
func (r *Response) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(r.StatusCode))
	b = appendString(b, r.Status)
	b = appendString(b, r.Proto)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.ContentLength))
	flags := uint32(0)
	if r.Uncompressed {
		flags |= 1
	}
	b = binary.LittleEndian.AppendUint32(b, flags)
	return AppendHeader(b, r.Header)
}

// DecodeResponse decodes b into r, copying every string.
func DecodeResponse(b []byte, r *Response) error {
	d := decoder{b: b}
	r.StatusCode = int(d.u32())
	r.Status, r.Proto = d.string(), d.string()
	r.ContentLength = int64(d.u64())
	r.Uncompressed = d.u32()&1 != 0
	r.Header = d.header()
	return d.err
}

// AppendHeader appends the encoding of h (also trailers) to b.
func AppendHeader(b []byte, h http.Header) []byte {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for k, vs := range h {
		for _, v := range vs {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return b
}

// DecodeHeader decodes a header encoded alone by AppendHeader.
func DecodeHeader(b []byte) (http.Header, error) {
	d := decoder{b: b}
	h := d.header()
	return h, d.err
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// ErrTruncated is returned for a head shorter than its fields claim.
var ErrTruncated = errors.New("httpwire: head truncated")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n uint64) bool {
	if d.err != nil {
		return false
	}
	if uint64(len(d.b)) < n {
		d.err = ErrTruncated
		return false
	}
	return true
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) string() string {
	n := d.u32()
	if !d.need(uint64(n)) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) header() http.Header {
	n := d.u32()
	// Each pair takes at least 8 bytes: a count beyond that is garbage,
	// not a reason to allocate.
	if !d.need(uint64(n) * 8) {
		return nil
	}
	h := make(http.Header, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		k, v := d.string(), d.string()
		// Keys arrive as the sender had them: keep them verbatim (not
		// canonicalised), as http.Header's map would hold them.
		h[k] = append(h[k], v)
	}
	if d.err != nil {
		return nil
	}
	return h
}
