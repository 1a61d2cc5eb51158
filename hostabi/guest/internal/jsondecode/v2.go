//go:build goexperiment.jsonv2

package jsondecode

const v2Linked = true
