package main

import (
	"testing"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

func testEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"apigw-request.json":                 sampletest.Fixture(t, "apigw-request.json"),
		"apigw-restapi-openapi-request.json": sampletest.Fixture(t, "apigw-restapi-openapi-request.json"),
	}
}

// TestDifferential checks that the handler answers the same under ferry as
// natively through aws-lambda-go.
func TestDifferential(t *testing.T) { sampletest.Differential(t, handler, testEvents(t)) }

func BenchmarkColdStart(b *testing.B)  { sampletest.ColdStart(b, testEvents(b)["apigw-request.json"]) }
func BenchmarkWarmInvoke(b *testing.B) { sampletest.WarmInvoke(b, testEvents(b)["apigw-request.json"]) }
func BenchmarkNativeInvoke(b *testing.B) {
	sampletest.NativeInvoke(b, handler, testEvents(b)["apigw-request.json"])
}

func BenchmarkNativeColdStart(b *testing.B) {
	sampletest.NativeColdStart(b, testEvents(b)["apigw-request.json"])
}
func BenchmarkIdleMemory(b *testing.B) { sampletest.IdleMemory(b, testEvents(b)["apigw-request.json"]) }
