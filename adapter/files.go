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
	"syscall"
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
	tmp   *cappedFS
	roots []*os.Root // the read-only mounts, closed with the instance
}

// newInstanceFS builds the instance's mounts.
func (inst *instance) newInstanceFS() wazero.FSConfig {
	cfg := &inst.f.cfg
	// An empty root: a path outside the mounts is "not found", not the
	// "bad file descriptor" WASI gives when no preopen covers it.
	fsc := wazero.NewFSConfig().WithFSMount(emptyDir{}, "/").(sysfs.FSConfig)
	ifs := &instanceFS{}
	mount := func(dir, guest string) {
		root, err := os.OpenRoot(dir)
		if err != nil {
			// As wazero's directory mounts do: the guest finds nothing
			// there; the function's log says why.
			fmt.Fprintf(&inst.logs, "ferry: %s is empty: %v\n", guest, err)
			return
		}
		ifs.roots = append(ifs.roots, root)
		fsc = fsc.WithSysFSMount(containedSysFS{&sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: containedFS{root}}}, root}, guest).(sysfs.FSConfig)
	}
	if cfg.Files != "" {
		mount(cfg.Files, taskRoot)
	}
	if tok := cfg.Environment[envWebIdentityTokenFile]; tok != "" && filepath.IsAbs(tok) {
		mount(filepath.Dir(tok), webIdentityDir)
	}
	limit := int64(cfg.EphemeralStorage) << 20
	ifs.tmp = newCappedFS(limit, func(what string) {
		fmt.Fprintf(&inst.logs, "ferry: /tmp is full (ephemeralStorage %d MB): %s\n", cfg.EphemeralStorage, what)
	})
	inst.fs = ifs
	return fsc.WithSysFSMount(ifs.tmp, tmpRoot)
}

// remove deletes the instance's /tmp and closes its mounts.
func (ifs *instanceFS) remove() {
	if ifs != nil {
		ifs.tmp.remove()
		for _, r := range ifs.roots {
			r.Close()
		}
		ifs.roots = nil
	}
}

// containedFS is a read-only mount of a host directory (the function's
// files, the web identity token's directory) that nothing inside it can
// leave. wazero's own directory mounts open host paths with the host's
// rules, so a symbolic link in the function's files pointing at
// /etc/shadow or /proc/self/environ would be followed; here every path is
// resolved by os.Root, which follows a link only while it stays inside the
// directory (the kernel checks each step, so a link swapped in while the
// function runs cannot escape either) and refuses one that leaves it,
// whether absolute or relative. This is decided at open rather than by
// scanning the folder when the function loads, because the folder may
// change after (ferry serve --watch, a volume updated in place), and
// Kubernetes' projected tokens are links within their directory that
// must keep working.
//
// Only regular files and directories open: a FIFO would block the open or
// the read past the invocation's deadline (a host call cannot be
// interrupted), and a device or socket has no business in a function's
// files, so they are refused with EPERM. Files are opened non-blocking, so
// even a FIFO swapped in after the check cannot block the open.
//
// A hard link cannot be told apart from the file it names, so it is not
// refused: making one needs the right to read and write the file it
// names (Linux's protected_hardlinks, on by default), so a hard link
// gives the function only what the author of its files could already
// read.
type containedFS struct{ root *os.Root }

func (c containedFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, err := c.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: containedErr(err)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f, nil
}

const envWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"

// guestWebIdentityTokenFile is where the guest finds the token file named
// by a host path.
func guestWebIdentityTokenFile(host string) string {
	return path.Join(webIdentityDir, filepath.Base(host))
}

// containedErr is err as the guest sees it: a path that escapes the
// directory is EPERM, and so is opening a socket (ENXIO).
func containedErr(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return err
	case errors.As(err, &errno):
		if errno == syscall.ENXIO {
			return fs.ErrPermission
		}
		return errno
	}
	return fs.ErrPermission // os.Root: "path escapes from parent"
}

// containedSysFS answers Stat, Lstat and Readlink from os.Root without
// opening the file, so listing a directory that holds a FIFO or a link
// out of the directory works (the guest stats each entry of unknown
// type), while opening them does not.
type containedSysFS struct {
	experimentalsys.FS
	root *os.Root
}

func rootPath(p string) string {
	p = path.Clean("/" + p)[1:]
	if p == "" {
		return "."
	}
	return p
}

func (c containedSysFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := c.root.Stat(rootPath(p))
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(containedErr(err))
	}
	return sys.NewStat_t(fi), 0
}

