package eventsource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
)

func sqsClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
}

// sqsQueue creates a queue and returns its URL.
func sqsQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, c *sqs.Client, queue string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

// sqsDepth is the queue's visible plus in-flight messages.
func sqsDepth(t *testing.T, c *sqs.Client, queue string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &queue, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	b, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return a + b
}

func sqsBatches(t *testing.T, r *recorder) (evs []events.SQSEvent) {
	for _, c := range r.invocations() {
		var ev events.SQSEvent
		if err := json.Unmarshal(c.payload, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func sqsSource(t *testing.T, cfg eventsource.SQS, r *recorder) {
	t.Helper()
	src, err := eventsource.NewSQS(cfg, testEnv(t, r))
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
}

// sqsBodies counts the bodies the function was invoked with.
func sqsBodies(t *testing.T, r *recorder) map[string]int {
	n := map[string]int{}
	for _, ev := range sqsBatches(t, r) {
		for _, m := range ev.Records {
			n[m.Body]++
		}
	}
	return n
}

func TestEventSourceSQS(t *testing.T) {
	endpoint := queuetest.SQS(t)
	c := sqsClient(endpoint)

	t.Run("delivery", func(t *testing.T) {
		q := sqsQueue(t, c, "delivery", nil)
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String(`{"order":1}`),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"tenant": {DataType: aws.String("String"), StringValue: aws.String("acme")},
				"weight": {DataType: aws.String("Number"), StringValue: aws.String("12")},
			}}); err != nil {
			t.Fatal(err)
		}
		r := newRecorder(t, "sqs-batch")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint}, r)
		eventually(t, "the message deleted", func() bool { return len(r.invocations()) == 1 && sqsDepth(t, c, q) == 0 })
		ev := sqsBatches(t, r)[0]
		if len(ev.Records) != 1 {
			t.Fatalf("records %+v", ev.Records)
		}
		m := ev.Records[0]
		if m.Body != `{"order":1}` || m.Md5OfBody != "190ad5fd0596a0629a0aa256937135a3" || m.MessageId == "" || m.ReceiptHandle == "" ||
			m.EventSource != "aws:sqs" || m.EventSourceARN != "arn:aws:sqs:us-east-1:123456789012:delivery" || m.AWSRegion != "us-east-1" ||
			m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" || m.Md5OfMessageAttributes == "" {
			t.Errorf("record %+v", m)
		}
		if a := m.MessageAttributes["tenant"]; a.DataType != "String" || aws.ToString(a.StringValue) != "acme" || a.StringListValues == nil {
			t.Errorf("message attribute %+v", a)
		}
		if a := m.MessageAttributes["weight"]; a.DataType != "Number" || aws.ToString(a.StringValue) != "12" {
			t.Errorf("message attribute %+v", a)
		}
		// The payload keeps Lambda's keys, e.g. stringListValues as [] when empty.
		var raw map[string][]map[string]any
		json.Unmarshal(r.invocations()[0].payload, &raw)
		for _, k := range []string{"messageId", "receiptHandle", "body", "md5OfBody", "md5OfMessageAttributes", "attributes", "messageAttributes", "eventSourceARN", "eventSource", "awsRegion"} {
			if _, ok := raw["Records"][0][k]; !ok {
				t.Errorf("payload lacks %s: %s", k, r.invocations()[0].payload)
			}
		}
	})

	t.Run("batching", func(t *testing.T) {
		q := sqsQueue(t, c, "batching", nil)
		for i := range 25 {
			send(t, c, q, fmt.Sprintf("m%02d", i))
		}
		r := newRecorder(t, "sqs-batch")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint, BatchSize: 10, MaximumBatchingWindow: eventsource.Window(time.Second), MaximumConcurrency: 2}, r)
		eventually(t, "25 messages deleted", func() bool { return len(sqsBodies(t, r)) == 25 && sqsDepth(t, c, q) == 0 })
		biggest := 0
		for _, ev := range sqsBatches(t, r) {
			if len(ev.Records) > 10 {
				t.Errorf("batch of %d, above batchSize 10", len(ev.Records))
			}
			biggest = max(biggest, len(ev.Records))
		}
		if biggest != 10 {
			t.Errorf("largest batch %d, want 10: the messages were waiting", biggest)
		}
	})

	t.Run("partial batch failure", func(t *testing.T) {
		// The visibility timeout must outlast the batching window plus the
		// invocation by a margin a loaded machine keeps: with 1 s, a batch
		// gathered for 1 s and run for 1 s came back whole before its
		// successful messages were deleted (as it would on SQS).
		q := sqsQueue(t, c, "partial", map[string]string{"VisibilityTimeout": "10"})
		send(t, c, q, "ok one", "please fail", "ok two")
		r := newRecorder(t, "sqs-batch")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint, FunctionResponseTypes: []string{"ReportBatchItemFailures"}, MaximumBatchingWindow: eventsource.Window(time.Second)}, r)
		eventually(t, "the failed message received again", func() bool { return sqsBodies(t, r)["please fail"] >= 2 })
		got := sqsBodies(t, r)
		if got["ok one"] != 1 || got["ok two"] != 1 {
			t.Errorf("bodies %v: the successful messages must be deleted after their batch", got)
		}
		// The same message, not a copy (goaws leaves its
		// ApproximateReceiveCount at 1, so the ID tells).
		ids := map[string]bool{}
		for _, ev := range sqsBatches(t, r) {
			for _, m := range ev.Records {
				if m.Body == "please fail" {
					ids[m.MessageId] = true
				}
			}
		}
		if len(ids) != 1 {
			t.Errorf("the failed message came back as %d different messages", len(ids))
		}
	})

	t.Run("retry then dead-letter queue", func(t *testing.T) {
		dlq := sqsQueue(t, c, "retry-dlq", nil)
		q := sqsQueue(t, c, "retry", map[string]string{"VisibilityTimeout": "1",
			"RedrivePolicy": `{"maxReceiveCount":"2","deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:retry-dlq"}`})
		send(t, c, q, "please fail")
		r := newRecorder(t, "sqs-batch")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint, FunctionResponseTypes: []string{"ReportBatchItemFailures"}}, r)
		eventually(t, "the message in the dead-letter queue", func() bool { return sqsDepth(t, c, dlq) == 1 })
		if n := sqsBodies(t, r)["please fail"]; n < 2 {
			t.Errorf("received %d times before redrive, want maxReceiveCount 2", n)
		}
		if n := sqsDepth(t, c, q); n != 0 {
			t.Errorf("%d messages left in the source queue", n)
		}
	})

	t.Run("filter criteria", func(t *testing.T) {
		q := sqsQueue(t, c, "filter", nil)
		send(t, c, q, `{"kind":"order","total":120}`, `{"kind":"order","total":5}`, "plain text", `{"kind":"Refund"}`)
		r := newRecorder(t, "sqs-batch")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint, FilterCriteria: eventsource.FilterCriteria{Filters: []eventsource.Filter{
			{Pattern: `{"body":{"kind":["order"],"total":[{"numeric":[">=",100]}]}}`},
			{Pattern: `{"body":{"kind":[{"equals-ignore-case":"refund"}]}}`},
		}}}, r)
		// Messages no filter matches are deleted without an invocation.
		eventually(t, "the queue to be empty", func() bool { return sqsDepth(t, c, q) == 0 && len(sqsBodies(t, r)) == 2 })
		got := sqsBodies(t, r)
		if got[`{"kind":"order","total":120}`] != 1 || got[`{"kind":"Refund"}`] != 1 || len(got) != 2 {
			t.Errorf("invoked with %v", got)
		}
	})

	t.Run("kill mid-batch then restart", func(t *testing.T) {
		q := sqsQueue(t, c, "crash", map[string]string{"VisibilityTimeout": "2"})
		want := []string{"a", "b", "sleep then c", "d"}
		send(t, c, q, want...)
		cfg := &eventsource.SQS{Queue: q, Endpoint: endpoint, BatchSize: 4, MaximumBatchingWindow: eventsource.Window(time.Second), FunctionResponseTypes: []string{"ReportBatchItemFailures"}}
		first := startChild(t, childSpec{SQS: cfg})
		first.waitBusy(t)
		first.kill(t) // mid-batch: nothing of it was deleted
		second := startChild(t, childSpec{SQS: cfg})
		second.waitProcessed(t, want)
		eventually(t, "the queue to be empty", func() bool { return sqsDepth(t, c, q) == 0 })
		second.terminate(t)
	})

	t.Run("visibility timeout extended while the batch runs", func(t *testing.T) {
		// The function (3 s) outlives the queue's visibility timeout (2 s):
		// without the extension the second poller would receive the
		// message again while the first still runs it.
		q := sqsQueue(t, c, "extend", map[string]string{"VisibilityTimeout": "2"})
		send(t, c, q, "sleep through the timeout")
		r := newRecorder(t, "queue-consumer")
		sqsSource(t, eventsource.SQS{Queue: q, Endpoint: endpoint, MaximumConcurrency: 2}, r)
		eventually(t, "the message deleted", func() bool { return len(r.processed()) == 1 && sqsDepth(t, c, q) == 0 })
		if n := len(r.invocations()); n != 1 {
			t.Errorf("%d invocations, want 1", n)
		}
	})

	t.Run("SIGTERM mid-batch finishes the batch", func(t *testing.T) {
		q := sqsQueue(t, c, "shutdown", map[string]string{"VisibilityTimeout": "30"})
		want := []string{"sleep then x", "y"}
		send(t, c, q, want...)
		child := startChild(t, childSpec{SQS: &eventsource.SQS{Queue: q, Endpoint: endpoint, BatchSize: 2, MaximumBatchingWindow: eventsource.Window(time.Second)}})
		child.waitBusy(t)
		got := child.terminate(t) // mid-batch
		for _, w := range want {
			if got[w] != 1 {
				t.Errorf("%q processed %d times before the exit, want once: %v", w, got[w], got)
			}
		}
		// Deleted before the exit: with a 30 s visibility timeout a batch
		// left behind would still be in flight.
		if n := sqsDepth(t, c, q); n != 0 {
			t.Errorf("%d messages left: the finished batch was not deleted", n)
		}
	})
}
