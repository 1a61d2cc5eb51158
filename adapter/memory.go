package adapter

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one instance's Wasm linear memory with a single
// reservation of the function's whole memory size that never moves.
//
// wazero's default memory grows by reallocating and copying, and the Go
// runtime grows its heap in many small steps, so most of a Go guest's
// start-up was memmove (BENCHMARKS.md; DESIGN.md, "The memory
// reservation"). A fixed mapping
// makes growth free: pages are only touched, never copied.
//
// The function's memory size is enforced here, not with wazero's page
// limit, because wazero refuses a grow past its limit without asking the
// allocator; enforcing it here is what lets ferry tell an out-of-memory
// failure from any other trap.
type linearMemory struct {
	buf   []byte // the whole reservation; len is the current size
	limit uint64
	peak  uint64 // the largest size reached: Lambda's Max Memory Used
	// exhausted is set when the guest asked to grow past the limit.
	exhausted atomic.Bool
	free      func()
}

func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.exhausted.Store(true)
		return nil
	}
	m.buf = m.buf[:size]
	if size > m.peak {
		m.peak = size
	}
	return m.buf
}

func (m *linearMemory) Free() {
	if m.free != nil {
		m.free()
		m.free = nil
	}
	m.buf = nil
}

// peakMB returns the largest size the memory reached, in MB rounded up.
func (m *linearMemory) peakMB() int { return int((m.peak + 1<<20 - 1) >> 20) }

// memoryAllocator hands out linearMemory of at most limit bytes and
// records the last one it made, for the instance that asked.
type memoryAllocator struct {
	limit uint64
	last  *linearMemory
	// image, when set, is mapped copy-on-write at the start of the memory:
	// the instance is a clone (see snapshot.go).
	image *image
	err   error // mapping the image failed
}

func (a *memoryAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	limit := a.limit
	if max < limit {
		limit = max
	}
	m := reserve(limit)
	a.last = m
	if a.image != nil {
		a.err = mapImage(m, a.image.file, a.image.size) // restore checks it

	}
	return m
}
