package httpwire

import (
	"net/http"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	req := Request{Method: "PUT", URL: "https://example.com/a?b=c", Host: "other.example.com", ContentLength: -1, DeadlineMs: 1700000000123,
		Header: http.Header{"Content-Type": {"text/plain"}, "X-Multi": {"1", "2"}, "X-Empty": {""}}}
	var got Request
	if err := DecodeRequest(req.Append(nil), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("request\n got %+v\nwant %+v", got, req)
	}
	resp := Response{StatusCode: 206, Status: "206 Partial Content", Proto: "HTTP/2.0", ContentLength: 12345, Uncompressed: true,
		Header: http.Header{"Etag": {`"abc"`}, "Set-Cookie": {"a=1", "b=2"}}}
	var gotResp Response
	if err := DecodeResponse(resp.Append(nil), &gotResp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotResp, resp) {
		t.Fatalf("response\n got %+v\nwant %+v", gotResp, resp)
	}
	h, err := DecodeHeader(AppendHeader(nil, http.Header{"X-Checksum": {"abc"}}))
	if err != nil || h.Get("X-Checksum") != "abc" {
		t.Fatalf("trailer: %v %v", h, err)
	}
}

func TestTruncated(t *testing.T) {
	b := (&Request{Method: "GET", URL: "http://x/", Header: http.Header{"A": {"b"}}}).Append(nil)
	for i := 0; i < len(b); i++ {
		var r Request
		if err := DecodeRequest(b[:i], &r); err != ErrTruncated {
			t.Fatalf("%d of %d bytes: %v", i, len(b), err)
		}
	}
	// A header count far beyond the bytes is refused without allocating.
	if _, err := DecodeHeader([]byte{0xff, 0xff, 0xff, 0x7f}); err != ErrTruncated {
		t.Fatal(err)
	}
}
