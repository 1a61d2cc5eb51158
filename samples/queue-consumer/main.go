// Command queue-consumer handles the queue events Lambda's event source
// mappings send — SQS (with partial batch responses), Kafka (MSK and
// self-managed) and RabbitMQ (Amazon MQ) — with one handler, so one module
// can sit behind each kind of source. It logs "processed <data>" for each
// record it handled, fails records whose data contains "fail", and sleeps
// for records containing "sleep" (to test what happens to a batch a crash
// interrupts).
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

// record is one message, whichever source it came from.
type record struct {
	id, data string
}

func handler(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		EventSource string `json:"eventSource"`
		Records     json.RawMessage
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	switch probe.EventSource {
	case "aws:kafka", "SelfManagedKafka":
		var ev events.KafkaEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		var recs []record
		for key, list := range ev.Records {
			for _, r := range list {
				data, err := base64.StdEncoding.DecodeString(r.Value)
				if err != nil {
					return nil, fmt.Errorf("record %s@%d: value is not base64: %v", key, r.Offset, err)
				}
				recs = append(recs, record{fmt.Sprintf("%s@%d", key, r.Offset), string(data)})
			}
		}
		return nil, processAll(recs)
	case "aws:rmq":
		var ev events.RabbitMQEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		var recs []record
		for queue, list := range ev.MessagesByQueue {
			for i, m := range list {
				data, err := base64.StdEncoding.DecodeString(m.Data)
				if err != nil {
					return nil, fmt.Errorf("message %d of %s: data is not base64: %v", i, queue, err)
				}
				recs = append(recs, record{fmt.Sprintf("%s#%d", queue, i), string(data)})
			}
		}
		return nil, processAll(recs)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if len(ev.Records) == 0 {
		return nil, fmt.Errorf("unknown event: no eventSource and no SQS Records")
	}
	// SQS: report each failed message, so only those return to the queue.
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := process(record{m.MessageId, m.Body}); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// processAll handles a Kafka or RabbitMQ batch: those sources retry (or
// requeue) the whole batch, so one failure fails it.
func processAll(recs []record) error {
	var failed []string
	for _, r := range recs {
		if err := process(r); err != nil {
			failed = append(failed, r.id)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d records failed: %s", len(failed), len(recs), strings.Join(failed, ", "))
	}
	return nil
}

func process(r record) error {
	if strings.Contains(r.data, "sleep") {
		fmt.Printf("sleeping on %s\n", r.data)
		time.Sleep(3 * time.Second)
	}
	if strings.Contains(r.data, "fail") {
		fmt.Printf("failed %s\n", r.data)
		return fmt.Errorf("%s: data asks to fail", r.id)
	}
	fmt.Printf("processed %s\n", r.data)
	return nil
}

func main() {
	lambda.Start(handler)
}
