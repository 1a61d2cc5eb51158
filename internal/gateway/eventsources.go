package gateway

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/config"
)

// functionInvoker runs a function for an event source.
type functionInvoker struct{ f *adapter.Function }

func (i functionInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, bool, error) {
	res, err := i.f.Invoke(ctx, &adapter.Request{Payload: payload, Trigger: adapter.TriggerQueue})
	if err != nil {
		return nil, false, err
	}
	return res.Payload, res.Failed(), nil
}

// eventSources are the config's event sources, started by Start.
type eventSources struct {
	srcs   []eventsource.Source
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newEventSources makes every function's event sources. ${NAME}
// references are read from the environment now; an unset one is an error
// naming the file and line.
func newEventSources(cfg *config.File, fns map[string]*adapter.Function, reg prometheus.Registerer, logs io.Writer) (*eventSources, error) {
	var metrics *eventsource.Metrics
	e := &eventSources{cancel: func() {}}
	for _, fc := range cfg.Functions {
		f := fns[fc.Name]
		for _, es := range fc.EventSources {
			where := fmt.Sprintf("%s:%d: function %s: eventSources: %s", cfg.Path, es.Line, fc.Name, es.Kind())
			x, err := es.Expanded()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if metrics == nil && reg != nil {
				metrics = eventsource.NewMetrics(reg)
			}
			env := eventsource.Env{Function: fc.Name, Invoker: functionInvoker{f}, Metrics: metrics, Log: logs, Region: cfg.Region, AccountID: cfg.AccountID}
			var src eventsource.Source
			switch {
			case x.SQS != nil:
				src, err = eventsource.NewSQS(*x.SQS, env)
			case x.Kafka != nil:
				src, err = eventsource.NewKafka(*x.Kafka, env)
			default:
				src, err = eventsource.NewRabbitMQ(*x.RabbitMQ, env)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			e.srcs = append(e.srcs, src)
		}
	}
	return e, nil
}

// start sets every source polling.
func (e *eventSources) start(logs io.Writer) {
	if e == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for _, src := range e.srcs {
		e.wg.Go(func() {
			if err := src.Run(ctx); err != nil {
				fmt.Fprintf(logs, "eventsource %s stopped: %v\n", src.Name(), err)
			}
		})
	}
}

// stop stops polling and waits, at most until ctx ends, for the batches
// being invoked to finish and be acknowledged. A batch still running then
// is not acknowledged: its messages come back after the restart.
func (e *eventSources) stop(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("event sources: batches still running at the drain deadline; their messages will be delivered again")
	}
}
