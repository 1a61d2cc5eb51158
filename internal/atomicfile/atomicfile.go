// Package atomicfile writes files that are either wholly there or not at
// all, for the state ferry keeps across restarts: the async queue's spool
// and Azure queue messages and timer status.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Write writes data to dir/name through a temporary file in dir that is
// synced, then renamed over name: a crash leaves the old file or the new
// one, never a part. The directory entry itself is synced by SyncDir.
func Write(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// SyncDir syncs dir, so that files created, renamed or removed in it
// survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
