package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// progress reports New's loading: a line per function built and compiled
// (what a user waits for on a first start, and why), and a status
// summary of what is under way for a live line on a terminal.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	status func(string)
	start  time.Time
	total  int
	ready  int
	doing  map[string]string // function → "building" or "compiling"
}

func newProgress(w io.Writer, status func(string), total int) *progress {
	if status == nil {
		status = func(string) {}
	}
	return &progress{w: w, status: status, start: time.Now(), total: total, doing: map[string]string{}}
}

// set records what name is doing ("" when it is done) and updates the
// status line.
func (p *progress) set(name, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if what == "" {
		delete(p.doing, name)
	} else {
		p.doing[name] = what
	}
	p.status(p.summary())
}

// summary is the status line: "3/9 ready, building fetch, compiling hello (12 s)".
func (p *progress) summary() string {
	parts := []string{fmt.Sprintf("%d/%d ready", p.ready, p.total)}
	names := make([]string, 0, len(p.doing))
	for n := range p.doing {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		parts = append(parts, p.doing[n]+" "+n)
	}
	return fmt.Sprintf("ferry: %s (%.0f s)", strings.Join(parts, ", "), time.Since(p.start).Seconds())
}

func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// build builds (or finds in the cache) the module of function name from
// the Go sources in dir.
func (p *progress) build(ctx context.Context, name, dir string, opts ...gobuild.Option) (string, error) {
	p.set(name, "building")
	start := time.Now()
	r, err := gobuild.CachedBuild(ctx, dir, opts...)
	if err != nil {
		return "", err
	}
	size := "?"
	if st, err := os.Stat(r.Path); err == nil {
		size = fmt.Sprintf("%.1f MB", float64(st.Size())/(1<<20))
	}
	if r.Built {
		p.line("ferry: building %s… %s in %.1f s", name, size, time.Since(start).Seconds())
	} else {
		p.line("ferry: building %s… %s, unchanged sources (cached)", name, size)
	}
	return r.Path, nil
}

// load runs compile (the engine's LoadFile: wazero compiles the module to
// machine code, or reads it from the compilation cache, and initialises
// the function's snapshot).
func (p *progress) load(name string, compile func() (*adapter.Function, error)) (*adapter.Function, error) {
	p.set(name, "compiling")
	start := time.Now()
	f, err := compile()
	if err == nil {
		p.line("ferry: compiling %s… %.1f s", name, time.Since(start).Seconds())
	}
	return f, err
}

// done marks name ready (or failed: New reports the error).
func (p *progress) done(name string) {
	p.mu.Lock()
	p.ready++
	p.mu.Unlock()
	p.set(name, "")
}

// finish clears the status line.
func (p *progress) finish() { p.status("") }
