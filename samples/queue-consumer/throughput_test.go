package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	queuetest.Stop()
	os.Exit(code)
}

// BenchmarkThroughput measures messages per second through an event
// source: b.N messages wait in the queue, the source drains them through
// the handler, once as the Wasm module under ferry and once natively (the
// same handler called through aws-lambda-go in this process, by the same
// source code). The ratio is ferry's cost on the queue path.
//
//	go test -run '^$' -bench Throughput -benchtime 2000x ./samples/queue-consumer
func BenchmarkThroughput(b *testing.B) {
	f := sampletest.Load(b, ".", adapter.Config{Name: "queue-consumer", Timeout: time.Minute})
	native := awslambda.NewHandler(handler)
	// Steady state: the instance is started (and its snapshot taken) before
	// the clock runs, as native code needs no start.
	if res, err := f.Invoke(context.Background(), &adapter.Request{Payload: sampletest.Fixture(b, "sqs-event.json")}); err != nil || res.Failed() {
		b.Fatalf("warm-up: %v %s", err, res.Payload)
	}
	invokers := []struct {
		name string
		inv  eventsource.InvokerFunc
	}{
		{"native", func(ctx context.Context, p []byte) ([]byte, bool, error) {
			resp, err := native.Invoke(sampletest.NativeContext(), p)
			return resp, err != nil, nil
		}},
		{"ferry", func(ctx context.Context, p []byte) ([]byte, bool, error) {
			res, err := f.Invoke(ctx, &adapter.Request{Payload: p})
			if err != nil {
				return nil, false, err
			}
			return res.Payload, res.Failed(), nil
		}},
	}
	// The native handler prints a line per message, as the module does to
	// its log; send it where the module's log goes when nobody reads it.
	devnull, _ := os.Open(os.DevNull)
	stdout := os.Stdout
	defer func() { os.Stdout = stdout }()

	var seq atomic.Int64
	kinds := []struct {
		name  string
		setup func(b *testing.B, n int) func(eventsource.Env) (eventsource.Source, error)
	}{
		{"rabbitmq", rabbitSetup},
		{"kafka", kafkaSetup},
		{"sqs", sqsSetup},
	}
	for _, k := range kinds {
		for _, iv := range invokers {
			b.Run(k.name+"/"+iv.name, func(b *testing.B) {
				b.StopTimer()
				newSource := k.setup(b, b.N)
				var done atomic.Int64
				all := make(chan struct{})
				count := eventsource.InvokerFunc(func(ctx context.Context, p []byte) ([]byte, bool, error) {
					resp, failed, err := iv.inv(ctx, p)
					if err == nil && !failed && done.Add(int64(records(p))) >= int64(b.N) {
						select {
						case <-all:
						default:
							close(all)
						}
					}
					return resp, failed, err
				})
				src, err := newSource(eventsource.Env{Function: fmt.Sprintf("bench-%d", seq.Add(1)), Invoker: count, Region: "us-east-1", AccountID: "123456789012"})
				if err != nil {
					b.Fatal(err)
				}
				if iv.name == "native" {
					os.Stdout = devnull
				}
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				b.StartTimer()
				start := time.Now()
				go func() { src.Run(ctx); close(stopped) }()
				select {
				case <-all:
				case <-time.After(10 * time.Minute):
					b.Fatalf("%d of %d messages after 10 minutes", done.Load(), b.N)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				cancel()
				<-stopped
				os.Stdout = stdout
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			})
		}
	}
}

// records counts the records of a queue event.
func records(p []byte) int {
	var ev struct {
		Records  json.RawMessage            `json:"Records"`
		Kafka    map[string]json.RawMessage `json:"records"`
		RabbitMQ map[string][]any           `json:"rmqMessagesByQueue"`
	}
	json.Unmarshal(p, &ev)
	n := 0
	if len(ev.Records) > 0 {
		var rs []any
		json.Unmarshal(ev.Records, &rs)
		n += len(rs)
	}
	for _, raw := range ev.Kafka {
		var rs []any
		json.Unmarshal(raw, &rs)
		n += len(rs)
	}
	for _, ms := range ev.RabbitMQ {
		n += len(ms)
	}
	return n
}

var queueSeq atomic.Int64

func queueName(kind string) string {
	return fmt.Sprintf("bench-%s-%d-%d", kind, os.Getpid(), queueSeq.Add(1))
}

func rabbitSetup(b *testing.B, n int) func(eventsource.Env) (eventsource.Source, error) {
	url := queuetest.RabbitMQ(b)
	conn, err := amqp.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	q := queueName("rabbitmq")
	if _, err := ch.QueueDeclare(q, false, true, false, false, nil); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{Body: []byte("m" + strconv.Itoa(i))}); err != nil {
			b.Fatal(err)
		}
	}
	return func(env eventsource.Env) (eventsource.Source, error) {
		return eventsource.NewRabbitMQ(eventsource.RabbitMQ{URL: url, Queue: q, BatchSize: 100, MaximumBatchingWindow: eventsource.Window(100 * time.Millisecond)}, env)
	}
}

func kafkaSetup(b *testing.B, n int) func(eventsource.Env) (eventsource.Source, error) {
	brokers := queuetest.Kafka(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	topic := queueName("kafka")
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte("m" + strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	return func(env eventsource.Env) (eventsource.Source, error) {
		return eventsource.NewKafka(eventsource.Kafka{BootstrapServers: brokers, Topics: []string{topic}, BatchSize: 100, MaximumBatchingWindow: eventsource.Window(100 * time.Millisecond)}, env)
	}
}

func sqsSetup(b *testing.B, n int) func(eventsource.Env) (eventsource.Source, error) {
	endpoint := queuetest.SQS(b)
	c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(queueName("sqs"))})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < min(i+10, n); j++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String("m" + strconv.Itoa(j))})
		}
		if _, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: out.QueueUrl, Entries: entries}); err != nil {
			b.Fatal(err)
		}
	}
	return func(env eventsource.Env) (eventsource.Source, error) {
		return eventsource.NewSQS(eventsource.SQS{Queue: aws.ToString(out.QueueUrl), Endpoint: endpoint, BatchSize: 10, MaximumConcurrency: 5}, env)
	}
}
