package gateway

import (
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Limits of the HTTP server ferry serve runs. A client gets its request
// head in 10 s and its whole request (a 6 MB Invoke body included) in
// ReadTimeout, so a slow client cannot pin a body's memory indefinitely;
// a keep-alive connection idle for IdleTimeout is closed.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second
	IdleTimeout       = 90 * time.Second
	// MaxHeaderBytes bounds a request head: API Gateway takes 10 KB of
	// headers, Lambda's Invoke API a client context of 3.5 KB.
	MaxHeaderBytes = 64 << 10
)

// NewHTTPServer returns an http.Server for h with the limits above. Serve
// it on LimitConns' listener so that connections stay below the process's
// file descriptor limit.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// DefaultMaxConns is the connection limit for this process: its open-file
// limit less a reserve for modules, spool and state files, caches and
// outbound connections.
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 1 << 16
	}
	const reserve = 512
	if n := int(rl.Cur) - reserve; n > 64 {
		return n
	}
	return 64
}

// LimitConns returns ln holding at most max connections open, for srv
// (whose ConnState it sets). At the limit it first closes the idle
// keep-alive connection that has been idle longest, so that a new
// connection — a kubelet's /healthz probe — is served even when
// thousands of idle clients hold the rest; only when every connection is
// busy does Accept wait for one to close.
func LimitConns(ln net.Listener, max int, srv *http.Server) net.Listener {
	l := &connLimiter{Listener: ln, slots: make(chan struct{}, max), idle: map[*limitedConn]time.Time{}}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if lc, ok := c.(*limitedConn); ok {
			l.mu.Lock()
			if st == http.StateIdle {
				l.idle[lc] = time.Now()
			} else {
				delete(l.idle, lc)
			}
			l.mu.Unlock()
		}
		if prev != nil {
			prev(c, st)
		}
	}
	return l
}

type connLimiter struct {
	net.Listener
	slots chan struct{}
	mu    sync.Mutex
	idle  map[*limitedConn]time.Time
}

func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.evictIdle()
		l.slots <- struct{}{} // a slot frees when a connection closes
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, l: l}, nil
}

// evictIdle closes the connection idle longest, if any.
func (l *connLimiter) evictIdle() {
	l.mu.Lock()
	var oldest *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest != nil {
		oldest.Close()
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}
