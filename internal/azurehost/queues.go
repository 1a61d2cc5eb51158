package azurehost

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/atomicfile"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Queues is an in-process stand-in for Azure Storage queues: named queues
// of messages with Storage's properties (id, pop receipt, dequeue count,
// insertion, expiration and next-visible times). A message is written to
// its own file when it is put and whenever it changes, and removed when it
// is deleted, so no message is lost across a restart or a crash, including
// messages on queues nothing consumes (poison queues, a queue another app
// reads).
//
// This is not gateway.Queue: that queue holds Lambda Event invocations only
// while they are processed and spools them at Close; a Storage queue holds
// messages for their time to live whether or not a function consumes them,
// and makes them visible again after a failure. They share the atomic file
// writes (internal/atomicfile).
type Queues struct {
	dir   string
	clock Clock

	mu     sync.Mutex
	queues map[string]*queue

	// MovedAside describes the files OpenQueues moved to a bad/
	// directory, one line each, for the host's log.
	MovedAside []string
}

type queue struct {
	name    string
	msgs    []*message // in insertion order
	changed chan struct{}
}

type message struct {
	events.AzureQueueMessage
	Seq    int64 // insertion order among messages of the same time
	Leased bool  // being processed: made visible at once after a restart
}

// MaxMessageSize is Azure Storage's limit on a message's text (64 KiB).
const MaxMessageSize = 64 << 10

// DefaultMessageTTL is Azure Storage's default time to live (7 days).
const DefaultMessageTTL = 7 * 24 * time.Hour

// MaxVisibilityTimeout is the longest a message may stay invisible, as in
// Storage (7 days).
const MaxVisibilityTimeout = 7 * 24 * time.Hour

// MaxQueueMessages bounds the messages one queue holds, so that a client
// cannot fill the state volume: Put beyond it is ErrQueueFull.
const MaxQueueMessages = 100_000

// ErrQueueFull is Put's error when a queue holds MaxQueueMessages.
var ErrQueueFull = fmt.Errorf("the queue holds %d messages, the most ferry keeps", MaxQueueMessages)

var errNoMessage = errors.New("no such message, or its pop receipt is stale")

// OpenQueues opens the queues kept in dir ("" keeps them in memory only),
// loading the messages a previous process left; messages it was processing
// are visible again at once. A file that is not a valid message (empty,
// truncated, wrong types, out-of-range fields) moves to the queue's bad/
// sub-directory and is listed in MovedAside: it never stops the start.
func OpenQueues(dir string, clock Clock) (*Queues, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	qs := &Queues{dir: dir, clock: clock, queues: map[string]*queue{}}
	if dir == "" {
		return qs, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("azure queues: %w", err)
	}
	dirs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("azure queues: %w", err)
	}
	now := clock.Now()
	for _, d := range dirs {
		if !d.IsDir() || !azure.QueueNamePattern.MatchString(d.Name()) {
			continue
		}
		q := qs.queue(d.Name())
		qdir := filepath.Join(dir, d.Name())
		files, err := os.ReadDir(qdir)
		if err != nil {
			return nil, fmt.Errorf("azure queues: %w", err)
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") || !strings.HasSuffix(f.Name(), ".json") || !f.Type().IsRegular() {
				continue
			}
			m, err := readMessage(filepath.Join(qdir, f.Name()))
			if err != nil {
				qs.moveAside(qdir, f.Name(), err)
				continue
			}
			if m.Leased {
				m.Leased = false
				m.NextVisibleTime = now
			}
			q.msgs = append(q.msgs, m)
		}
		sort.Slice(q.msgs, func(i, j int) bool {
			a, b := q.msgs[i], q.msgs[j]
			if !a.InsertionTime.Equal(b.InsertionTime) {
				return a.InsertionTime.Before(b.InsertionTime)
			}
			return a.Seq < b.Seq
		})
	}
	return qs, nil
}

