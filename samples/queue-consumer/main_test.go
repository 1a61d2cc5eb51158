package main

import (
	"testing"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

func testEvents(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"sqs-event.json":      sampletest.Fixture(t, "sqs-event.json"),
		"kafka-event.json":    sampletest.Fixture(t, "kafka-event.json"),
		"rabbitmq-event.json": sampletest.Fixture(t, "rabbitmq-event.json"),
		"sqs-partial":         []byte(`{"Records":[{"messageId":"m1","body":"ok"},{"messageId":"m2","body":"please fail"}]}`),
		"kafka-failure":       []byte(`{"eventSource":"SelfManagedKafka","records":{"t-0":[{"topic":"t","partition":0,"offset":7,"value":"ZmFpbA=="}]}}`),
	}
}

// TestDifferential checks that the handler answers the same under ferry as
// natively through aws-lambda-go.
func TestDifferential(t *testing.T) { sampletest.Differential(t, handler, testEvents(t)) }
