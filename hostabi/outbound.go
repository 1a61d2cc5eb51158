package hostabi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpwire"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// Outbound is what a function may reach over HTTP and how its requests go
// out. One Outbound serves every instance of a function; put it in each
// Call.
type Outbound struct {
	// Allow is allowedOutboundHosts; empty refuses every request.
	Allow lambdaspec.HostPolicy
	// Function names the function in refusal messages.
	Function string
	// Transport sends the requests; nil is DefaultTransport. It must not
	// follow redirects (an http.RoundTripper does not): the guest's own
	// client follows them, so each hop is checked against Allow.
	Transport http.RoundTripper
	// Observe, when set, is called once per request with its outcome:
	// OutboundSuccess, OutboundRefused or OutboundError.
	Observe func(outcome string)

	// HeadBudget bounds the bytes of request and response heads one
	// invocation's open requests hold in the host at once (see
	// HeadBudgetFor); 0 is HeadBudgetFor(128 MB).
	HeadBudget int64

	guardOnce sync.Once
	guard     http.RoundTripper // Transport, checking addresses (dialguard.go)
}

// transport is what sends a request: Transport (or DefaultTransport) for
// one an explicit entry allowed, a copy of it that refuses restricted
// addresses at dial time for one only a wildcard allowed.
func (ob *Outbound) transport(explicit bool) http.RoundTripper {
	if ob == nil || ob.Transport == nil {
		if explicit {
			return DefaultTransport
		}
		return guardedDefault
	}
	if explicit {
		return ob.Transport
	}
	ob.guardOnce.Do(func() { ob.guard = guarded(ob.Transport) })
	return ob.guard
}

// Outcomes of an outbound request, passed to Outbound.Observe.
const (
	OutboundSuccess = "success" // a response arrived (any status)
	OutboundRefused = "refused" // the host is not in allowedOutboundHosts
	OutboundError   = "error"   // no response: connection, TLS, timeout
)

// DefaultTransport sends outbound requests when Outbound.Transport is nil:
// net/http's default transport (system CA roots, HTTP/2, proxies from the
// environment, keep-alive), shared by every function of the process, with
// more idle connections kept per host than net/http's 2, since many
// instances call the same few services (an AWS endpoint, say).
var DefaultTransport http.RoundTripper = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 64
	t.DialContext = plainDialer.DialContext // guarded swaps it for guardDialer
	t.MaxResponseHeaderBytes = maxResponseHead
	return t
}()

// guardedDefault is DefaultTransport for requests only a wildcard entry
// allowed (dialguard.go).
var guardedDefault = guarded(DefaultTransport)

// Results of the outbound imports besides lengths and handles (ABI.md).
const (
	httpFailed  = -1 // see http_error
	httpTimeout = -2 // the request's or the invocation's deadline passed
)

// maxResponseHead bounds a response head (status line and header fields)
// the host reads for a guest; net/http's default is 10 MB, which 256
// handles of a 128 MB function could hold 20 times over.
const maxResponseHead = 1 << 20

// maxRequestHead bounds one request head (URL and header fields) the
// host takes from a guest, as maxResponseHead does a response's.
const maxRequestHead = 1 << 20

// handleCost is what an open request costs the host besides its heads:
// the transport's buffers, the goroutine and pipe that carry it.
const handleCost = 16 << 10

// HeadBudgetFor is the bytes of outbound request and response heads an
// invocation of a function with memory bytes of memory may hold in the
// host at once: an eighth of its memory. Heads live in the host, not in
// the instance's linear memory, so without a bound a 128 MB function
// could make the host hold gigabytes (256 handles of 32 MB heads) and the
// pod, sized for instances that stay within their memory, would be
// killed. With it an instance costs the host at most 9/8 of its memory.
func HeadBudgetFor(memory int64) int64 { return max(memory/8, 4*maxRequestHead) }

// maxHandles bounds the requests one invocation has open at once, so a
// guest that never closes its bodies cannot exhaust the host.
const maxHandles = 256

// outbound is a Call's open requests.
type outbound struct {
	mu      sync.Mutex
	reqs    map[int32]*outReq
	next    int32
	lastErr string
	stop    func() bool // unregisters the context.AfterFunc
	held    int64       // bytes the open requests hold (heads, handleCost each)
	budget  int64       // the most held may reach
}

