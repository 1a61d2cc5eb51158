//go:build !goexperiment.jsonv2

package jsonencode

// v2Linked is whether encoding/json is v2's engine behind v1's API
// (GOEXPERIMENT=jsonv2): Append repeats v1's own encoder, so For then
// gives no Encoder and encoding/json writes every response.
const v2Linked = false