func (c containedSysFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := c.root.Lstat(rootPath(p))
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(containedErr(err))
	}
	return sys.NewStat_t(fi), 0
}

func (c containedSysFS) Readlink(p string) (string, experimentalsys.Errno) {
	target, err := c.root.Readlink(rootPath(p))
	if err != nil {
		return "", experimentalsys.UnwrapOSError(containedErr(err))
	}
	return target, 0
}

// cappedFS is a host directory that may hold at most limit bytes and
// maxNodes files and directories in all: Lambda's ephemeral storage.
// wazero's own directory mounts have no cap, and an in-memory file system
// would charge /tmp to the pod's memory, so the bytes live on the host's
// disk and every call that makes, grows, shrinks or removes something is
// accounted here.
//
// The count is kept per inode, not per name, because that is what holds
// disk space: a file renamed over another frees the other only if nothing
// holds it open, and a file unlinked while open keeps its blocks until its
// last handle closes (as on a real disk, where both were the way past the
// cap). A file counts as its apparent size rounded up to whole 4 KiB
// blocks, so a sparse file counts as if it were written out (the cap may
// refuse a sparse file a real disk would hold, never the other way), a
// directory as one block, and an empty file as nothing but an inode. The
// inodes are capped as ext4 would for a disk of that size (one per 16 KiB),
// so 100,000 empty files or directories do not fit in 512 MB either.
//
// Going past either cap fails with EIO (WASI has ENOSPC, but wazero's
// file system interface has no such error to return: its experimental
// sys.Errno stops at EROFS), and a line in the function's log says why.
//
// The directory is made under os.TempDir on first use. Links are refused:
// a symbolic link could point out of the directory on the host, and a hard
// link would let two names share one count. Nothing else can make a
// special file (WASI has no mknod or mkfifo), so /tmp holds regular files
// and directories only.
type cappedFS struct {
	experimentalsys.UnimplementedFS
	limit    int64
	maxNodes int
	full     func(what string)

	mu    sync.Mutex
	fs    experimentalsys.FS // nil until first use
	dir   string
	used  int64
	nodes map[sys.Inode]*tmpNode
}

// tmpNode is what one inode in /tmp counts for.
type tmpNode struct {
	charged int64 // bytes counted against the cap
	linked  bool  // it still has a name
	opens   int   // handles open on it
}

const (
	tmpBlock         = 4 << 10  // what a file's size is rounded up to
	tmpBytesPerInode = 16 << 10 // ext4's default inode ratio
)

func newCappedFS(limit int64, full func(what string)) *cappedFS {
	return &cappedFS{limit: limit, maxNodes: max(int(limit/tmpBytesPerInode), 64), full: full, nodes: map[sys.Inode]*tmpNode{}}
}

// blocks is size rounded up to whole blocks.
func blocks(size int64) int64 {
	if size <= 0 {
		return 0
	}
	return (size + tmpBlock - 1) &^ (tmpBlock - 1)
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
	c.dir, c.fs, c.used, c.nodes = "", nil, 0, map[sys.Inode]*tmpNode{}
	c.mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// Used returns the bytes /tmp counts.
func (c *cappedFS) Used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Nodes returns the files and directories /tmp counts, open unlinked
// files included.
func (c *cappedFS) Nodes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// chargeLocked sets n's count to bytes, refusing growth past the cap.
func (c *cappedFS) chargeLocked(n *tmpNode, bytes int64) bool {
	d := bytes - n.charged
	if d > 0 && c.used+d > c.limit {
		return false
	}
	c.used += d
	n.charged = bytes
	return true
}

// roomForNode reports whether one more file or directory fits, logging
// why not.
func (c *cappedFS) roomForNode() bool {
	c.mu.Lock()
	ok := len(c.nodes) < c.maxNodes
	c.mu.Unlock()
	if !ok {
		c.full(fmt.Sprintf("it holds %d files and directories, the most it may", c.maxNodes))
	}
	return ok
}

// unlinked records that ino lost its name; its space is free once no
// handle holds it.
func (c *cappedFS) unlinked(ino sys.Inode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[ino]; n != nil {
		n.linked = false
		c.releaseLocked(ino, n)
	}
}

func (c *cappedFS) releaseLocked(ino sys.Inode, n *tmpNode) {
	if !n.linked && n.opens == 0 {
		c.used -= n.charged
		delete(c.nodes, ino)
	}
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
	if flag&experimentalsys.O_CREAT != 0 {
		if _, errno := fsys.Lstat(p); errno == experimentalsys.ENOENT && !c.roomForNode() {
			return nil, experimentalsys.EIO
		}
	}
	f, errno := fsys.OpenFile(p, flag, perm)
	if errno != 0 {
		return nil, errno
	}
	if dir, _ := f.IsDir(); dir {
		return f, 0 // directories are counted by Mkdir and Rmdir
	}
	ino, errno := f.Ino()
	if errno == 0 && ino == 0 {
		errno = experimentalsys.EIO
	}
	if errno != 0 {
		f.Close()
		return nil, errno
	}
	c.mu.Lock()
	n := c.nodes[ino]
	if n == nil {
		n = &tmpNode{linked: true}
		c.nodes[ino] = n
	}
	if flag&experimentalsys.O_TRUNC != 0 {
		c.chargeLocked(n, 0)
	}
	n.opens++
	c.mu.Unlock()
	return &cappedFile{File: f, fs: c, ino: ino, node: n}, 0
}

func (c *cappedFS) Unlink(p string) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	st, lerr := fsys.Lstat(p)
	if errno = fsys.Unlink(p); errno == 0 && lerr == 0 {
		c.unlinked(st.Ino)
	}
	return errno
}

