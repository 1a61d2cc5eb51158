package adapter

import (
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
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
			c := newCappedFS(1<<40, func(string) {})
			c.fs, c.dir = sysfs.DirFS(dir), dir
			return c
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

// TestCappedFSAccounting checks the count through writes past the end,
// truncation, rename over a file, O_TRUNC, unlinking an open file and
// directories: files count in whole 4 KiB blocks, and an inode's blocks
// are free only once it has neither a name nor an open handle.
func TestCappedFSAccounting(t *testing.T) {
	dir := t.TempDir()
	const blk = tmpBlock
	c := newCappedFS(100*blk, func(string) {})
	c.fs, c.dir = sysfs.DirFS(dir), dir
	open := func(name string, flag experimentalsys.Oflag) experimentalsys.File {
		f, errno := c.OpenFile(name, flag|experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o600)
		if errno != 0 {
			t.Fatal(errno)
		}
		return f
	}
	f := open("a", 0)
	if _, errno := f.Write(make([]byte, 60*blk-1)); errno != 0 || c.Used() != 60*blk {
		t.Fatalf("write: %v, used %d", errno, c.Used())
	}
	if _, errno := f.Pwrite(make([]byte, 10*blk), 55*blk); errno != 0 || c.Used() != 65*blk {
		t.Fatalf("pwrite past the end: %v, used %d", errno, c.Used())
	}
	if errno := f.Truncate(90 * blk); errno != 0 || c.Used() != 90*blk {
		t.Fatalf("truncate up: %v, used %d", errno, c.Used())
	}
	if errno := f.Truncate(100*blk + 1); errno != experimentalsys.EIO || c.Used() != 90*blk {
		t.Fatalf("truncate past the cap: %v, used %d", errno, c.Used())
	}
	f.Close()
	g := open("b", 0)
	if _, errno := g.Write(make([]byte, 10*blk+1)); errno != experimentalsys.EIO {
		t.Fatalf("write past the cap: %v", errno)
	}
	g.Write(make([]byte, 10*blk))
	g.Close()
	if errno := c.Rename("b", "a"); errno != 0 || c.Used() != 10*blk {
		t.Fatalf("rename over a: %v, used %d", errno, c.Used())
	}
	open("a", experimentalsys.O_TRUNC).Close()
	if c.Used() != 0 {
		t.Fatalf("O_TRUNC: used %d", c.Used())
	}
	// An open file renamed over or unlinked keeps its blocks until closed.
	h := open("h", 0)
	h.Write(make([]byte, 50*blk))
	open("n", 0).Close()
	if errno := c.Rename("n", "h"); errno != 0 || c.Used() != 50*blk {
		t.Fatalf("rename over an open file: %v, used %d", errno, c.Used())
	}
	k := open("k", 0)
	k.Write(make([]byte, 40*blk))
	if errno := c.Unlink("k"); errno != 0 || c.Used() != 90*blk {
		t.Fatalf("unlink an open file: %v, used %d", errno, c.Used())
	}
	if _, errno := open("m", 0).Write(make([]byte, 20*blk)); errno != experimentalsys.EIO {
		t.Fatalf("write while unlinked files hold the space: %v", errno)
	}
	h.Close()
	k.Close()
	if c.Used() != 0 || c.Nodes() != 3 { // a, n (renamed to h) and m
		t.Fatalf("after closing: used %d, nodes %d", c.Used(), c.Nodes())
	}
	if errno := c.Mkdir("d", 0o700); errno != 0 || c.Used() != blk {
		t.Fatalf("mkdir: %v, used %d", errno, c.Used())
	}
	if errno := c.Rmdir("d"); errno != 0 || c.Used() != 0 || c.Nodes() != 3 {
		t.Fatalf("rmdir: %v, used %d, nodes %d", errno, c.Used(), c.Nodes())
	}
	if c.Symlink("../x", "l") != experimentalsys.EPERM || c.Link("h", "l") != experimentalsys.EPERM {
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

// BenchmarkCloneModuleConfig measures a clone's module config built as
// restore builds it, from the base its snapshot keeps (baseModuleConfig),
// against building the base too, per instance, as clones did before (and
// as an instance started from scratch still does): the difference is
// Lambda's environment applied with wazero's WithEnv.
func BenchmarkCloneModuleConfig(b *testing.B) {
	cfg := Config{Name: "bench", Memory: 128, EphemeralStorage: 512}
	env := cfg.lambdaEnvironment(newLogStream(time.Now()))
	base := baseModuleConfig(env)
	for _, c := range []struct {
		name string
		base func() wazero.ModuleConfig
	}{
		{"per-instance", func() wazero.ModuleConfig { return baseModuleConfig(env) }},
		{"from-snapshot", func() wazero.ModuleConfig { return base }},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := &Function{cfg: cfg}
			for range b.N {
				inst := &instance{f: f}
				_ = inst.moduleConfig(c.base(), &inst.logs)
				inst.fs.remove()
			}
		})
	}
}
