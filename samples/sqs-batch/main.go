// Command sqs-batch is an SQS handler with partial batch responses: it
// reports the messages it could not process in batchItemFailures, so only
// those are retried.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

func handler(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, msg := range ev.Records {
		if err := process(msg); err != nil {
			fmt.Printf("message %s failed: %v\n", msg.MessageId, err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			continue
		}
		fmt.Printf("message %s from %s processed\n", msg.MessageId, msg.EventSourceARN)
	}
	return resp, nil
}

// process fails messages whose body asks for it, or that are empty.
func process(msg events.SQSMessage) error {
	switch {
	case strings.TrimSpace(msg.Body) == "":
		return fmt.Errorf("empty body")
	case strings.Contains(msg.Body, "fail"):
		return fmt.Errorf("body asks to fail")
	}
	return nil
}

func main() {
	lambda.Start(handler)
}
