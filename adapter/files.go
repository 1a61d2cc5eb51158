package adapter

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// Where a function's files appear inside the guest, as on Lambda.
const (
	taskRoot = "/var/task"
	tmpRoot  = "/tmp"
	// webIdentityDir holds the web identity token (IRSA) when the function's
	// environment names one with AWS_WEB_IDENTITY_TOKEN_FILE.
	webIdentityDir = "/var/run/secrets/ferry/web-identity"
)

// instanceFS is what one instance sees of the file system: the function's
// files read-only at /var/task, its own /tmp of at most EphemeralStorage
// MB, the web identity token's directory when configured, and nothing else.
// The /tmp directory is a fresh host directory, made when the guest first
// uses /tmp (making and removing a directory costs 0.3–0.9 ms on a
// container's disk, too much for every cold start of a function that never
// writes a file) and removed when the instance is discarded.
type instanceFS struct {
	tmp *cappedFS
}

// newInstanceFS builds the instance's mounts.
func (inst *instance) newInstanceFS() wazero.FSConfig {
	cfg := &inst.f.cfg
	// An empty root: a path outside the mounts is "not found", not the
	// "bad file descriptor" WASI gives when no preopen covers it.
	fsc := wazero.NewFSConfig().WithFSMount(emptyDir{}, "/")
	if cfg.Files != "" {
		fsc = fsc.WithReadOnlyDirMount(cfg.Files, taskRoot)
	}
	if tok := cfg.Environment[envWebIdentityTokenFile]; tok != "" && filepath.IsAbs(tok) {
		fsc = fsc.WithReadOnlyDirMount(filepath.Dir(tok), webIdentityDir)
	}
	limit := int64(cfg.EphemeralStorage) << 20
	tmp := &cappedFS{limit: limit, full: func(n int64) {
		fmt.Fprintf(&inst.logs, "ferry: /tmp is full (ephemeralStorage %d MB): a write of %d bytes failed\n", cfg.EphemeralStorage, n)
	}}
	inst.fs = &instanceFS{tmp: tmp}
	return fsc.(sysfs.FSConfig).WithSysFSMount(tmp, tmpRoot)
}

// remove deletes the instance's /tmp.
func (ifs *instanceFS) remove() {
	if ifs != nil {
		ifs.tmp.remove()
	}
}

const envWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"

// guestWebIdentityTokenFile is where the guest finds the token file named
// by a host path.
func guestWebIdentityTokenFile(host string) string {
	return path.Join(webIdentityDir, filepath.Base(host))
}

// cappedFS is a host directory whose files may hold at most limit bytes
// in all: Lambda's ephemeral storage. wazero's own directory mounts have
// no size cap, and an in-memory file system would charge /tmp to the
// pod's memory, so the bytes live on the host's disk and every call that
// grows or shrinks a file is accounted here. A write that would go past
// the cap fails with EIO (WASI has ENOSPC, but wazero's file system
// interface cannot return it) and a line in the function's log says why.
//
// The directory is made under os.TempDir on first use. Links are refused:
// a symbolic link could point out of the directory on the host, and a hard
// link would make the accounting lie.
type cappedFS struct {
	experimentalsys.UnimplementedFS
	limit int64
	full  func(n int64)

	mu   sync.Mutex
	fs   experimentalsys.FS // nil until first use
	dir  string
	used int64
}

// base returns the directory's file system, making the directory on first
// use.
func (c *cappedFS) base() (experimentalsys.FS, experimentalsys.Errno) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fs == nil {
		dir, err := os.MkdirTemp("", "ferry-tmp-")
		if err != nil {
			return nil, experimentalsys.EIO
		}
		c.dir, c.fs = dir, sysfs.DirFS(dir)
	}
	return c.fs, 0
}

func (c *cappedFS) remove() {
	c.mu.Lock()
	dir := c.dir
	c.dir, c.fs, c.used = "", nil, 0
	c.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// reserve accounts delta bytes (negative frees), refusing growth past the
// cap.
func (c *cappedFS) reserve(delta int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if delta > 0 && c.used+delta > c.limit {
		return false
	}
	c.used += delta
	if c.used < 0 {
		c.used = 0
	}
	return true
}

// Used returns the bytes /tmp holds.
func (c *cappedFS) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

func (c *cappedFS) size(fsys experimentalsys.FS, p string) int64 {
	st, errno := fsys.Lstat(p)
	if errno != 0 || st.Mode.IsDir() {
		return 0
	}
	return st.Size
}

func (c *cappedFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if p == "." && flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_WRONLY|experimentalsys.O_RDWR) == 0 {
		c.mu.Lock()
		made := c.fs != nil
		c.mu.Unlock()
		if !made {
			// wazero opens each mount's root when the guest lists its
			// preopens, which every Go program does at start.
			return &lazyRoot{c: c, flag: flag, perm: perm}, 0
		}
	}
	fsys, errno := c.base()
	if errno != 0 {
		return nil, errno
	}
	var before int64
	if flag&experimentalsys.O_TRUNC != 0 {
		before = c.size(fsys, p)
	}
	f, errno := fsys.OpenFile(p, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	if before > 0 {
		c.reserve(-before)
	}
	return &cappedFile{File: f, fs: c}, 0
}

func (c *cappedFS) Unlink(p string) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	n := c.size(fsys, p)
	if errno = fsys.Unlink(p); errno == 0 {
		c.reserve(-n)
	}
	return errno
}

func (c *cappedFS) Rename(from, to string) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	n := c.size(fsys, to)
	if errno = fsys.Rename(from, to); errno == 0 {
		c.reserve(-n)
	}
	return errno
}

