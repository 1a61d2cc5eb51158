//go:build goexperiment.jsonv2

package jsonencode

const v2Linked = true
