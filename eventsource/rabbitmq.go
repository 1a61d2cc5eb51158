package eventsource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitMQ configures a RabbitMQ queue as an event source, in the shape of
// Lambda's Amazon MQ for RabbitMQ mapping.
type RabbitMQ struct {
	// URL is the broker's AMQP URL, amqp://user:password@host:5672/vhost
	// (amqps:// for TLS). Its password is never logged.
	URL string `json:"url" yaml:"url"`
	// Queue is the queue to consume.
	Queue string `json:"queue" yaml:"queue"`
	// VirtualHost overrides the URL's virtual host; default "/".
	VirtualHost string `json:"virtualHost,omitempty" yaml:"virtualHost,omitempty"`
	// BatchSize is the most messages per invocation (1–10,000; default 100).
	BatchSize int `json:"batchSize,omitempty" yaml:"batchSize,omitempty"`
	// MaximumBatchingWindow is how long to gather a batch (default 500ms).
	MaximumBatchingWindow Window `json:"maximumBatchingWindow,omitempty" yaml:"maximumBatchingWindow,omitempty"`
	// FilterCriteria drops messages before they reach the function (and
	// acknowledges them, as Lambda does). Patterns see the message data
	// under "data" (parsed when it is JSON) and its basicProperties.
	FilterCriteria FilterCriteria `json:"filterCriteria,omitzero" yaml:"filterCriteria,omitempty"`
	// EventSourceARN is the eventSourceArn of events; default an Amazon MQ
	// broker ARN named after the host.
	EventSourceARN string `json:"eventSourceArn,omitempty" yaml:"eventSourceArn,omitempty"`
}

func (c *RabbitMQ) withDefaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.MaximumBatchingWindow == 0 {
		c.MaximumBatchingWindow = Window(500 * time.Millisecond)
	}
}

// amqpURL is the URL with the virtual host applied.
func (c *RabbitMQ) amqpURL() (string, string, error) {
	u, err := amqp.ParseURI(c.URL)
	if err != nil {
		return "", "", fmt.Errorf("rabbitmq url %s: %v", redact(c.URL), err)
	}
	if c.VirtualHost != "" {
		u.Vhost = c.VirtualHost
	}
	return u.String(), u.Vhost, nil
}

// Validate checks the configuration as Lambda's CreateEventSourceMapping
// would.
func (c RabbitMQ) Validate() error {
	c.withDefaults()
	if c.URL == "" || c.Queue == "" {
		return errors.New("rabbitmq: url and queue are required")
	}
	if _, _, err := c.amqpURL(); err != nil {
		return err
	}
	if err := checkBatchSize(c.BatchSize, 10000); err != nil {
		return fmt.Errorf("rabbitmq %s: %w", c.Queue, err)
	}
	if err := checkWindow(c.MaximumBatchingWindow); err != nil {
		return fmt.Errorf("rabbitmq %s: %w", c.Queue, err)
	}
	if _, err := compileFilters(c.FilterCriteria); err != nil {
		return fmt.Errorf("rabbitmq %s: %w", c.Queue, err)
	}
	return nil
}

// NewRabbitMQ returns the source; it connects when run.
func NewRabbitMQ(cfg RabbitMQ, env Env) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	fs, _ := compileFilters(cfg.FilterCriteria)
	s := &rabbitSource{cfg: cfg, env: env, filters: fs}
	s.url, s.vhost, _ = cfg.amqpURL()
	if s.vhost == "" {
		s.vhost = "/"
	}
	s.rep = &reporter{env: env, source: s.Name()}
	s.arn = cfg.EventSourceARN
	if s.arn == "" {
		u, _ := url.Parse(s.url)
		host := "broker"
		if u != nil {
			host = u.Hostname()
		}
		s.arn = fmt.Sprintf("arn:aws:mq:%s:%s:broker:%s", env.Region, env.AccountID, host)
	}
	return s, nil
}

type rabbitSource struct {
	cfg        RabbitMQ
	env        Env
	filters    filters
	url, vhost string
	arn        string
	rep        *reporter
}

func (s *rabbitSource) Name() string { return "rabbitmq:" + s.cfg.Queue }