func (c *cappedFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fsys, errno := c.base()
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	return fsys.Lstat(p)
}

func (c *cappedFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fsys, errno := c.base()
	if errno != 0 {
		return sys.Stat_t{}, errno
	}
	return fsys.Stat(p)
}

func (c *cappedFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	return fsys.Mkdir(p, perm)
}

func (c *cappedFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	return fsys.Chmod(p, perm)
}

func (c *cappedFS) Rmdir(p string) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	return fsys.Rmdir(p)
}

func (c *cappedFS) Readlink(p string) (string, experimentalsys.Errno) {
	fsys, errno := c.base()
	if errno != 0 {
		return "", errno
	}
	return fsys.Readlink(p)
}

func (c *cappedFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	return fsys.Utimens(p, atim, mtim)
}

func (c *cappedFS) Link(string, string) experimentalsys.Errno    { return experimentalsys.EPERM }
func (c *cappedFS) Symlink(string, string) experimentalsys.Errno { return experimentalsys.EPERM }

// lazyRoot stands for /tmp's root directory until the directory exists:
// it answers what a directory's handle answers without making it, and
// anything else opens the real one.
type lazyRoot struct {
	experimentalsys.UnimplementedFile
	c    *cappedFS
	flag experimentalsys.Oflag
	perm fs.FileMode
	real experimentalsys.File
}

func (l *lazyRoot) file() (experimentalsys.File, experimentalsys.Errno) {
	if l.real == nil {
		fsys, errno := l.c.base()
		if errno != 0 {
			return nil, errno
		}
		if l.real, errno = fsys.OpenFile(".", l.flag, l.perm); errno != 0 {
			return nil, errno
		}
	}
	return l.real, 0
}

func (l *lazyRoot) IsDir() (bool, experimentalsys.Errno) { return true, 0 }

func (l *lazyRoot) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if l.real != nil {
		return l.real.Stat()
	}
	return sys.Stat_t{Mode: fs.ModeDir | 0o777, Nlink: 2}, 0
}

func (l *lazyRoot) Dev() (uint64, experimentalsys.Errno) {
	f, errno := l.file()
	if errno != 0 {
		return 0, errno
	}
	return f.Dev()
}

func (l *lazyRoot) Ino() (sys.Inode, experimentalsys.Errno) {
	f, errno := l.file()
	if errno != 0 {
		return 0, errno
	}
	return f.Ino()
}

func (l *lazyRoot) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	f, errno := l.file()
	if errno != 0 {
		return nil, errno
	}
	return f.Readdir(n)
}

func (l *lazyRoot) Utimens(atim, mtim int64) experimentalsys.Errno {
	f, errno := l.file()
	if errno != 0 {
		return errno
	}
	return f.Utimens(atim, mtim)
}

func (l *lazyRoot) Close() experimentalsys.Errno {
	if l.real != nil {
		return l.real.Close()
	}
	return 0
}

// cappedFile accounts the growth of one open file.
type cappedFile struct {
	experimentalsys.File
	fs *cappedFS
}

// grow reserves what writing n bytes at off adds to the file.
func (f *cappedFile) grow(off int64, n int) experimentalsys.Errno {
	st, errno := f.File.Stat()
	if errno != 0 {
		return errno
	}
	if end := off + int64(n); end > st.Size && !f.fs.reserve(end-st.Size) {
		f.fs.full(int64(n))
		return experimentalsys.EIO
	}
	return 0
}

func (f *cappedFile) Write(buf []byte) (int, experimentalsys.Errno) {
	var off int64
	if f.File.IsAppend() {
		st, errno := f.File.Stat()
		if errno != 0 {
			return 0, errno
		}
		off = st.Size
	} else {
		o, errno := f.File.Seek(0, io.SeekCurrent)
		if errno != 0 {
			return 0, errno
		}
		off = o
	}
	if errno := f.grow(off, len(buf)); errno != 0 {
		return 0, errno
	}
	return f.File.Write(buf)
}

func (f *cappedFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.grow(off, len(buf)); errno != 0 {
		return 0, errno
	}
	return f.File.Pwrite(buf, off)
}

func (f *cappedFile) Truncate(size int64) experimentalsys.Errno {
	st, errno := f.File.Stat()
	if errno != 0 {
		return errno
	}
	if !f.fs.reserve(size - st.Size) {
		f.fs.full(size - st.Size)
		return experimentalsys.EIO
	}
	if errno := f.File.Truncate(size); errno != 0 {
		f.fs.reserve(st.Size - size)
		return errno
	}
	return 0
}

// emptyDir is a read-only file system with nothing in it.
type emptyDir struct{}

func (emptyDir) Open(name string) (fs.File, error) {
	if name == "." {
		return emptyDirFile{}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

type emptyDirFile struct{}

func (emptyDirFile) Stat() (fs.FileInfo, error) { return emptyDirInfo{}, nil }
func (emptyDirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: errIsDir}
}
func (emptyDirFile) Close() error { return nil }
func (emptyDirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if n > 0 {
		return nil, io.EOF
	}
	return nil, nil
}

var errIsDir = errors.New("is a directory")

type emptyDirInfo struct{}

func (emptyDirInfo) Name() string       { return "." }
func (emptyDirInfo) Size() int64        { return 0 }
func (emptyDirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (emptyDirInfo) ModTime() time.Time { return time.Time{} }
func (emptyDirInfo) IsDir() bool        { return true }
func (emptyDirInfo) Sys() any           { return nil }
