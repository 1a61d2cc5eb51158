package main

import (
	"testing"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

func testEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"apigw-v2-request-no-authorizer.json":     sampletest.Fixture(t, "apigw-v2-request-no-authorizer.json"),
		"apigw-v2-request-iam.json":               sampletest.Fixture(t, "apigw-v2-request-iam.json"),
		"apigw-v2-request-jwt-authorizer.json":    sampletest.Fixture(t, "apigw-v2-request-jwt-authorizer.json"),
		"apigw-v2-request-lambda-authorizer.json": sampletest.Fixture(t, "apigw-v2-request-lambda-authorizer.json"),
	}
}

// TestDifferential checks that the handler answers the same under ferry as
// natively through aws-lambda-go.
func TestDifferential(t *testing.T) { sampletest.Differential(t, handler, testEvents(t)) }

func BenchmarkColdStart(b *testing.B) {
	sampletest.ColdStart(b, testEvents(b)["apigw-v2-request-no-authorizer.json"])
}
func BenchmarkWarmInvoke(b *testing.B) {
	sampletest.WarmInvoke(b, testEvents(b)["apigw-v2-request-no-authorizer.json"])
}
func BenchmarkNativeInvoke(b *testing.B) {
	sampletest.NativeInvoke(b, handler, testEvents(b)["apigw-v2-request-no-authorizer.json"])
}

func BenchmarkNativeColdStart(b *testing.B) {
	sampletest.NativeColdStart(b, testEvents(b)["apigw-v2-request-no-authorizer.json"])
}
func BenchmarkIdleMemory(b *testing.B) {
	sampletest.IdleMemory(b, testEvents(b)["apigw-v2-request-no-authorizer.json"])
}
