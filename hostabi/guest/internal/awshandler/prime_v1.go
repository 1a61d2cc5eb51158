//go:build !goexperiment.jsonv2

package awshandler

import (
	"encoding/json"
	"reflect"
)

// primeType builds encoding/json's caches for t by marshaling a nil
// pointer to it: encoding/json then builds the type's encoder, and with
// it the field lists its decoder shares, for every type reachable from
// it, and writes null, calling no method of the handler's types (a nil
// pointer's MarshalJSON is not called either).
func primeType(t reflect.Type) {
	json.Marshal(reflect.Zero(reflect.PointerTo(t)).Interface())
}
