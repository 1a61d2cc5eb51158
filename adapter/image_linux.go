package adapter

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

const imagesSupported = true

// imageFile is a snapshot's memory in a memfd: pages of zeros are holes,
// so the file holds (and the page cache keeps) only what the guest wrote.
type imageFile struct{ fd int }

const pageSize = 4096

func newImageFile(mem []byte) (imageFile, error) {
	fd, err := unix.MemfdCreate("ferry-image", unix.MFD_CLOEXEC)
	if err != nil {
		return imageFile{}, err
	}
	if err := unix.Ftruncate(fd, int64(len(mem))); err != nil {
		unix.Close(fd)
		return imageFile{}, err
	}
	// Write runs of non-zero pages.
	for off := 0; off < len(mem); {
		if zeroPage(mem[off:min(off+pageSize, len(mem))]) {
			off += pageSize
			continue
		}
		end := off + pageSize
		for end < len(mem) && !zeroPage(mem[end:min(end+pageSize, len(mem))]) {
			end += pageSize
		}
		end = min(end, len(mem))
		for w := off; w < end; {
			n, err := unix.Pwrite(fd, mem[w:end], int64(w))
			if err != nil {
				unix.Close(fd)
				return imageFile{}, err
			}
			w += n
		}
		off = end
	}
	return imageFile{fd: fd}, nil
}

func zeroPage(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

func (f imageFile) close() { unix.Close(f.fd) }

// mapImage maps the first size bytes of the image over the start of a
// reservation, private and copy-on-write: a clone shares the image's pages
// until it writes to them.
func mapImage(m *linearMemory, f imageFile, size uint64) error {
	if m.free == nil || uint64(cap(m.buf)) < size {
		return fmt.Errorf("the memory limit (%d bytes) is below the image's size (%d bytes)", m.limit, size)
	}
	b := m.buf[:size]
	_, err := unix.MmapPtr(f.fd, 0, unsafe.Pointer(unsafe.SliceData(b)), uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err
}