// outReq is one request in flight, from http_request to http_close.
type outReq struct {
	cancel  context.CancelFunc
	pw      *io.PipeWriter // nil when the request has no body
	done    chan struct{}  // closed when the round trip returns
	resp    *http.Response
	err     error
	head    []byte // the encoded response head
	cost    int64  // what it counts in outbound.held
	eof     bool
	trailer []byte
}

func (c *Call) out(ctx context.Context) *outbound {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outbound == nil {
		o := &outbound{reqs: map[int32]*outReq{}, budget: HeadBudgetFor(128 << 20)}
		if c.Outbound != nil && c.Outbound.HeadBudget > 0 {
			o.budget = c.Outbound.HeadBudget
		}
		// Requests end with the invocation: its context is cancelled when
		// the call into the guest returns, whatever the guest did with its
		// handles.
		o.stop = context.AfterFunc(ctx, o.closeAll)
		c.outbound = o
	}
	return c.outbound
}

func (o *outbound) closeAll() {
	o.mu.Lock()
	reqs := o.reqs
	o.reqs = map[int32]*outReq{}
	o.held = 0
	o.mu.Unlock()
	for _, r := range reqs {
		r.close()
	}
}

func (o *outbound) fail(msg string) uint64 {
	o.mu.Lock()
	o.lastErr = msg
	o.mu.Unlock()
	return failed
}

func (o *outbound) get(h int32) *outReq {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reqs[h]
}

func (r *outReq) close() {
	r.cancel()
	if r.pw != nil {
		r.pw.CloseWithError(errors.New("request closed"))
	}
	<-r.done
	if r.resp != nil {
		r.resp.Body.Close()
	}
}

// sameHost reports whether the Host header host names u's host and port
// (the scheme's default when either leaves it out).
func sameHost(host string, u *url.URL) bool {
	scheme := strings.ToLower(u.Scheme)
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = strings.Trim(host, "[]"), ""
	}
	if p == "" {
		p = lambdaspec.DefaultPort(scheme)
	}
	up := u.Port()
	if up == "" {
		up = lambdaspec.DefaultPort(scheme)
	}
	return strings.EqualFold(strings.TrimSuffix(h, "."), strings.TrimSuffix(u.Hostname(), ".")) && p == up
}

func i32(v int32) uint64 { return uint64(uint32(v)) }

