package eventsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Kafka configures Kafka topics as an event source, as Lambda's MSK and
// self-managed Apache Kafka mappings do.
type Kafka struct {
	// BootstrapServers are host:port addresses of brokers.
	BootstrapServers []string `json:"bootstrapServers" yaml:"bootstrapServers"`
	// Topics to consume.
	Topics []string `json:"topics" yaml:"topics"`
	// ConsumerGroupID is the consumer group (default: the function's name).
	// Replicas of a function share it, and so share the partitions.
	ConsumerGroupID string `json:"consumerGroupId,omitempty" yaml:"consumerGroupId,omitempty"`
	// StartingPosition is where a group with no committed offset starts:
	// TRIM_HORIZON (the oldest record, default) or LATEST.
	StartingPosition string `json:"startingPosition,omitempty" yaml:"startingPosition,omitempty"`
	// BatchSize is the most records per invocation (1–10,000; default 100).
	BatchSize int `json:"batchSize,omitempty" yaml:"batchSize,omitempty"`
	// MaximumBatchingWindow is how long to gather a batch (default 500ms).
	MaximumBatchingWindow Window `json:"maximumBatchingWindow,omitempty" yaml:"maximumBatchingWindow,omitempty"`
	// MaximumRetryAttempts is how often a failed batch is retried before it
	// goes to OnFailure and its offsets are committed; -1 (the default, as
	// on Lambda) retries until the records expire, stalling the partitions.
	MaximumRetryAttempts *int `json:"maximumRetryAttempts,omitempty" yaml:"maximumRetryAttempts,omitempty"`
	// OnFailure receives the records of a batch that exhausted its retries.
	OnFailure *KafkaDestination `json:"onFailure,omitempty" yaml:"onFailure,omitempty"`
	// SASL authenticates to the brokers.
	SASL *KafkaSASL `json:"sasl,omitempty" yaml:"sasl,omitempty"`
	// TLS encrypts the connections.
	TLS *KafkaTLS `json:"tls,omitempty" yaml:"tls,omitempty"`
	// FilterCriteria drops records before they reach the function (their
	// offsets are committed, as Lambda does). Patterns see the record's
	// fields, with "value" parsed when it is JSON.
	FilterCriteria FilterCriteria `json:"filterCriteria,omitzero" yaml:"filterCriteria,omitempty"`
	// EventSourceARN, when set, makes events Amazon MSK's shape
	// (eventSource "aws:kafka" with this eventSourceArn); otherwise they are
	// self-managed Kafka's ("SelfManagedKafka" with bootstrapServers).
	EventSourceARN string `json:"eventSourceArn,omitempty" yaml:"eventSourceArn,omitempty"`
}

// KafkaDestination is where records go after their last retry.
type KafkaDestination struct {
	// Topic receives each failed record (key, value and headers as they
	// were) with headers saying where it came from and why it failed.
	Topic string `json:"topic" yaml:"topic"`
}

// KafkaSASL is SASL authentication: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
type KafkaSASL struct {
	Mechanism string `json:"mechanism" yaml:"mechanism"`
	Username  string `json:"username" yaml:"username"`
	Password  string `json:"password" yaml:"password"`
}

// KafkaTLS configures TLS: a CA bundle to trust (default the system's) and
// an optional client certificate for mutual TLS.
type KafkaTLS struct {
	CAFile   string `json:"caFile,omitempty" yaml:"caFile,omitempty"`
	CertFile string `json:"certFile,omitempty" yaml:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty" yaml:"keyFile,omitempty"`
}

func (c *Kafka) withDefaults(function string) {
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.MaximumBatchingWindow == 0 {
		c.MaximumBatchingWindow = Window(500 * time.Millisecond)
	}
	if c.StartingPosition == "" {
		c.StartingPosition = "TRIM_HORIZON"
	}
	if c.ConsumerGroupID == "" {
		c.ConsumerGroupID = function
	}
	if c.MaximumRetryAttempts == nil {
		infinite := -1
		c.MaximumRetryAttempts = &infinite
	}
}

// Validate checks the configuration as Lambda's CreateEventSourceMapping
// would.
func (c Kafka) Validate() error {
	c.withDefaults("function")
	name := strings.Join(c.Topics, ",")
	switch {
	case len(c.BootstrapServers) == 0:
		return errors.New("kafka: bootstrapServers is required")
	case len(c.Topics) == 0:
		return errors.New("kafka: topics is required")
	case c.StartingPosition != "TRIM_HORIZON" && c.StartingPosition != "LATEST":
		return fmt.Errorf("kafka %s: startingPosition %q: must be TRIM_HORIZON or LATEST", name, c.StartingPosition)
	case *c.MaximumRetryAttempts < -1 || *c.MaximumRetryAttempts > 10000:
		return fmt.Errorf("kafka %s: maximumRetryAttempts %d: must be between -1 and 10000", name, *c.MaximumRetryAttempts)
	case c.OnFailure != nil && c.OnFailure.Topic == "":
		return fmt.Errorf("kafka %s: onFailure needs a topic", name)
	}
	if err := checkBatchSize(c.BatchSize, 10000); err != nil {
		return fmt.Errorf("kafka %s: %w", name, err)
	}
	if err := checkWindow(c.MaximumBatchingWindow); err != nil {
		return fmt.Errorf("kafka %s: %w", name, err)
	}
	if _, err := compileFilters(c.FilterCriteria); err != nil {
		return fmt.Errorf("kafka %s: %w", name, err)
	}
	if _, err := c.clientOpts(); err != nil {
		return fmt.Errorf("kafka %s: %w", name, err)
	}
	return nil
}

