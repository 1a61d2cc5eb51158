package record

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	in := Invocation{
		DeadlineMs:         1700000000123,
		RequestID:          []byte("c6af9ac6-7b61-11e6-9a41-93e812345678"),
		InvokedFunctionARN: []byte("arn:aws:lambda:us-east-1:123456789012:function:hello"),
		TraceID:            []byte("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
		ClientContext:      []byte(`{"custom":{"a":"b"}}`),
		Payload:            []byte(`{"hello":"world"}`),
		TenantID:           []byte("blue"),
	}
	b := in.Append(nil)
	if len(b) != in.Size() {
		t.Fatalf("Size() = %d, encoded %d bytes", in.Size(), len(b))
	}
	var out Invocation
	if err := Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.DeadlineMs != in.DeadlineMs || !bytes.Equal(out.RequestID, in.RequestID) ||
		!bytes.Equal(out.InvokedFunctionARN, in.InvokedFunctionARN) || !bytes.Equal(out.TraceID, in.TraceID) ||
		!bytes.Equal(out.ClientContext, in.ClientContext) || len(out.CognitoIdentity) != 0 ||
		!bytes.Equal(out.Payload, in.Payload) || !bytes.Equal(out.TenantID, in.TenantID) {
		t.Fatalf("round trip changed the record: %+v", out)
	}
	endOfPayload := len(b) - 4 - len(in.TenantID)
	for n := 0; n < len(b); n++ {
		if n == endOfPayload {
			continue // a record without the optional tenant id: TestOptionalFields
		}
		if err := Decode(b[:n], &out); err != ErrTruncated {
			t.Fatalf("Decode of %d/%d bytes = %v, want ErrTruncated", n, len(b), err)
		}
	}
}

// TestOptionalFields checks both directions of the record's one change so
// far: a record that ends after the payload (an older host) decodes with
// no tenant id, and bytes after the last known field (a newer host) are
// ignored.
func TestOptionalFields(t *testing.T) {
	in := Invocation{DeadlineMs: 1, RequestID: []byte("r"), Payload: []byte("{}"), TenantID: []byte("blue")}
	b := in.Append(nil)
	old := b[:len(b)-4-len(in.TenantID)]
	out := Invocation{TenantID: []byte("stale")}
	if err := Decode(old, &out); err != nil || out.TenantID != nil || string(out.Payload) != "{}" {
		t.Fatalf("Decode(record without tenant id) = %v, %+v", err, out)
	}
	newer := append(bytes.Clone(b), 3, 0, 0, 0, 'x', 'y', 'z')
	if err := Decode(newer, &out); err != nil || string(out.TenantID) != "blue" {
		t.Fatalf("Decode(record with an unknown trailing field) = %v, %+v", err, out)
	}
}
