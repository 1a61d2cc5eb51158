package main

import (
	"testing"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

func testEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"sqs-event.json":  sampletest.Fixture(t, "sqs-event.json"),
		"partial-failure": []byte(`{"Records":[{"messageId":"m1","body":"ok","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q"},{"messageId":"m2","body":"please fail"},{"messageId":"m3","body":" "}]}`),
	}
}

// TestDifferential checks that the handler answers the same under ferry as
// natively through aws-lambda-go.
func TestDifferential(t *testing.T) { sampletest.Differential(t, handler, testEvents(t)) }

func BenchmarkColdStart(b *testing.B)  { sampletest.ColdStart(b, testEvents(b)["sqs-event.json"]) }
func BenchmarkWarmInvoke(b *testing.B) { sampletest.WarmInvoke(b, testEvents(b)["sqs-event.json"]) }
func BenchmarkNativeInvoke(b *testing.B) {
	sampletest.NativeInvoke(b, handler, testEvents(b)["sqs-event.json"])
}

func BenchmarkNativeColdStart(b *testing.B) {
	sampletest.NativeColdStart(b, testEvents(b)["sqs-event.json"])
}
func BenchmarkIdleMemory(b *testing.B) { sampletest.IdleMemory(b, testEvents(b)["sqs-event.json"]) }