// httpRequest is ferry.http_request(head, head_len) -> handle.
func httpRequest(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil {
		stack[0] = failed
		return
	}
	o := c.out(ctx)
	b, ok := m.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	var req httpwire.Request
	if !ok || httpwire.DecodeRequest(b, &req) != nil {
		stack[0] = o.fail("ferry: malformed outbound request head")
		return
	}
	ob := c.Outbound
	observe := func(string) {}
	if ob != nil && ob.Observe != nil {
		observe = ob.Observe
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		stack[0] = o.fail(err.Error())
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		stack[0] = o.fail(fmt.Sprintf("ferry: unsupported protocol scheme %q", u.Scheme))
		return
	}
	var policy lambdaspec.HostPolicy
	name := "the function"
	if ob != nil {
		policy = ob.Allow
		if ob.Function != "" {
			name = "function " + ob.Function
		}
	}
	allowed, explicit, origin := policy.Match(u)
	if !allowed {
		observe(OutboundRefused)
		stack[0] = o.fail(fmt.Sprintf("ferry: outbound request to %s refused: add %q to allowedOutboundHosts of %s to allow it", origin, origin, name))
		return
	}
	if req.Host != "" && !sameHost(req.Host, u) {
		// The Host header picks the site at the address: it must be the
		// one allowed, or an allowed address would serve any other.
		observe(OutboundRefused)
		stack[0] = o.fail(fmt.Sprintf("ferry: outbound request to %s refused: its Host header %q is not the URL's host", origin, req.Host))
		return
	}
	if len(b) > maxRequestHead {
		stack[0] = o.fail(fmt.Sprintf("ferry: outbound request to %s refused: its head (URL and header fields) is %d bytes, over the limit of %d", origin, len(b), maxRequestHead))
		return
	}
	cost := int64(len(b)) + handleCost
	o.mu.Lock()
	budget := o.budget
	full := len(o.reqs) >= maxHandles
	over := o.held+cost > budget
	held := o.held
	o.mu.Unlock()
	if full {
		stack[0] = o.fail(fmt.Sprintf("ferry: more than %d outbound requests open at once (close response bodies)", maxHandles))
		return
	}
	if over {
		stack[0] = o.fail(fmt.Sprintf("ferry: outbound request to %s refused: the open requests of this invocation hold %d bytes of headers in the host, and this one would take them past %d (an eighth of the function's memory); close response bodies", origin, held, budget))
		return
	}

	rctx, cancel := context.WithCancel(ctx)
	if req.DeadlineMs > 0 {
		rctx, cancel = context.WithDeadline(ctx, time.UnixMilli(req.DeadlineMs))
	}
	hreq, err := http.NewRequestWithContext(rctx, req.Method, req.URL, nil)
	if err != nil {
		cancel()
		stack[0] = o.fail(err.Error())
		return
	}
	hreq.Header = req.Header
	if hreq.Header == nil {
		hreq.Header = http.Header{}
	}
	if req.Host != "" {
		hreq.Host = req.Host
	}
	r := &outReq{cancel: cancel, done: make(chan struct{}), cost: cost}
	if req.ContentLength != 0 {
		pr, pw := io.Pipe()
		hreq.Body, hreq.ContentLength, r.pw = pr, req.ContentLength, pw
	}
	rt := ob.transport(explicit)
	go func() {
		defer close(r.done)
		r.resp, r.err = rt.RoundTrip(hreq)
		var refused *DialRefusedError
		if errors.As(r.err, &refused) {
			observe(OutboundRefused)
		} else if r.err != nil {
			observe(OutboundError)
		} else {
			observe(OutboundSuccess)
		}
		if r.pw != nil {
			// A response (or failure) before the whole body was sent ends
			// the upload: the guest's next write fails instead of blocking.
			r.pw.CloseWithError(errors.New("the request is over; the body was not read"))
		}
	}()
	o.mu.Lock()
	o.next++
	h := o.next
	o.reqs[h] = r
	o.held += cost
	o.mu.Unlock()
	stack[0] = i32(h)
}

// httpBodyWrite is ferry.http_body_write(h, buf, len) -> written.
func httpBodyWrite(ctx context.Context, m api.Module, stack []uint64) {
	o, r := handle(ctx, stack[0])
	if r == nil {
		stack[0] = failed
		return
	}
	if r.pw == nil {
		stack[0] = o.fail("ferry: the request was declared without a body")
		return
	}
	b, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = o.fail("ferry: body range outside guest memory")
		return
	}
	// The pipe hands b to the transport, which copies it out before Write
	// returns, so the view of guest memory is not kept.
	n, err := r.pw.Write(b)
	if err != nil {
		stack[0] = r.failure(ctx, o)
		return
	}
	stack[0] = i32(int32(n))
}

// httpSend is ferry.http_send(h) -> status: ends the request body and
// waits for the response head.
func httpSend(ctx context.Context, m api.Module, stack []uint64) {
	o, r := handle(ctx, stack[0])
	if r == nil {
		stack[0] = failed
		return
	}
	if r.pw != nil {
		r.pw.Close()
	}
	<-r.done
	if r.err != nil {
		stack[0] = r.failure(ctx, o)
		return
	}
	resp := r.resp
	if r.head == nil {
		head := (&httpwire.Response{
			StatusCode: resp.StatusCode, Status: resp.Status, Proto: resp.Proto,
			ContentLength: resp.ContentLength, Uncompressed: resp.Uncompressed, Header: resp.Header,
		}).Append(nil)
		if !o.charge(r, int64(len(head))) {
			// The transport bounds each head; this bounds them together.
			r.err = fmt.Errorf("ferry: the response head of %d bytes would take the headers this invocation's open requests hold in the host past its budget; close response bodies", len(head))
			stack[0] = r.failure(ctx, o)
			return
		}
		r.head = head
	}
	stack[0] = i32(int32(resp.StatusCode))
}

