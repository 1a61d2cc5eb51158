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

// nearMemoryLimit reports whether the instance's linear memory has grown
// past 7/8 of the function's memory. Linear memory never shrinks (a Go
// guest's heap keeps every page it took), so such an instance is one
// burst away from running out: it is discarded after its invocation and
// the next starts fresh (a clone of the snapshot, ~1 ms) instead of
// failing an invocation with out_of_memory. A function whose steady
// state is that large pays that start on every invocation; one that
// only grew (a leak, or a garbage collector that fell behind) is reset.
func (inst *instance) nearMemoryLimit() bool {
	return inst.mem != nil && uint64(len(inst.mem.buf)) > inst.mem.limit/8*7
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