// Run consumes until ctx ends, reconnecting with backoff when the broker
// goes away (unacknowledged messages are then redelivered by the broker).
func (s *rabbitSource) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.rep.logf("connection lost: %v; reconnecting in %s", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (s *rabbitSource) consume(ctx context.Context) error {
	conn, err := amqp.DialConfig(s.url, amqp.Config{Properties: amqp.Table{"connection_name": "ferry " + s.env.Function}})
	if err != nil {
		return errors.New(redact(err.Error()))
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	// Prefetch one batch: the broker holds back the rest for other
	// consumers (other replicas).
	if err := ch.Qos(s.cfg.BatchSize, 0, false); err != nil {
		return err
	}
	deliveries, err := ch.ConsumeWithContext(context.WithoutCancel(ctx), s.cfg.Queue, "", false, false, false, false, nil)
	if err != nil {
		return err
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	for {
		batch, open := s.gather(ctx, deliveries)
		if len(batch) > 0 {
			// The batch runs to completion even when ctx ends meanwhile: its
			// messages are acknowledged (or requeued) before Run returns.
			if err := s.handle(context.WithoutCancel(ctx), ch, batch); err != nil {
				return err
			}
			s.updateLag(conn)
		}
		if ctx.Err() != nil {
			return nil
		}
		if !open {
			select {
			case e := <-closed:
				if e != nil {
					return e
				}
			default:
			}
			return errors.New("consumer cancelled by the broker")
		}
	}
}

// gather reads up to BatchSize deliveries, waiting at most the batching
// window after the first. open is false when the delivery channel closed.
func (s *rabbitSource) gather(ctx context.Context, deliveries <-chan amqp.Delivery) (batch []amqp.Delivery, open bool) {
	var deadline <-chan time.Time
	size := 0
	for len(batch) < s.cfg.BatchSize {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return batch, false
			}
			batch = append(batch, d)
			// base64 makes the data a third larger in the event.
			if size += len(d.Body)*4/3 + recordOverhead; size >= maxPayload*3/4 {
				return batch, true
			}
			if deadline == nil {
				deadline = time.After(time.Duration(s.cfg.MaximumBatchingWindow))
			}
		case <-deadline:
			return batch, true
		case <-ctx.Done():
			return batch, true
		}
	}
	return batch, true
}

func (s *rabbitSource) handle(ctx context.Context, ch *amqp.Channel, batch []amqp.Delivery) error {
	start := time.Now()
	o := outcome{received: len(batch)}
	key := s.cfg.Queue + "::" + s.vhost
	ev := events.RabbitMQEvent{EventSource: "aws:rmq", EventSourceARN: s.arn, MessagesByQueue: map[string][]events.RabbitMQMessage{key: nil}}
	var pass []amqp.Delivery
	for _, d := range batch {
		if !d.Timestamp.IsZero() && (o.oldest.IsZero() || d.Timestamp.Before(o.oldest)) {
			o.oldest = d.Timestamp
		}
		msg := rabbitMessage(d)
		if !s.filters.match(filterRecord(msg, "data", d.Body)) {
			o.filtered++
			if err := d.Ack(false); err != nil {
				return err
			}
			continue
		}
		pass = append(pass, d)
		ev.MessagesByQueue[key] = append(ev.MessagesByQueue[key], msg)
	}
	if len(pass) > 0 {
		payload, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		resp, fnErr, err := s.env.Invoker.Invoke(ctx, payload)
		o.err = invokeError(resp, fnErr, err)
		for _, d := range pass {
			var settle error
			if o.err == "" {
				settle = d.Ack(false)
			} else {
				// Back to the queue; a queue with a delivery limit and a
				// dead-letter exchange moves it there once the limit is hit.
				settle = d.Nack(false, true)
			}
			if settle != nil {
				return settle
			}
		}
		if o.err == "" {
			o.succeeded = len(pass)
		} else {
			o.failed = len(pass)
		}
	}
	o.duration = time.Since(start)
	s.rep.report(o)
	return nil
}

// updateLag reads the queue's ready-message count for the lag gauge.
func (s *rabbitSource) updateLag(conn *amqp.Connection) {
	if s.env.Metrics == nil {
		return
	}
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	defer ch.Close()
	if q, err := ch.QueueDeclarePassive(s.cfg.Queue, false, false, false, false, nil); err == nil {
		s.rep.setLag(float64(q.Messages))
	}
}

// rabbitMessage is the delivery as Lambda presents it: data base64,
// string header values as {"bytes": [...]}, the timestamp in Amazon MQ's
// "Jan 2, 2006, 3:04:05 PM" form.
func rabbitMessage(d amqp.Delivery) events.RabbitMQMessage {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	var headers map[string]any
	if len(d.Headers) > 0 {
		headers = make(map[string]any, len(d.Headers))
		for k, v := range d.Headers {
			headers[k] = headerValue(v)
		}
	}
	ts := ""
	if !d.Timestamp.IsZero() {
		ts = d.Timestamp.UTC().Format("Jan 2, 2006, 3:04:05 PM")
	}
	return events.RabbitMQMessage{
		BasicProperties: events.RabbitMQBasicProperties{
			ContentType:     d.ContentType,
			ContentEncoding: opt(d.ContentEncoding),
			Headers:         headers,
			DeliveryMode:    d.DeliveryMode,
			Priority:        d.Priority,
			CorrelationID:   opt(d.CorrelationId),
			ReplyTo:         opt(d.ReplyTo),
			Expiration:      d.Expiration,
			MessageID:       opt(d.MessageId),
			Timestamp:       ts,
			Type:            opt(d.Type),
			UserID:          d.UserId,
			AppID:           opt(d.AppId),
			BodySize:        uint64(len(d.Body)),
		},
		Redelivered: d.Redelivered,
		Data:        base64.StdEncoding.EncodeToString(d.Body),
	}
}

func headerValue(v any) any {
	switch v := v.(type) {
	case string:
		return map[string]any{"bytes": byteNumbers([]byte(v))}
	case []byte:
		return map[string]any{"bytes": byteNumbers(v)}
	case amqp.Table:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = headerValue(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = headerValue(x)
		}
		return out
	case time.Time:
		return v.UTC().Format("Jan 2, 2006, 3:04:05 PM")
	}
	return v
}

func (r *reporter) logf(format string, args ...any) {
	if r.env.Log == nil {
		return
	}
	r.mu.Lock()
	fmt.Fprintf(r.env.Log, "eventsource function=%s source=%s %s\n", r.env.Function, r.source, strings.TrimSpace(fmt.Sprintf(format, args...)))
	r.mu.Unlock()
}

// byteNumbers lists bytes as numbers, as Amazon MQ events carry string
// header values (encoding/json would write []byte as base64).
func byteNumbers(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}
