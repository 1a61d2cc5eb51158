package adapter

import (
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// BenchmarkTmpWrite measures what the /tmp cap costs: 64 KiB writes (the
// size Go's io.Copy and most guests use) through the capped file system
// against the same writes through wazero's plain directory file system.
func BenchmarkTmpWrite(b *testing.B) {
	chunk := make([]byte, 64<<10)
	for _, c := range []struct {
		name string
		fs   func(dir string) experimentalsys.FS
	}{
		{"plain", func(dir string) experimentalsys.FS { return sysfs.DirFS(dir) }},
		{"capped", func(dir string) experimentalsys.FS {
			return &cappedFS{fs: sysfs.DirFS(dir), dir: dir, limit: 1 << 40, full: func(int64) {}}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			fsys := c.fs(b.TempDir())
			f, errno := fsys.OpenFile("f", experimentalsys.O_CREAT|experimentalsys.O_RDWR|experimentalsys.O_TRUNC, 0o600)
			if errno != 0 {
				b.Fatal(errno)
			}
			defer f.Close()
			b.SetBytes(int64(len(chunk)))
			for i := 0; i < b.N; i++ {
				if i%1024 == 0 { // keep the file at most 64 MiB
					if errno := f.Truncate(0); errno != 0 {
						b.Fatal(errno)
					}
					f.Seek(0, 0)
				}
				if _, errno := f.Write(chunk); errno != 0 {
					b.Fatal(errno)
				}
			}
		})
	}
}

// TestCappedFSAccounting checks the byte count through truncation, rename
// over a file, and O_TRUNC.
func TestCappedFSAccounting(t *testing.T) {
	dir := t.TempDir()
	c := &cappedFS{fs: sysfs.DirFS(dir), dir: dir, limit: 100, full: func(int64) {}}
	open := func(name string, flag experimentalsys.Oflag) experimentalsys.File {
		f, errno := c.OpenFile(name, flag|experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o600)
		if errno != 0 {
			t.Fatal(errno)
		}
		return f
	}
	f := open("a", 0)
	if _, errno := f.Write(make([]byte, 60)); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := f.Pwrite(make([]byte, 10), 55); errno != 0 || c.Used() != 65 {
		t.Fatalf("pwrite past the end: %v, used %d", errno, c.Used())
	}
	if errno := f.Truncate(90); errno != 0 || c.Used() != 90 {
		t.Fatalf("truncate up: %v, used %d", errno, c.Used())
	}
	if errno := f.Truncate(101); errno != experimentalsys.EIO || c.Used() != 90 {
		t.Fatalf("truncate past the cap: %v, used %d", errno, c.Used())
	}
	f.Close()
	g := open("b", 0)
	if _, errno := g.Write(make([]byte, 11)); errno != experimentalsys.EIO {
		t.Fatalf("write past the cap: %v", errno)
	}
	g.Write(make([]byte, 10))
	g.Close()
	if errno := c.Rename("b", "a"); errno != 0 || c.Used() != 10 {
		t.Fatalf("rename over a: %v, used %d", errno, c.Used())
	}
	open("a", experimentalsys.O_TRUNC).Close()
	if c.Used() != 0 {
		t.Fatalf("O_TRUNC: used %d", c.Used())
	}
	if c.Symlink("../x", "l") != experimentalsys.EPERM || c.Link("a", "l") != experimentalsys.EPERM {
		t.Fatal("links are allowed")
	}
}

// BenchmarkInstanceTmp is what a private /tmp adds to each instance's
// start and end: making and removing its host directory.
func BenchmarkInstanceTmp(b *testing.B) {
	b.Setenv("TMPDIR", b.TempDir())
	f := &Function{cfg: Config{EphemeralStorage: 512}}
	for i := 0; i < b.N; i++ {
		inst := &instance{f: f}
		inst.newInstanceFS()
		inst.fs.tmp.base() // as when the guest first uses /tmp
		inst.fs.remove()
	}
}
