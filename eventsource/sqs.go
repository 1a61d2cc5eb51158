package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS configures an SQS queue as an event source, with Lambda's SQS
// event source mapping settings.
type SQS struct {
	// Queue is the queue's URL or ARN.
	Queue string `json:"queue" yaml:"queue"`
	// Region is the queue's region (default: the ARN's or URL's, else the
	// function's).
	Region string `json:"region,omitempty" yaml:"region,omitempty"`
	// Endpoint overrides the SQS endpoint (an SQS-compatible server).
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint,omitempty"`
	// BatchSize is the most messages per invocation (1–10,000; default 10).
	// Above 10, maximumBatchingWindow must be at least 1 second, as Lambda
	// requires.
	BatchSize int `json:"batchSize,omitempty" yaml:"batchSize,omitempty"`
	// MaximumBatchingWindow is how long to gather a batch (0–300 s).
	MaximumBatchingWindow Window `json:"maximumBatchingWindow,omitempty" yaml:"maximumBatchingWindow,omitempty"`
	// FunctionResponseTypes may hold ReportBatchItemFailures: the function
	// returns the messages it failed (events.SQSEventResponse) and only
	// those stay in the queue.
	FunctionResponseTypes []string `json:"functionResponseTypes,omitempty" yaml:"functionResponseTypes,omitempty"`
	// MaximumConcurrency is the most batches in flight at once (2–1,000;
	// default 5).
	MaximumConcurrency int `json:"maximumConcurrency,omitempty" yaml:"maximumConcurrency,omitempty"`
	// FilterCriteria drops messages before they reach the function (and
	// deletes them, as Lambda does). Patterns see the record's fields, with
	// "body" parsed when it is JSON.
	FilterCriteria FilterCriteria `json:"filterCriteria,omitzero" yaml:"filterCriteria,omitempty"`
}

// reportBatchItemFailures says whether the function reports partial failures.
func (c *SQS) reportBatchItemFailures() bool {
	for _, t := range c.FunctionResponseTypes {
		if t == "ReportBatchItemFailures" {
			return true
		}
	}
	return false
}

func (c *SQS) withDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 10
	}
	if c.MaximumConcurrency == 0 {
		c.MaximumConcurrency = 5
	}
}

// Validate checks the configuration as Lambda's CreateEventSourceMapping
// would.
func (c SQS) Validate() error {
	c.withDefaults()
	if c.Queue == "" {
		return errors.New("sqs: queue (URL or ARN) is required")
	}
	if _, _, err := parseQueue(c.Queue); err != nil {
		return err
	}
	if err := checkBatchSize(c.BatchSize, 10000); err != nil {
		return fmt.Errorf("sqs %s: %w", c.Queue, err)
	}
	if err := checkWindow(c.MaximumBatchingWindow); err != nil {
		return fmt.Errorf("sqs %s: %w", c.Queue, err)
	}
	if c.BatchSize > 10 && time.Duration(c.MaximumBatchingWindow) < time.Second {
		return fmt.Errorf("sqs %s: batchSize %d: above 10, maximumBatchingWindow must be at least 1 second", c.Queue, c.BatchSize)
	}
	if c.MaximumConcurrency < 2 || c.MaximumConcurrency > 1000 {
		return fmt.Errorf("sqs %s: maximumConcurrency %d: must be between 2 and 1000", c.Queue, c.MaximumConcurrency)
	}
	for _, t := range c.FunctionResponseTypes {
		if t != "ReportBatchItemFailures" {
			return fmt.Errorf("sqs %s: functionResponseTypes: %q is not ReportBatchItemFailures", c.Queue, t)
		}
	}
	if _, err := compileFilters(c.FilterCriteria); err != nil {
		return fmt.Errorf("sqs %s: %w", c.Queue, err)
	}
	return nil
}

// parseQueue reads a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)
// or ARN (arn:aws:sqs:REGION:ACCOUNT:NAME). Either names the queue; the
// region is empty when the form does not say it.
func parseQueue(q string) (name, region string, err error) {
	if strings.HasPrefix(q, "arn:") {
		parts := strings.Split(q, ":")
		if len(parts) != 6 || parts[2] != "sqs" || parts[5] == "" {
			return "", "", fmt.Errorf("sqs queue %q: not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)", q)
		}
		return parts[5], parts[3], nil
	}
	u, err := url.Parse(q)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("sqs queue %q: neither a queue URL nor an ARN", q)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) == 0 || segs[len(segs)-1] == "" {
		return "", "", fmt.Errorf("sqs queue %q: the URL has no queue name", q)
	}
	if h := strings.Split(u.Hostname(), "."); len(h) >= 3 && h[0] == "sqs" {
		region = h[1]
	}
	return segs[len(segs)-1], region, nil
}

