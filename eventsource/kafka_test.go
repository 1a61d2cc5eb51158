package eventsource_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/queuetest"
)

func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(topic, value string) *kgo.Record { return &kgo.Record{Topic: topic, Value: []byte(value)} }

func kafkaBatches(t *testing.T, r *recorder) (evs []events.KafkaEvent) {
	for _, c := range r.invocations() {
		var ev events.KafkaEvent
		if err := json.Unmarshal(c.payload, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// consumeAll reads every record of topic from the start.
func consumeAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(out) < n && ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	return out
}

func kafkaSource(t *testing.T, cfg eventsource.Kafka, r *recorder) {
	t.Helper()
	src, err := eventsource.NewKafka(cfg, testEnv(t, r))
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
}

func TestEventSourceKafka(t *testing.T) {
	brokers := queuetest.Kafka(t)
	retries := func(n int) *int { return &n }

	t.Run("delivery", func(t *testing.T) {
		produce(t, brokers, &kgo.Record{Topic: "delivery", Key: []byte("k1"), Value: []byte(`{"order":1}`),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte{118, 220, 0, 127, 128}}}})
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"delivery"},
			EventSourceARN: "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc"}, r)
		eventually(t, "one invocation", func() bool { return len(r.invocations()) == 1 })
		c := r.invocations()[0]
		if c.failed {
			t.Fatalf("function failed: %s", c.response)
		}
		// Lambda's MSK shape: header values as signed byte arrays.
		if !strings.Contains(string(c.payload), `"headers":[{"trace":[118,-36,0,127,-128]}]`) {
			t.Errorf("headers in %s", c.payload)
		}
		ev := kafkaBatches(t, r)[0]
		recs := ev.Records["delivery-0"]
		if ev.EventSource != "aws:kafka" || ev.EventSourceARN != "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc" || len(recs) != 1 {
			t.Fatalf("event %+v", ev)
		}
		k, _ := base64.StdEncoding.DecodeString(recs[0].Key)
		v, _ := base64.StdEncoding.DecodeString(recs[0].Value)
		if recs[0].Topic != "delivery" || recs[0].Offset != 0 || string(k) != "k1" || string(v) != `{"order":1}` ||
			recs[0].TimestampType != "CREATE_TIME" || recs[0].Timestamp.IsZero() {
			t.Errorf("record %+v", recs[0])
		}
	})

	t.Run("batching", func(t *testing.T) {
		for i := range 25 {
			produce(t, brokers, rec("batching", fmt.Sprintf("m%02d", i)))
		}
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"batching"}, BatchSize: 10, MaximumBatchingWindow: eventsource.Window(time.Second)}, r)
		eventually(t, "25 records processed", func() bool { return len(r.processed()) == 25 })
		var sizes []int
		for _, ev := range kafkaBatches(t, r) {
			if ev.EventSource != "SelfManagedKafka" || ev.BootstrapServers != strings.Join(brokers, ",") {
				t.Errorf("self-managed event %q %q", ev.EventSource, ev.BootstrapServers)
			}
			sizes = append(sizes, len(ev.Records["batching-0"]))
		}
		if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 10 || sizes[2] != 5 {
			t.Errorf("batch sizes %v, want [10 10 5]", sizes)
		}
	})

	t.Run("partial batch failure", func(t *testing.T) {
		// Kafka has no partial batch response: the batch is retried whole,
		// so its good records are delivered again (at least once).
		produce(t, brokers, rec("partial", "good"), rec("partial", "please fail"))
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"partial"}, BatchSize: 2,
			MaximumBatchingWindow: eventsource.Window(time.Second), MaximumRetryAttempts: retries(1)}, r)
		eventually(t, "two attempts", func() bool { return len(r.invocations()) == 2 })
		for _, ev := range kafkaBatches(t, r) {
			if n := len(ev.Records["partial-0"]); n != 2 {
				t.Errorf("attempt with %d records, want the whole batch of 2", n)
			}
		}
		if n := r.processed()["good"]; n != 2 {
			t.Errorf("good record processed %d times, want 2", n)
		}
	})

	t.Run("retry then destination", func(t *testing.T) {
		createTopic(t, brokers, "retry-dlt")
		produce(t, brokers, rec("retry", "fail always"))
		r := newRecorder(t, "queue-consumer")
		cfg := eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"retry"}, BatchSize: 1,
			MaximumRetryAttempts: retries(2), OnFailure: &eventsource.KafkaDestination{Topic: "retry-dlt"}}
		kafkaSource(t, cfg, r)
		dead := consumeAll(t, brokers, "retry-dlt", 1)
		if len(dead) != 1 || string(dead[0].Value) != "fail always" {
			t.Fatalf("destination got %v", dead)
		}
		headers := map[string]string{}
		for _, h := range dead[0].Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers["ferry-source-topic"] != "retry" || headers["ferry-source-offset"] != "0" || !strings.Contains(headers["ferry-error"], "1 of 1 records failed") {
			t.Errorf("destination headers %v", headers)
		}
		if n := len(r.invocations()); n != 3 {
			t.Errorf("%d attempts, want 3 (2 retries)", n)
		}
		// The offset was committed past it: a later record is next.
		produce(t, brokers, rec("retry", "after"))
		eventually(t, "the next record", func() bool { return r.processed()["after"] == 1 })
		if n := len(r.invocations()); n != 4 {
			t.Errorf("%d invocations, want 4: the failed record must not come back", n)
		}
	})

	t.Run("filter criteria", func(t *testing.T) {
		produce(t, brokers, rec("filter", `{"kind":"order","region":"eu-west-1"}`), rec("filter", `{"kind":"order","region":"us-east-1"}`), rec("filter", "plain"), rec("filter", "last"))
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"filter"}, FilterCriteria: eventsource.FilterCriteria{Filters: []eventsource.Filter{
			{Pattern: `{"value":{"region":[{"prefix":"eu-"}]}}`},
			{Pattern: `{"value":["last"]}`},
		}}}, r)
		eventually(t, "two records processed", func() bool { return len(r.processed()) == 2 })
		got := r.processed()
		if got[`{"kind":"order","region":"eu-west-1"}`] != 1 || got["last"] != 1 {
			t.Errorf("processed %v", got)
		}
	})

	t.Run("kill mid-batch then restart", func(t *testing.T) {
		want := []string{"a", "b", "sleep then c", "d"}
		for _, s := range want {
			produce(t, brokers, rec("crash", s))
		}
		cfg := &eventsource.Kafka{BootstrapServers: brokers, Topics: []string{"crash"}, ConsumerGroupID: "crash-group", BatchSize: 4, MaximumBatchingWindow: eventsource.Window(time.Second)}
		first := startChild(t, childSpec{Kafka: cfg})
		first.waitBusy(t)
		first.kill(t) // mid-batch: no offset of it was committed
		second := startChild(t, childSpec{Kafka: cfg})
		second.waitProcessed(t, want)
		second.terminate(t)
	})

	t.Run("sasl", func(t *testing.T) {
		secure := queuetest.Kafka(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "ferry", "s3cret"))
		cl, err := kgo.NewClient(kgo.SeedBrokers(secure...), kgo.AllowAutoTopicCreation(), kgo.SASL(scramAuth("ferry", "s3cret")))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), rec("secure", "hello")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: secure, Topics: []string{"secure"},
			SASL: &eventsource.KafkaSASL{Mechanism: "SCRAM-SHA-256", Username: "ferry", Password: "s3cret"}}, r)
		eventually(t, "the record", func() bool { return r.processed()["hello"] == 1 })
		if _, err := eventsource.NewKafka(eventsource.Kafka{BootstrapServers: secure, Topics: []string{"x"}, SASL: &eventsource.KafkaSASL{Mechanism: "GSSAPI"}}, testEnv(t, r)); err == nil {
			t.Error("an unsupported SASL mechanism was accepted")
		}
	})

	t.Run("tls", func(t *testing.T) {
		serverTLS, roots, caFile := selfSignedTLS(t)
		secure := queuetest.Kafka(t, kfake.TLS(serverTLS))
		produceTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		cl, err := kgo.NewClient(kgo.SeedBrokers(secure...), kgo.AllowAutoTopicCreation(), kgo.DialTLSConfig(produceTLS))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), rec("encrypted", "over tls")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		r := newRecorder(t, "queue-consumer")
		kafkaSource(t, eventsource.Kafka{BootstrapServers: secure, Topics: []string{"encrypted"}, TLS: &eventsource.KafkaTLS{CAFile: caFile}}, r)
		eventually(t, "the record", func() bool { return r.processed()["over tls"] == 1 })
	})
}

func scramAuth(user, pass string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
}

// createTopic creates a topic, as an operator creates a destination topic
// before pointing a mapping at it.
func createTopic(t *testing.T, brokers []string, name string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
}

// selfSignedTLS makes a certificate for 127.0.0.1: the server's TLS
// configuration, a pool trusting it, and its PEM file.
func selfSignedTLS(t *testing.T) (*tls.Config, *x509.CertPool, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool, file
}
