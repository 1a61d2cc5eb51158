// Package record encodes and decodes the invocation record that the host
// hands the guest through ferry.invocation_read (see hostabi/ABI.md).
//
// It is shared by the host (hostabi) and the Go guest SDK, so it imports
// nothing but the standard library's encoding/binary: every byte it adds is
// compiled into each guest module.
package record

import (
	"encoding/binary"
	"errors"
)

// Invocation is one decoded invocation record. The byte slices alias the
// buffer they were decoded from.
type Invocation struct {
	DeadlineMs         int64
	RequestID          []byte
	InvokedFunctionARN []byte
	TraceID            []byte
	ClientContext      []byte
	CognitoIdentity    []byte
	Payload            []byte
	// TenantID is the tenant of a function with tenant isolation
	// (Lambda-Runtime-Aws-Tenant-Id); empty when absent. It follows the
	// payload and is optional: a record that ends after the payload (an
	// older host) decodes with no tenant, and an older guest stops reading
	// after the payload.
	TenantID []byte
}

// Size returns the encoded length of inv.
func (inv *Invocation) Size() int {
	return 8 + 7*4 + len(inv.RequestID) + len(inv.InvokedFunctionARN) + len(inv.TraceID) +
		len(inv.ClientContext) + len(inv.CognitoIdentity) + len(inv.Payload) + len(inv.TenantID)
}

// Append appends the encoding of inv to b.
func (inv *Invocation) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(inv.DeadlineMs))
	for _, f := range [...][]byte{inv.RequestID, inv.InvokedFunctionARN, inv.TraceID, inv.ClientContext, inv.CognitoIdentity, inv.Payload, inv.TenantID} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// requiredFields is the number of length-prefixed fields every record has
// (request id through payload); the ones after them were added later.
const requiredFields = 6

// ErrTruncated is returned for a record shorter than its fields claim.
var ErrTruncated = errors.New("invocation record truncated")

// Decode decodes b into inv without copying. The fields after the payload
// are optional (see TenantID); bytes after the last known field are
// ignored, so a newer host's record still decodes.
func Decode(b []byte, inv *Invocation) error {
	if len(b) < 8 {
		return ErrTruncated
	}
	inv.DeadlineMs = int64(binary.LittleEndian.Uint64(b))
	b = b[8:]
	inv.TenantID = nil
	for i, f := range [...]*[]byte{&inv.RequestID, &inv.InvokedFunctionARN, &inv.TraceID, &inv.ClientContext, &inv.CognitoIdentity, &inv.Payload, &inv.TenantID} {
		if i >= requiredFields && len(b) == 0 {
			return nil
		}
		if len(b) < 4 {
			return ErrTruncated
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(n) {
			return ErrTruncated
		}
		*f, b = b[:n:n], b[n:]
	}
	return nil
}
