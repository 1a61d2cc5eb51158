// Package queuetest starts the queue servers the event source tests and
// benchmarks run against: Debian's RabbitMQ as a private node, goaws (an
// SQS-compatible server) behind a protocol bridge, and kfake (franz-go's
// in-process Kafka broker). Servers started once per process are stopped
// by Stop, which a package's TestMain calls after its tests.
package queuetest

import "sync"

var (
	stopsMu sync.Mutex
	stops   []func()
)

// AtExit registers f to run at Stop.
func AtExit(f func()) {
	stopsMu.Lock()
	stops = append(stops, f)
	stopsMu.Unlock()
}

// Stop stops the servers started once per process, last first.
func Stop() {
	stopsMu.Lock()
	defer stopsMu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	stops = nil
}
