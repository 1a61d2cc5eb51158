package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// spoolWriter makes event files durable before their 202: each file is
// written (unsynced), then joins a commit batch; one leader syncs the
// spool's file system for the whole batch while later writers gather in
// the next one (group commit), so concurrent Event calls share one sync
// instead of paying one each.
type spoolWriter struct {
	dir string
	fd  *os.File // the directory, for syncFS

	mu      sync.Mutex
	cond    *sync.Cond
	next    *commitBatch // the batch gathering writers
	syncing bool
}

type commitBatch struct {
	finished bool
	err      error
}

// newSpoolWriter opens dir and checks that files can be created in it: a
// read-only or missing spool is an error at start, not a lost event later.
func newSpoolWriter(dir string) (*spoolWriter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("async: spool: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("async: spool directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	fd, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("async: spool: %w", err)
	}
	w := &spoolWriter{dir: dir, fd: fd}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

// write creates dir/name holding data and returns once it is durable.
func (w *spoolWriter) write(name string, data []byte) error {
	path := filepath.Join(w.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && !batchedSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.commit()
	}
	if err != nil {
		os.Remove(path) // never acknowledged: it must not run
	}
	return err
}

// commit returns once everything written before it is durable.
func (w *spoolWriter) commit() error {
	w.mu.Lock()
	b := w.next
	if b == nil {
		b = &commitBatch{}
		w.next = b
	}
	for !b.finished && w.syncing {
		w.cond.Wait()
	}
	if b.finished { // another writer led this batch
		err := b.err
		w.mu.Unlock()
		return err
	}
	w.next, w.syncing = nil, true
	w.mu.Unlock()

	err := syncFS(w.fd)

	w.mu.Lock()
	b.finished, b.err = true, err
	w.syncing = false
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}

// remove deletes a finished event's file. Not synced: if the removal is
// lost in a crash the event runs again (at least once), never less.
func (w *spoolWriter) remove(name string) error {
	err := os.Remove(filepath.Join(w.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (w *spoolWriter) close() { w.fd.Close() }
