package queuetest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka starts kfake, franz-go's in-process broker: it speaks the
// Kafka wire protocol (produce, fetch, consumer groups, offset commits,
// SASL) on loopback, so the source's client runs unchanged. It does not
// replicate, throttle or persist unless asked; broker failover and
// tiered storage are out of its reach.
func Kafka(t testing.TB, opts ...kfake.Opt) []string {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}