// NewSQS returns the source; it resolves the queue when run.
func NewSQS(cfg SQS, env Env) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	fs, _ := compileFilters(cfg.FilterCriteria)
	s := &sqsSource{cfg: cfg, env: env, filters: fs}
	s.name, s.region, _ = parseQueue(cfg.Queue)
	s.region = cmpOr(cfg.Region, s.region, env.Region, "us-east-1")
	s.rep = &reporter{env: env, source: s.Name()}
	return s, nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

type sqsSource struct {
	cfg          SQS
	env          Env
	filters      filters
	name, region string
	rep          *reporter

	client     *sqs.Client
	url, arn   string
	visibility int32 // the queue's visibility timeout, seconds
	fifo       bool
}

func (s *sqsSource) Name() string { return "sqs:" + s.name }

// resolve finds the queue's URL, ARN and visibility timeout.
func (s *sqsSource) resolve(ctx context.Context) error {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(s.region))
	if err != nil {
		return err
	}
	s.client = sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if s.cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.cfg.Endpoint)
		}
	})
	s.url = s.cfg.Queue
	if strings.HasPrefix(s.cfg.Queue, "arn:") {
		parts := strings.Split(s.cfg.Queue, ":")
		out, err := s.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
		if err != nil {
			return fmt.Errorf("sqs %s: %w", s.cfg.Queue, err)
		}
		s.url = aws.ToString(out.QueueUrl)
	}
	attrs, err := s.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &s.url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		return fmt.Errorf("sqs %s: %w", s.cfg.Queue, err)
	}
	s.arn = attrs.Attributes["QueueArn"]
	if s.arn == "" {
		s.arn = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.region, s.env.AccountID, s.name)
	}
	vt, _ := strconv.Atoi(attrs.Attributes["VisibilityTimeout"])
	s.visibility = int32(cmpInt(vt, 30))
	s.fifo = attrs.Attributes["FifoQueue"] == "true" || strings.HasSuffix(s.name, ".fifo")
	return nil
}

func cmpInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Run starts MaximumConcurrency pollers, each receiving a batch, invoking
// the function and deleting what succeeded, until ctx ends.
func (s *sqsSource) Run(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		err := s.resolve(ctx)
		if err == nil {
			break
		}
		s.rep.logf("%v; retrying in %s", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	var wg sync.WaitGroup
	for range s.cfg.MaximumConcurrency {
		wg.Go(func() { s.poll(ctx) })
	}
	wg.Go(func() { s.watchDepth(ctx) })
	wg.Wait()
	return nil
}

// watchDepth samples the queue's depth for the lag gauge.
func (s *sqsSource) watchDepth(ctx context.Context) {
	if s.env.Metrics == nil {
		return
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		out, err := s.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &s.url,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err == nil {
			n, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
			s.rep.setLag(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sqsSource) poll(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := s.gather(ctx)
		if len(msgs) > 0 {
			s.handle(context.WithoutCancel(ctx), msgs)
		}
		if err != nil && ctx.Err() == nil {
			s.rep.logf("receive: %v; retrying in %s", err, backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
	}
}

// gather receives up to BatchSize messages: one long poll, then more
// receives until the batch is full or the batching window has passed.
func (s *sqsSource) gather(ctx context.Context) ([]types.Message, error) {
	var msgs []types.Message
	var deadline time.Time
	size := 0
	for len(msgs) < s.cfg.BatchSize && size < maxPayload-10*(256<<10+recordOverhead) {
		wait := int32(20)
		if len(msgs) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = int32(min(left/time.Second, 20))
		}
		out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &s.url,
			MaxNumberOfMessages:         int32(min(10, s.cfg.BatchSize-len(msgs))),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			return msgs, err
		}
		if len(msgs) == 0 && len(out.Messages) > 0 {
			deadline = time.Now().Add(time.Duration(s.cfg.MaximumBatchingWindow))
		}
		msgs = append(msgs, out.Messages...)
		for _, m := range out.Messages {
			size += len(aws.ToString(m.Body)) + recordOverhead
		}
		if s.cfg.MaximumBatchingWindow == 0 && len(msgs) > 0 {
			break
		}
	}
	return msgs, nil
}

func (s *sqsSource) handle(ctx context.Context, msgs []types.Message) {
	start := time.Now()
	o := outcome{received: len(msgs)}
	var ev events.SQSEvent
	var done []types.Message // to delete
	var pass []types.Message
	for _, m := range msgs {
		rec := s.record(m)
		if sent, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64); err == nil {
			if t := time.UnixMilli(sent); o.oldest.IsZero() || t.Before(o.oldest) {
				o.oldest = t
			}
		}
		if !s.filters.match(filterRecord(rec, "body", []byte(rec.Body))) {
			o.filtered++
			done = append(done, m)
			continue
		}
		ev.Records = append(ev.Records, rec)
		pass = append(pass, m)
	}
	if len(pass) > 0 {
		stopExtending := s.extendVisibility(pass)
		payload, _ := json.Marshal(ev)
		resp, fnErr, err := s.env.Invoker.Invoke(ctx, payload)
		stopExtending()
		failed := map[string]bool{}
		if o.err = invokeError(resp, fnErr, err); o.err == "" && s.cfg.reportBatchItemFailures() {
			failed, o.err = batchItemFailures(resp, pass)
		}
		if o.err != "" {
			for _, m := range pass {
				failed[aws.ToString(m.MessageId)] = true
			}
		}
		if s.fifo {
			failed = fifoFailures(pass, failed)
		}
		for _, m := range pass {
			if failed[aws.ToString(m.MessageId)] {
				o.failed++
			} else {
				o.succeeded++
				done = append(done, m)
			}
		}
	}
	if err := s.delete(ctx, done); err != nil {
		s.rep.logf("delete: %v (the messages will be received again)", err)
	}
	o.duration = time.Since(start)
	s.rep.report(o)
}

// batchItemFailures reads a partial batch response. An empty or non-JSON
// response means every message succeeded; an item identifier that is
// empty or not in the batch fails the whole batch, as on Lambda.
func batchItemFailures(resp []byte, batch []types.Message) (map[string]bool, string) {
	failed := map[string]bool{}
	var r events.SQSEventResponse
	if len(resp) == 0 || json.Unmarshal(resp, &r) != nil {
		return failed, ""
	}
	in := map[string]bool{}
	for _, m := range batch {
		in[aws.ToString(m.MessageId)] = true
	}
	for _, f := range r.BatchItemFailures {
		if !in[f.ItemIdentifier] {
			return failed, fmt.Sprintf("batchItemFailures: itemIdentifier %q is not a message of the batch; the whole batch failed", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, ""
}

// fifoFailures keeps FIFO order: once a message of a group failed, the
// group's later messages in the batch stay in the queue too, so they are
// received again after it, in order.
func fifoFailures(batch []types.Message, failed map[string]bool) map[string]bool {
	stopped := map[string]bool{}
	out := map[string]bool{}
	for _, m := range batch {
		id, group := aws.ToString(m.MessageId), m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		if failed[id] || stopped[group] {
			stopped[group] = true
			out[id] = true
		}
	}
	return out
}

// extendVisibility keeps the batch invisible while the function runs, by
// resetting the visibility timeout every half of it; the returned func
// stops it.
func (s *sqsSource) extendVisibility(batch []types.Message) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Duration(s.visibility) * time.Second / 2)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for chunk := range chunks(batch, 10) {
				entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
				for i, m := range chunk {
					entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: s.visibility}
				}
				if _, err := s.client.ChangeMessageVisibilityBatch(context.Background(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &s.url, Entries: entries}); err != nil {
					s.rep.logf("extending visibility: %v", err)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

func (s *sqsSource) delete(ctx context.Context, msgs []types.Message) error {
	var errs []error
	for chunk := range chunks(msgs, 10) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := s.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &s.url, Entries: entries})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// record is the message as Lambda presents it in an SQS event.
func (s *sqsSource) record(m types.Message) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSourceARN:         s.arn,
		EventSource:            "aws:sqs",
		AWSRegion:              s.region,
	}
	if rec.Attributes == nil {
		rec.Attributes = map[string]string{}
	}
	for k, v := range m.MessageAttributes {
		a := events.SQSMessageAttribute{
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: v.StringListValues,
			BinaryListValues: v.BinaryListValues,
			DataType:         aws.ToString(v.DataType),
		}
		if a.StringListValues == nil {
			a.StringListValues = []string{}
		}
		if a.BinaryListValues == nil {
			a.BinaryListValues = [][]byte{}
		}
		rec.MessageAttributes[k] = a
	}
	return rec
}
