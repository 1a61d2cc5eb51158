package eventsource

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestFIFOFailures: in a FIFO queue, a failed message keeps the later
// messages of its group in the queue, so they are received again after it,
// in order; other groups go on. (goaws, the tests' SQS server, does not
// return MessageGroupId, so this is checked here.)
func TestFIFOFailures(t *testing.T) {
	msg := func(id, group string) types.Message {
		return types.Message{MessageId: aws.String(id), Attributes: map[string]string{"MessageGroupId": group}}
	}
	batch := []types.Message{msg("a1", "a"), msg("b1", "b"), msg("a2", "a"), msg("b2", "b"), msg("a3", "a")}
	got := fifoFailures(batch, map[string]bool{"a2": true})
	want := map[string]bool{"a2": true, "a3": true}
	if len(got) != len(want) || !got["a2"] || !got["a3"] {
		t.Errorf("kept %v, want %v", got, want)
	}
}

// TestBatchItemFailures: Lambda's rules for a partial batch response.
func TestBatchItemFailures(t *testing.T) {
	batch := []types.Message{{MessageId: aws.String("m1")}, {MessageId: aws.String("m2")}}
	for _, c := range []struct {
		resp   string
		failed []string
		whole  bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`"not an object"`, nil, false},
		{`{"batchItemFailures":[]}`, nil, false},
		{`{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, []string{"m2"}, false},
		{`{"batchItemFailures":[{"itemIdentifier":"other"}]}`, nil, true},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, true},
	} {
		failed, whole := batchItemFailures([]byte(c.resp), batch)
		if (whole != "") != c.whole || len(failed) != len(c.failed) {
			t.Errorf("%s: failed %v, whole batch %q", c.resp, failed, whole)
		}
		for _, id := range c.failed {
			if !failed[id] {
				t.Errorf("%s: %s not failed", c.resp, id)
			}
		}
	}
}
