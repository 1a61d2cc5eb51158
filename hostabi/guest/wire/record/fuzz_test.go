package record

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode: any bytes are decoded or refused as truncated; a decoded
// record encodes to Size bytes that decode to the same record. (The
// encoding is not always the input's prefix: a record that ends after the
// payload, as an older host writes it, is written back with its optional
// fields.)
func FuzzDecode(f *testing.F) {
	f.Add((&Invocation{DeadlineMs: 1764417600000, RequestID: []byte("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
		InvokedFunctionARN: []byte("arn:aws:lambda:us-east-1:123456789012:function:hello"),
		TraceID:            []byte("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
		ClientContext:      []byte(`{"custom":{"a":"b"}}`), Payload: []byte(`"World"`), TenantID: []byte("tenant-1")}).Append(nil))
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
		if len(enc) != inv.Size() {
			t.Fatalf("encoded %d bytes, Size says %d", len(enc), inv.Size())
		}
		var again Invocation
		if err := Decode(enc, &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(norm(again), norm(inv)) {
			t.Fatalf("record %+v came back as %+v", inv, again)
		}
	})
}

// norm makes empty fields nil, so that a field absent from the input and
// one encoded empty compare equal.
func norm(inv Invocation) Invocation {
	for _, f := range []*[]byte{&inv.RequestID, &inv.InvokedFunctionARN, &inv.TraceID, &inv.ClientContext, &inv.CognitoIdentity, &inv.Payload, &inv.TenantID} {
		if len(*f) == 0 {
			*f = nil
		}
	}
	return inv
}
