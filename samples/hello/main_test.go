package main

import (
	"testing"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

func testEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"event.json": []byte(`"World"`),
		"empty":      []byte(`""`),
		"unicode":    []byte(`"wörld ☃"`),
	}
}

// TestDifferential checks that the handler answers the same under ferry as
// natively through aws-lambda-go.
func TestDifferential(t *testing.T) { sampletest.Differential(t, handler, testEvents(t)) }

func BenchmarkColdStart(b *testing.B)  { sampletest.ColdStart(b, testEvents(b)["event.json"]) }
func BenchmarkWarmInvoke(b *testing.B) { sampletest.WarmInvoke(b, testEvents(b)["event.json"]) }
func BenchmarkNativeInvoke(b *testing.B) {
	sampletest.NativeInvoke(b, handler, testEvents(b)["event.json"])
}

func BenchmarkNativeColdStart(b *testing.B) {
	sampletest.NativeColdStart(b, testEvents(b)["event.json"])
}
func BenchmarkIdleMemory(b *testing.B) { sampletest.IdleMemory(b, testEvents(b)["event.json"]) }