// readMessage reads and validates one message file.
func readMessage(path string) (*message, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, 4*MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 4*MaxMessageSize {
		return nil, errors.New("file too large for a message")
	}
	m := &message{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	switch {
	case m.ID == "":
		return nil, errors.New("no message id")
	case len(m.Text) > MaxMessageSize:
		return nil, fmt.Errorf("text of %d bytes", len(m.Text))
	case m.DequeueCount < 0:
		return nil, fmt.Errorf("dequeue count %d", m.DequeueCount)
	case m.InsertionTime.IsZero() || m.ExpirationTime.IsZero():
		return nil, errors.New("no insertion or expiration time")
	}
	return m, nil
}

// moveAside moves a file that is not a valid message to qdir/bad.
func (qs *Queues) moveAside(qdir, name string, why error) {
	bad := filepath.Join(qdir, "bad")
	err := os.MkdirAll(bad, 0o700)
	if err == nil {
		err = os.Rename(filepath.Join(qdir, name), filepath.Join(bad, name))
	}
	note := fmt.Sprintf("%s is not a valid message (%v); moved to %s", filepath.Join(qdir, name), why, bad)
	if err != nil {
		note = fmt.Sprintf("%s is not a valid message (%v) and could not be moved aside (%v); ignored", filepath.Join(qdir, name), why, err)
	}
	qs.MovedAside = append(qs.MovedAside, note)
}

// queue returns the named queue, creating it; qs.mu is held or qs is not
// shared yet.
func (qs *Queues) queue(name string) *queue {
	q := qs.queues[name]
	if q == nil {
		q = &queue{name: name, changed: make(chan struct{})}
		qs.queues[name] = q
	}
	return q
}

// notify wakes the consumers of q; qs.mu is held.
func (q *queue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}

var seq atomic.Int64

// Put adds a message with text to the named queue, as Storage's Put
// Message: visible after delay, kept for ttl (0 means 7 days, a negative
// ttl forever).
func (qs *Queues) Put(name, text string, delay, ttl time.Duration) (events.AzureQueueMessage, error) {
	if !azure.QueueNamePattern.MatchString(name) {
		return events.AzureQueueMessage{}, fmt.Errorf("queue name %q: want 3 to 63 lowercase letters, digits and single hyphens", name)
	}
	if len(text) > MaxMessageSize {
		return events.AzureQueueMessage{}, fmt.Errorf("message of %d bytes: the limit is %d", len(text), MaxMessageSize)
	}
	if ttl == 0 {
		ttl = DefaultMessageTTL
	}
	now := qs.clock.Now().UTC().Truncate(time.Second)
	m := &message{AzureQueueMessage: events.AzureQueueMessage{
		ID: lambdaspec.NewGUID(), PopReceipt: popReceipt(), Text: text,
		InsertionTime: now, NextVisibleTime: now.Add(delay),
	}}
	if ttl > 0 {
		m.ExpirationTime = now.Add(ttl)
	} else {
		m.ExpirationTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if q := qs.queues[name]; q != nil && len(q.msgs) >= MaxQueueMessages {
		return events.AzureQueueMessage{}, ErrQueueFull
	}
	m.Seq = seq.Add(1)
	if err := qs.save(name, m); err != nil {
		return events.AzureQueueMessage{}, err
	}
	q := qs.queue(name)
	q.msgs = append(q.msgs, m)
	q.notify()
	return m.AzureQueueMessage, nil
}

// Peek returns the messages of the named queue, visible or not, in order.
func (qs *Queues) Peek(name string) []events.AzureQueueMessage {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.queues[name]
	if q == nil {
		return nil
	}
	out := make([]events.AzureQueueMessage, len(q.msgs))
	for i, m := range q.msgs {
		out[i] = m.AzureQueueMessage
	}
	return out
}

// Names returns the queues that hold messages or were used.
func (qs *Queues) Names() []string {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	names := make([]string, 0, len(qs.queues))
	for n := range qs.queues {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// get takes the first visible message of the named queue for processing,
// as Storage's Get Messages: its dequeue count goes up, it gets a new pop
// receipt and stays invisible for lease. It returns nil and the next time
// a message becomes visible (zero if none) when none is visible now, and a
// channel that is closed when the queue changes.
func (qs *Queues) get(name string, lease time.Duration) (*events.AzureQueueMessage, time.Time, <-chan struct{}) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.queue(name)
	now := qs.clock.Now()
	var next time.Time
	for i := 0; i < len(q.msgs); i++ {
		m := q.msgs[i]
		if !m.ExpirationTime.After(now) {
			qs.remove(q, m)
			i--
			continue
		}
		if m.NextVisibleTime.After(now) {
			if next.IsZero() || m.NextVisibleTime.Before(next) {
				next = m.NextVisibleTime
			}
			continue
		}
		m.DequeueCount++
		m.PopReceipt = popReceipt()
		m.NextVisibleTime = now.UTC().Add(lease).Truncate(time.Second)
		m.Leased = true
		if err := qs.save(name, m); err != nil {
			// Not durable: leave it for a later try rather than run it.
			m.DequeueCount--
			m.Leased = false
			continue
		}
		cp := m.AzureQueueMessage
		return &cp, time.Time{}, q.changed
	}
	return nil, next, q.changed
}

// release makes a message taken by get visible again after delay, as
// Storage's Update Message after a failure. undo takes back its dequeue
// (the attempt never ran).
func (qs *Queues) release(name string, msg *events.AzureQueueMessage, delay time.Duration, undo bool) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.queue(name)
	m := q.find(msg)
	if m == nil {
		return errNoMessage
	}
	if undo {
		m.DequeueCount--
	}
	m.NextVisibleTime = qs.clock.Now().UTC().Add(delay)
	m.Leased = false
	m.PopReceipt = popReceipt()
	err := qs.save(name, m)
	q.notify()
	return err
}

// delete removes a message taken by get, as Storage's Delete Message.
func (qs *Queues) delete(name string, msg *events.AzureQueueMessage) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.queue(name)
	m := q.find(msg)
	if m == nil {
		return errNoMessage
	}
	return qs.remove(q, m)
}

func (q *queue) find(msg *events.AzureQueueMessage) *message {
	for _, m := range q.msgs {
		if m.ID == msg.ID && m.PopReceipt == msg.PopReceipt {
			return m
		}
	}
	return nil
}

// remove deletes m from q and from disk; qs.mu is held.
func (qs *Queues) remove(q *queue, m *message) error {
	for i, x := range q.msgs {
		if x == m {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			break
		}
	}
	if qs.dir == "" {
		return nil
	}
	dir := filepath.Join(qs.dir, q.name)
	err := os.Remove(filepath.Join(dir, m.ID+".json"))
	if err == nil {
		err = atomicfile.SyncDir(dir)
	}
	return err
}

// save writes m to disk; qs.mu is held.
func (qs *Queues) save(name string, m *message) error {
	if qs.dir == "" {
		return nil
	}
	dir := filepath.Join(qs.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dir, m.ID+".json", b); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// popReceipt returns an opaque receipt shaped like Storage's.
func popReceipt() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(bytes.Clone(b[:]))
}