// clientOpts are the connection options: brokers, SASL, TLS.
func (c Kafka) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.BootstrapServers...)}
	if s := c.SASL; s != nil {
		var m sasl.Mechanism
		switch strings.ToUpper(s.Mechanism) {
		case "PLAIN":
			m = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
		default:
			return nil, fmt.Errorf("sasl mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
		}
		opts = append(opts, kgo.SASL(m))
	}
	if t := c.TLS; t != nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tls caFile: %v", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls caFile %s: no PEM certificates", t.CAFile)
			}
		}
		if t.CertFile != "" || t.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("tls client certificate: %v", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	return opts, nil
}

// NewKafka returns the source; it connects when run.
func NewKafka(cfg Kafka, env Env) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults(env.Function)
	fs, _ := compileFilters(cfg.FilterCriteria)
	s := &kafkaSource{cfg: cfg, env: env, filters: fs}
	s.rep = &reporter{env: env, source: s.Name()}
	return s, nil
}

type kafkaSource struct {
	// pending holds records polled beyond the last batch's payload budget:
	// they start the next batch.
	pending []*kgo.Record
	cfg     Kafka
	env     Env
	filters filters
	rep     *reporter
}

func (s *kafkaSource) Name() string { return "kafka:" + strings.Join(s.cfg.Topics, ",") }

func (s *kafkaSource) Run(ctx context.Context) error {
	opts, err := s.cfg.clientOpts()
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtStart()
	if s.cfg.StartingPosition == "LATEST" {
		start = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.ConsumerGroupID),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.ConsumeResetOffset(start),
		// Offsets are committed by hand, after the function succeeded.
		kgo.DisableAutoCommit(),
		// A rebalance waits for the batch in hand to be committed, so no
		// other consumer gets its partitions before that.
		kgo.BlockRebalanceOnPoll(),
		kgo.ClientID("ferry-"+s.env.Function),
		// A replica that crashed holds its partitions until the session
		// times out; 10 s instead of franz-go's 45 s lets another replica
		// (or the restarted one) take over its unacknowledged records soon.
		kgo.SessionTimeout(10*time.Second),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		recs := s.gather(ctx, cl)
		if len(recs) > 0 {
			// The batch finishes and is committed even when ctx ends now.
			s.handle(context.WithoutCancel(ctx), ctx.Done(), cl, recs)
		}
		cl.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// gather polls until BatchSize records or the batching window after the
// first record.
func (s *kafkaSource) gather(ctx context.Context, cl *kgo.Client) []*kgo.Record {
	recs := s.pending
	s.pending = nil
	var lag int64
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(recs) > 0 { // carried over: the window has started
		window := time.AfterFunc(time.Duration(s.cfg.MaximumBatchingWindow), cancel)
		defer window.Stop()
	}
	for len(recs) < s.cfg.BatchSize {
		fetches := cl.PollRecords(pollCtx, s.cfg.BatchSize-len(recs))
		if pollCtx.Err() != nil && fetches.NumRecords() == 0 {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				s.rep.logf("fetch %s[%d]: %v", topic, p, err)
			}
		})
		if fetches.IsClientClosed() {
			break
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				lag += p.HighWatermark - (p.Records[n-1].Offset + 1)
			}
		})
		if len(recs) == 0 && fetches.NumRecords() > 0 {
			// The window starts with the first record.
			window := time.AfterFunc(time.Duration(s.cfg.MaximumBatchingWindow), cancel)
			defer window.Stop()
		}
		recs = append(recs, fetches.Records()...)
		if cut := payloadCut(recs); cut < len(recs) {
			recs, s.pending = recs[:cut], recs[cut:]
			break
		}
	}
	if len(recs) > 0 {
		s.rep.setLag(float64(lag))
	}
	return recs
}

