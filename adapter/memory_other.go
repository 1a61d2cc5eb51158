//go:build !unix

package adapter

func reserve(limit uint64) *linearMemory {
	return &linearMemory{buf: make([]byte, 0, limit), limit: limit}
}