// charge counts n more bytes held for r, refusing them past the budget.
func (o *outbound) charge(r *outReq, n int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held+n > o.budget {
		return false
	}
	o.held += n
	r.cost += n
	return true
}

// failure records why the request failed and returns the import's result.
func (r *outReq) failure(ctx context.Context, o *outbound) uint64 {
	<-r.done
	err := r.err
	if err == nil {
		err = errors.New("the request failed")
	}
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	o.fail(err.Error())
	if timedOut {
		return i32(httpTimeout)
	}
	return failed
}

// httpHeaderRead is ferry.http_header_read(h, which, buf, len) -> length.
func httpHeaderRead(ctx context.Context, m api.Module, stack []uint64) {
	o, r := handle(ctx, stack[0])
	if r == nil {
		stack[0] = failed
		return
	}
	var b []byte
	switch uint32(stack[1]) {
	case 0:
		if r.head == nil {
			stack[0] = o.fail("ferry: no response yet (call http_send first)")
			return
		}
		b = r.head
	case 1:
		if !r.eof {
			stack[0] = o.fail("ferry: trailers are read after the body's end")
			return
		}
		b = r.trailer
	default:
		stack[0] = o.fail("ferry: http_header_read: which is 0 (head) or 1 (trailers)")
		return
	}
	if uint32(stack[3]) >= uint32(len(b)) && !m.Memory().Write(uint32(stack[2]), b) {
		stack[0] = o.fail("ferry: buffer outside guest memory")
		return
	}
	stack[0] = i32(int32(len(b)))
}

// httpBodyRead is ferry.http_body_read(h, buf, len) -> n; 0 at the end.
func httpBodyRead(ctx context.Context, m api.Module, stack []uint64) {
	o, r := handle(ctx, stack[0])
	if r == nil {
		stack[0] = failed
		return
	}
	if r.resp == nil {
		stack[0] = o.fail("ferry: no response yet (call http_send first)")
		return
	}
	if r.eof {
		stack[0] = 0
		return
	}
	// Read straight into guest memory: Read returns a view of it.
	buf, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = o.fail("ferry: buffer outside guest memory")
		return
	}
	if len(buf) == 0 {
		stack[0] = 0
		return
	}
	for {
		n, err := r.resp.Body.Read(buf)
		if err == io.EOF {
			r.eof = true
			r.trailer = httpwire.AppendHeader(nil, r.resp.Trailer)
			if !o.charge(r, int64(len(r.trailer))) {
				r.trailer = nil
				r.err = fmt.Errorf("ferry: the response's trailers would take the headers this invocation's open requests hold in the host past its budget; close response bodies")
				stack[0] = r.failure(ctx, o)
				return
			}
		} else if err != nil && n == 0 {
			r.err = err
			stack[0] = r.failure(ctx, o)
			return
		}
		if n > 0 || r.eof {
			stack[0] = i32(int32(n))
			return
		}
	}
}

// httpClose is ferry.http_close(h) -> 0: releases the request, cancelling
// it if it is still running.
func httpClose(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil {
		stack[0] = failed
		return
	}
	o := c.out(ctx)
	h := int32(stack[0])
	o.mu.Lock()
	r := o.reqs[h]
	delete(o.reqs, h)
	if r != nil {
		o.held -= r.cost
	}
	o.mu.Unlock()
	if r == nil {
		stack[0] = o.fail("ferry: unknown request handle")
		return
	}
	r.close()
	stack[0] = 0
}

// httpError is ferry.http_error(buf, len) -> length: the message of the
// last failed http_* call.
func httpError(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil {
		stack[0] = failed
		return
	}
	o := c.out(ctx)
	o.mu.Lock()
	msg := o.lastErr
	o.mu.Unlock()
	if uint32(stack[1]) >= uint32(len(msg)) && !m.Memory().WriteString(uint32(stack[0]), msg) {
		stack[0] = failed
		return
	}
	stack[0] = i32(int32(len(msg)))
}

func handle(ctx context.Context, h uint64) (*outbound, *outReq) {
	c := callFrom(ctx)
	if c == nil {
		return nil, nil
	}
	o := c.out(ctx)
	r := o.get(int32(h))
	if r == nil {
		o.fail("ferry: unknown request handle")
	}
	return o, r
}