func (s *kafkaSource) handle(ctx context.Context, stop <-chan struct{}, cl *kgo.Client, recs []*kgo.Record) {
	start := time.Now()
	o := outcome{received: len(recs)}
	ev := events.KafkaEvent{Records: map[string][]events.KafkaRecord{}}
	if s.cfg.EventSourceARN != "" {
		ev.EventSource, ev.EventSourceARN = "aws:kafka", s.cfg.EventSourceARN
	} else {
		ev.EventSource = "SelfManagedKafka"
	}
	ev.BootstrapServers = strings.Join(s.cfg.BootstrapServers, ",")
	var pass []*kgo.Record
	for _, r := range recs {
		if o.oldest.IsZero() || r.Timestamp.Before(o.oldest) {
			o.oldest = r.Timestamp
		}
		kr := kafkaRecord(r)
		if !s.filters.match(filterRecord(kr, "value", r.Value)) {
			o.filtered++
			continue
		}
		key := r.Topic + "-" + strconv.Itoa(int(r.Partition))
		ev.Records[key] = append(ev.Records[key], kr)
		pass = append(pass, r)
	}
	if len(pass) > 0 {
		payload, err := json.Marshal(ev)
		if err != nil {
			o.err = err.Error()
		}
		retries := *s.cfg.MaximumRetryAttempts
		for attempt := 0; o.err == ""; attempt++ {
			resp, fnErr, err := s.env.Invoker.Invoke(ctx, payload)
			if o.err = invokeError(resp, fnErr, err); o.err == "" {
				break
			}
			if retries >= 0 && attempt >= retries {
				break
			}
			s.rep.logf("batch of %d records failed (attempt %d): %s; retrying", len(pass), attempt+1, o.err)
			select {
			case <-stop:
				// Shutting down between retries: leave the batch uncommitted;
				// it is read again after the restart.
				o.failed, o.duration = len(pass), time.Since(start)
				s.rep.report(o)
				return
			case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second)):
			}
			o.err = ""
		}
		if o.err == "" {
			o.succeeded = len(pass)
		} else {
			o.failed = len(pass)
			if s.cfg.OnFailure != nil && !s.deliverFailure(ctx, stop, cl, pass, o.err) {
				// Shutting down before the destination took the records:
				// not committed, so they are read again after the restart.
				o.err += "; onFailure: not delivered before shutdown"
				o.duration = time.Since(start)
				s.rep.report(o)
				return
			}
		}
	}
	if err := cl.CommitRecords(ctx, recs...); err != nil {
		s.rep.logf("commit: %v", err)
	}
	o.duration = time.Since(start)
	s.rep.report(o)
}

// deliverFailure sends the records to the onFailure topic, retrying until
// it succeeds: committing past them before would lose them. It gives up
// (false) only when the source is stopping.
func (s *kafkaSource) deliverFailure(ctx context.Context, stop <-chan struct{}, cl *kgo.Client, recs []*kgo.Record, why string) bool {
	backoff := 200 * time.Millisecond
	for {
		err := s.sendToDestination(ctx, cl, recs, why)
		if err == nil {
			return true
		}
		s.rep.logf("onFailure topic %s: %v; retrying in %s", s.cfg.OnFailure.Topic, err, backoff)
		select {
		case <-stop:
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// payloadCut is how many of recs fit one event within Lambda's payload
// limit (at least one).
func payloadCut(recs []*kgo.Record) int {
	size := 0
	for i, r := range recs {
		size += (len(r.Key)+len(r.Value))*4/3 + recordOverhead
		for _, h := range r.Headers {
			size += len(h.Key) + 5*len(h.Value) // values as arrays of numbers
		}
		if size > maxPayload && i > 0 {
			return i
		}
	}
	return len(recs)
}

// sendToDestination produces the failed records to the onFailure topic.
func (s *kafkaSource) sendToDestination(ctx context.Context, cl *kgo.Client, recs []*kgo.Record, why string) error {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		headers := append([]kgo.RecordHeader(nil), r.Headers...)
		headers = append(headers,
			kgo.RecordHeader{Key: "ferry-source-topic", Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: "ferry-source-partition", Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: "ferry-source-offset", Value: []byte(strconv.FormatInt(r.Offset, 10))},
			kgo.RecordHeader{Key: "ferry-function", Value: []byte(s.env.Function)},
			kgo.RecordHeader{Key: "ferry-error", Value: []byte(truncate(why, 1000))},
		)
		out[i] = &kgo.Record{Topic: s.cfg.OnFailure.Topic, Key: r.Key, Value: r.Value, Headers: headers}
	}
	return cl.ProduceSync(ctx, out...).FirstErr()
}

// kafkaRecord is the record as Lambda presents it: key and value base64,
// header values as arrays of signed bytes.
func kafkaRecord(r *kgo.Record) events.KafkaRecord {
	kr := events.KafkaRecord{
		Topic:         r.Topic,
		Partition:     int64(r.Partition),
		Offset:        r.Offset,
		Timestamp:     events.MilliSecondsEpochTime{Time: r.Timestamp},
		TimestampType: "CREATE_TIME",
		Headers:       []map[string]events.JSONNumberBytes{},
	}
	if r.Attrs.TimestampType() == 1 {
		kr.TimestampType = "LOG_APPEND_TIME"
	}
	if r.Key != nil {
		kr.Key = base64.StdEncoding.EncodeToString(r.Key)
	}
	if r.Value != nil {
		kr.Value = base64.StdEncoding.EncodeToString(r.Value)
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, map[string]events.JSONNumberBytes{h.Key: h.Value})
	}
	return kr
}
