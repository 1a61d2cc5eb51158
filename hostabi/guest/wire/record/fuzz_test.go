package record

import (
	"bytes"
	"testing"
)

// FuzzDecode: any bytes are decoded or refused as truncated; a decoded
// record encodes back to exactly the bytes it was read from (trailing
// bytes are not part of it).
func FuzzDecode(f *testing.F) {
	f.Add((&Invocation{DeadlineMs: 1764417600000, RequestID: []byte("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
		InvokedFunctionARN: []byte("arn:aws:lambda:us-east-1:123456789012:function:hello"),
		TraceID:            []byte("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
		ClientContext:      []byte(`{"custom":{"a":"b"}}`), Payload: []byte(`"World"`)}).Append(nil))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		var inv Invocation
		if err := Decode(b, &inv); err != nil {
			if err != ErrTruncated {
				t.Fatalf("error %v is not ErrTruncated", err)
			}
			return
		}
		enc := inv.Append(nil)
		if len(enc) != inv.Size() || !bytes.HasPrefix(b, enc) {
			t.Fatalf("re-encoded %x (size %d) is not a prefix of %x", enc, inv.Size(), b)
		}
	})
}
