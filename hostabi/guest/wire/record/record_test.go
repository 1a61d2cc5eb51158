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
		!bytes.Equal(out.Payload, in.Payload) {
		t.Fatalf("round trip changed the record: %+v", out)
	}
	for n := 0; n < len(b); n++ {
		if err := Decode(b[:n], &out); err != ErrTruncated {
			t.Fatalf("Decode of %d/%d bytes = %v, want ErrTruncated", n, len(b), err)
		}
	}
}
