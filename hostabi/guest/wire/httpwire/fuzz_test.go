package httpwire

import (
	"net/http"
	"reflect"
	"testing"
)

// FuzzDecode feeds any bytes to the three decoders. Each decodes or
// refuses (never panics, never allocates for counts the input cannot
// hold); what decodes encodes back to a head that decodes the same.
func FuzzDecode(f *testing.F) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Multi": {"1", "2"}, "lower-case": {""}}
	f.Add((&Request{Method: "POST", URL: "https://example.com/a?b=c", Host: "example.com", ContentLength: -1, DeadlineMs: 1764417600000, Header: h}).Append(nil))
	f.Add((&Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ContentLength: 12, Uncompressed: true, Header: h}).Append(nil))
	f.Add(AppendHeader(nil, h))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req Request
		if err := DecodeRequest(b, &req); err == nil {
			var again Request
			if err := DecodeRequest(req.Append(nil), &again); err != nil || !reflect.DeepEqual(again, req) {
				t.Fatalf("request %+v came back as %+v (%v)", req, again, err)
			}
		}
		var resp Response
		if err := DecodeResponse(b, &resp); err == nil {
			var again Response
			if err := DecodeResponse(resp.Append(nil), &again); err != nil {
				t.Fatalf("response %+v does not decode again: %v", resp, err)
			}
			// Append keeps only the flag bit Decode reads.
			if !reflect.DeepEqual(again, resp) {
				t.Fatalf("response %+v came back as %+v", resp, again)
			}
		}
		if hdr, err := DecodeHeader(b); err == nil {
			again, err := DecodeHeader(AppendHeader(nil, hdr))
			if err != nil || !reflect.DeepEqual(again, hdr) {
				t.Fatalf("header %v came back as %v (%v)", hdr, again, err)
			}
		}
	})
}
