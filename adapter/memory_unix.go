//go:build unix

package adapter

import "syscall"

// reserve maps limit bytes of private, lazily-committed, zeroed memory:
// the kernel backs a page only when the guest first touches it.
func reserve(limit uint64) *linearMemory {
	if limit == 0 {
		return &linearMemory{}
	}
	b, err := syscall.Mmap(-1, 0, int(limit), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		// Address space exhausted: fall back to the Go heap, which grows
		// by copying but still enforces the limit.
		return &linearMemory{buf: make([]byte, 0, limit), limit: limit}
	}
	return &linearMemory{buf: b[:0], limit: limit, free: func() { _ = syscall.Munmap(b) }}
}
