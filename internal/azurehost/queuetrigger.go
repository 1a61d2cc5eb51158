package azurehost

// Queue triggers: consuming a function's queue, retries and the poison
// queue.

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
)

// consume runs f for each message of its queue, up to BatchSize at once;
// a message that fails MaxDequeueCount times moves to <queue>-poison.
func (h *Host) consume(f *azure.FunctionDef) {
	name := f.Trigger.QueueName
	slots := make(chan struct{}, h.app.BatchSize)
	var running sync.WaitGroup
	defer running.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-h.stop:
			return
		}
		msg, next, changed := h.queue.get(name, lease)
		if msg == nil {
			<-slots
			var timer <-chan time.Time
			release := func() {}
			if !next.IsZero() {
				timer, release = h.clock.Timer(next)
			}
			select {
			case <-changed:
			case <-timer:
			case <-h.stop:
				release()
				return
			}
			release()
			continue
		}
		running.Add(1)
		go func() {
			defer func() { <-slots; running.Done() }()
			h.process(f, msg)
		}()
	}
}

func (h *Host) process(f *azure.FunctionDef, msg *events.AzureQueueMessage) {
	name := f.Trigger.QueueName
	inv := events.NewAzureQueueInvocation(f.Name, f.Trigger.Name, msg, h.clock.Now())
	doc, err := json.Marshal(inv)
	if err != nil {
		h.logf("queue %s: message %s: %v", name, msg.ID, err)
		return
	}
	rec := h.send(h.stopCtx, f, TriggerQueue, doc)
	err = rec.Err // rec belongs to observers now
	if err == nil {
		err = h.deliver(f, rec)
	}
	switch {
	case err == nil:
		if err := h.queue.delete(name, msg); err != nil {
			h.logf("queue %s: message %s: delete: %v", name, msg.ID, err)
		}
	case rec.Response == nil && (errors.Is(err, adapter.ErrTooManyRequests) || errors.Is(err, adapter.ErrClosed)):
		// Never ran (shutting down): back on the queue, not counted.
		h.queue.release(name, msg, 0, true)
	case msg.DequeueCount >= h.app.MaxDequeueCount:
		poison := name + "-poison"
		h.logf("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.", h.app.MaxDequeueCount, poison)
		if _, err := h.queue.Put(poison, msg.Text, 0, -1); err != nil {
			h.logf("queue %s: message %s: moving to %s: %v; it stays on %s", name, msg.ID, poison, err, name)
			h.queue.release(name, msg, h.app.VisibilityTimeout, false)
			return
		}
		h.queue.delete(name, msg)
	default:
		h.queue.release(name, msg, h.app.VisibilityTimeout, false)
	}
}