func (c *cappedFS) Rename(from, to string) experimentalsys.Errno {
	fsys, errno := c.base()
	if errno != 0 {
		return errno
	}
	src, serr := fsys.Lstat(from)
	dst, derr := fsys.Lstat(to)
	if errno = fsys.Rename(from, to); errno == 0 && derr == 0 && (serr != 0 || src.Ino != dst.Ino) {
		c.unlinked(dst.Ino) // what was at to lost its name
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
	if !c.roomForNode() {
		return experimentalsys.EIO
	}
	c.mu.Lock()
	room := c.used+tmpBlock <= c.limit
	c.mu.Unlock()
	if !room {
		c.full("no room for a directory")
		return experimentalsys.EIO
	}
	if errno = fsys.Mkdir(p, perm); errno != 0 {
		return errno
	}
	if st, errno := fsys.Lstat(p); errno == 0 {
		c.mu.Lock()
		if c.nodes[st.Ino] == nil {
			c.nodes[st.Ino] = &tmpNode{linked: true, charged: tmpBlock}
			c.used += tmpBlock
		}
		c.mu.Unlock()
	}
	return 0
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
	st, lerr := fsys.Lstat(p)
	if errno = fsys.Rmdir(p); errno == 0 && lerr == 0 {
		c.unlinked(st.Ino)
	}
	return errno
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
	fs     *cappedFS
	ino    sys.Inode
	node   *tmpNode
	closed bool
}

// grow counts the file as reaching end, refusing it past the cap.
func (f *cappedFile) grow(end int64, n int) experimentalsys.Errno {
	c := f.fs
	c.mu.Lock()
	ok := blocks(end) <= f.node.charged || c.chargeLocked(f.node, blocks(end))
	c.mu.Unlock()
	if !ok {
		c.full(fmt.Sprintf("a write of %d bytes failed", n))
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
	if errno := f.grow(off+int64(len(buf)), len(buf)); errno != 0 {
		return 0, errno
	}
	return f.File.Write(buf)
}

func (f *cappedFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.grow(off+int64(len(buf)), len(buf)); errno != 0 {
		return 0, errno
	}
	return f.File.Pwrite(buf, off)
}

func (f *cappedFile) Truncate(size int64) experimentalsys.Errno {
	c := f.fs
	c.mu.Lock()
	before := f.node.charged
	ok := c.chargeLocked(f.node, blocks(size))
	c.mu.Unlock()
	if !ok {
		c.full(fmt.Sprintf("a truncate to %d bytes failed", size))
		return experimentalsys.EIO
	}
	if errno := f.File.Truncate(size); errno != 0 {
		c.mu.Lock()
		c.used += before - f.node.charged
		f.node.charged = before
		c.mu.Unlock()
		return errno
	}
	return 0
}

// Close releases the file's count when it was its last handle and its
// name is gone.
func (f *cappedFile) Close() experimentalsys.Errno {
	c := f.fs
	c.mu.Lock()
	if !f.closed {
		f.closed = true
		f.node.opens--
		if c.nodes[f.ino] == f.node {
			c.releaseLocked(f.ino, f.node)
		}
	}
	c.mu.Unlock()
	return f.File.Close()
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
