//go:build !goexperiment.jsonv2

package jsondecode

// v2Linked is whether encoding/json is v2's engine behind v1's API
// (GOEXPERIMENT=jsonv2): Decode repeats v1's own decoder, so For then
// gives no Decoder and encoding/json decodes every event.
const v2Linked = false
