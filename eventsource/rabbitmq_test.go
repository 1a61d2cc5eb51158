package eventsource_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
)

// rabbitQueue declares a fresh queue (a quorum queue when args ask for
// one) and returns a channel to publish on.
func rabbitQueue(t *testing.T, url, name string, args amqp.Table) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	return ch
}

func publish(t *testing.T, ch *amqp.Channel, queue string, msgs ...amqp.Publishing) {
	t.Helper()
	for _, m := range msgs {
		if err := ch.PublishWithContext(context.Background(), "", queue, false, false, m); err != nil {
			t.Fatal(err)
		}
	}
}

func text(s string) amqp.Publishing {
	return amqp.Publishing{ContentType: "text/plain", Body: []byte(s)}
}

// queueDepth is the queue's messages: ready, and (after its consumers
// went away) those that were unacknowledged.
func queueDepth(t *testing.T, ch *amqp.Channel, name string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// rabbitBatches decodes the RabbitMQ events the function was invoked with.
func rabbitBatches(t *testing.T, r *recorder) (evs []events.RabbitMQEvent) {
	for _, c := range r.invocations() {
		var ev events.RabbitMQEvent
		if err := json.Unmarshal(c.payload, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestEventSourceRabbitMQ(t *testing.T) {
	url := queuetest.RabbitMQ(t)

	t.Run("delivery", func(t *testing.T) {
		ch := rabbitQueue(t, url, "delivery", nil)
		r := newRecorder(t, "queue-consumer")
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "delivery"}, testEnv(t, r))
		if err != nil {
			t.Fatal(err)
		}
		publish(t, ch, "delivery", amqp.Publishing{
			ContentType: "application/json", MessageId: "m-1", Priority: 3, DeliveryMode: amqp.Persistent,
			Headers:   amqp.Table{"tenant": "acme", "attempt": int32(1)},
			Timestamp: time.Unix(1700000000, 0), Body: []byte(`{"order":1}`),
		})
		run(t, src)
		eventually(t, "one invocation", func() bool { return len(r.invocations()) == 1 })
		c := r.invocations()[0]
		if c.failed {
			t.Fatalf("function failed: %s", c.response)
		}
		// The payload has Lambda's Amazon MQ shape: string headers as
		// byte arrays, data base64, messages keyed by queue::vhost.
		var doc map[string]any
		json.Unmarshal(c.payload, &doc)
		msgs := doc["rmqMessagesByQueue"].(map[string]any)["delivery::/"].([]any)
		props := msgs[0].(map[string]any)["basicProperties"].(map[string]any)
		if got, _ := json.Marshal(props["headers"]); string(got) != `{"attempt":1,"tenant":{"bytes":[97,99,109,101]}}` {
			t.Errorf("headers %s", got)
		}
		ev := rabbitBatches(t, r)[0]
		if ev.EventSource != "aws:rmq" || !strings.HasPrefix(ev.EventSourceARN, "arn:aws:mq:us-east-1:123456789012:broker:") {
			t.Errorf("eventSource %q eventSourceArn %q", ev.EventSource, ev.EventSourceARN)
		}
		m := ev.MessagesByQueue["delivery::/"][0]
		data, _ := base64.StdEncoding.DecodeString(m.Data)
		if string(data) != `{"order":1}` || *m.BasicProperties.MessageID != "m-1" || m.BasicProperties.Priority != 3 ||
			m.BasicProperties.DeliveryMode != 2 || m.BasicProperties.BodySize != 11 || m.BasicProperties.Timestamp != "Nov 14, 2023, 10:13:20 PM" || m.Redelivered {
			t.Errorf("message %+v data %s", m, data)
		}
		eventually(t, "the queue to be empty", func() bool { return queueDepth(t, ch, "delivery") == 0 })
	})

	t.Run("batching", func(t *testing.T) {
		ch := rabbitQueue(t, url, "batching", nil)
		for i := range 25 {
			publish(t, ch, "batching", text(fmt.Sprintf("m%02d", i)))
		}
		r := newRecorder(t, "queue-consumer")
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "batching", BatchSize: 10, MaximumBatchingWindow: eventsource.Window(time.Second)}, testEnv(t, r))
		if err != nil {
			t.Fatal(err)
		}
		run(t, src)
		eventually(t, "25 messages processed", func() bool { return len(r.processed()) == 25 })
		sizes := []int{}
		for _, ev := range rabbitBatches(t, r) {
			sizes = append(sizes, len(ev.MessagesByQueue["batching::/"]))
		}
		// The 25 were waiting: full batches of 10, then the rest.
		if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 10 || sizes[2] != 5 {
			t.Errorf("batch sizes %v, want [10 10 5]", sizes)
		}
		eventually(t, "the queue to be empty", func() bool { return queueDepth(t, ch, "batching") == 0 })
	})

	t.Run("partial batch failure", func(t *testing.T) {
		// RabbitMQ has no partial batch response: a failed batch returns to
		// the queue whole, and its messages come back redelivered.
		ch := rabbitQueue(t, url, "partial", amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(1)})
		publish(t, ch, "partial", text("good"), text("please fail"))
		r := newRecorder(t, "queue-consumer")
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "partial", BatchSize: 2, MaximumBatchingWindow: eventsource.Window(time.Second)}, testEnv(t, r))
		if err != nil {
			t.Fatal(err)
		}
		run(t, src)
		eventually(t, "the batch to be tried twice", func() bool { return len(r.invocations()) >= 2 })
		evs := rabbitBatches(t, r)
		first, second := evs[0].MessagesByQueue["partial::/"], evs[1].MessagesByQueue["partial::/"]
		if len(first) != 2 || first[0].Redelivered || len(second) != 2 || !second[0].Redelivered || !second[1].Redelivered {
			t.Errorf("first delivery %+v, second %+v: want the whole batch redelivered", first, second)
		}
		for _, c := range r.invocations() {
			if !c.failed {
				t.Errorf("invocation succeeded: %s", c.response)
			}
		}
	})

	t.Run("retry then dead-letter", func(t *testing.T) {
		dlq := rabbitQueue(t, url, "retry-dlq", nil)
		ch := rabbitQueue(t, url, "retry", amqp.Table{
			"x-queue-type": "quorum", "x-delivery-limit": int32(2),
			"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "retry-dlq",
		})
		publish(t, ch, "retry", text("fail always"), text("fine"))
		r := newRecorder(t, "queue-consumer")
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "retry", BatchSize: 1}, testEnv(t, r))
		if err != nil {
			t.Fatal(err)
		}
		run(t, src)
		eventually(t, "the failing message in the dead-letter queue", func() bool { return queueDepth(t, dlq, "retry-dlq") == 1 })
		eventually(t, "the queue to be empty", func() bool { return queueDepth(t, ch, "retry") == 0 })
		// The delivery limit is 2: the first delivery and two more, then the
		// broker dead-letters it.
		failures := 0
		for _, c := range r.invocations() {
			if c.failed {
				failures++
			}
		}
		if failures != 3 {
			t.Errorf("%d failed invocations, want 3 (delivery limit 2)", failures)
		}
		if n := r.processed()["fine"]; n != 1 {
			t.Errorf("the good message was processed %d times", n)
		}
		d, ok, err := dlq.Get("retry-dlq", true)
		if err != nil || !ok || string(d.Body) != "fail always" {
			t.Errorf("dead letter %q %v %v", d.Body, ok, err)
		}
	})

	t.Run("filter criteria", func(t *testing.T) {
		ch := rabbitQueue(t, url, "filter", nil)
		publish(t, ch, "filter", text(`{"kind":"order","total":120}`), text(`{"kind":"order","total":5}`), text(`{"kind":"refund","total":120}`), text("not json"))
		r := newRecorder(t, "queue-consumer")
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "filter",
			FilterCriteria: eventsource.FilterCriteria{Filters: []eventsource.Filter{{Pattern: `{"data":{"kind":["order"],"total":[{"numeric":[">",100]}]}}`}}},
		}, testEnv(t, r))
		if err != nil {
			t.Fatal(err)
		}
		run(t, src)
		// The three others are dropped: acknowledged without an invocation.
		eventually(t, "the queue to be empty", func() bool { return queueDepth(t, ch, "filter") == 0 })
		eventually(t, "one message processed", func() bool { return len(r.processed()) == 1 })
		if got := r.processed(); got[`{"kind":"order","total":120}`] != 1 {
			t.Errorf("processed %v", got)
		}
	})

	t.Run("kill mid-batch then restart", func(t *testing.T) {
		ch := rabbitQueue(t, url, "crash", nil)
		want := []string{"a", "b", "sleep then c", "d", "e"}
		for _, s := range want {
			publish(t, ch, "crash", text(s))
		}
		cfg := &eventsource.RabbitMQ{URL: url, Queue: "crash", BatchSize: 5, MaximumBatchingWindow: eventsource.Window(time.Second)}
		first := startChild(t, childSpec{RabbitMQ: cfg})
		first.waitBusy(t)
		first.kill(t) // mid-batch: nothing of it was acknowledged
		second := startChild(t, childSpec{RabbitMQ: cfg})
		second.waitProcessed(t, want) // none lost
		second.terminate(t)
		if n := queueDepth(t, ch, "crash"); n != 0 {
			t.Errorf("%d messages left in the queue", n)
		}
	})

	t.Run("SIGTERM mid-batch finishes the batch", func(t *testing.T) {
		ch := rabbitQueue(t, url, "shutdown", nil)
		want := []string{"sleep then x", "y"}
		for _, s := range want {
			publish(t, ch, "shutdown", text(s))
		}
		c := startChild(t, childSpec{RabbitMQ: &eventsource.RabbitMQ{URL: url, Queue: "shutdown", BatchSize: 2, MaximumBatchingWindow: eventsource.Window(time.Second)}})
		c.waitBusy(t)
		got := c.terminate(t) // mid-batch
		for _, w := range want {
			if got[w] != 1 {
				t.Errorf("%q processed %d times before the exit, want once: %v", w, got[w], got)
			}
		}
		if n := queueDepth(t, ch, "shutdown"); n != 0 {
			t.Errorf("%d messages left: the finished batch was not acknowledged", n)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		ch := rabbitQueue(t, url, "metrics", nil)
		stamped := func(s string) amqp.Publishing { return amqp.Publishing{Body: []byte(s), Timestamp: time.Now()} }
		publish(t, ch, "metrics", stamped("one"), stamped("two"), stamped("please fail"))
		r := newRecorder(t, "queue-consumer")
		reg := prometheus.NewRegistry()
		env := testEnv(t, r)
		env.Metrics = eventsource.NewMetrics(reg)
		src, err := eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: "metrics", BatchSize: 1,
			FilterCriteria: eventsource.FilterCriteria{Filters: []eventsource.Filter{{Pattern: `{"data":["one","please fail"]}`}}}}, env)
		if err != nil {
			t.Fatal(err)
		}
		run(t, src)
		eventually(t, "the failed message retried", func() bool {
			return testutil.ToFloat64(env.Metrics.Failed("queue-consumer", "rabbitmq:metrics")) >= 2
		})
		for name, want := range map[string]float64{"succeeded": 1, "filtered": 1} {
			var c prometheus.Collector
			if name == "succeeded" {
				c = env.Metrics.Succeeded("queue-consumer", "rabbitmq:metrics")
			} else {
				c = env.Metrics.Filtered("queue-consumer", "rabbitmq:metrics")
			}
			if got := testutil.ToFloat64(c); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if n, err := testutil.GatherAndCount(reg, "ferry_eventsource_records_received_total", "ferry_eventsource_oldest_record_age_seconds", "ferry_eventsource_lag_records"); err != nil || n != 3 {
			t.Errorf("gathered %d series (%v), want received, age and lag", n, err)
		}
	})
}
