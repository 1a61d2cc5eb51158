//go:build !linux

package gateway

import "os"

// batchedSync: without syncfs(2) each file is synced as it is written,
// and a batch syncs the directory.
const batchedSync = false

func syncFS(dir *os.File) error { return dir.Sync() }
