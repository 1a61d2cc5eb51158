//go:build wasip1

package fhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpwire"
)

//go:wasmimport ferry http_request
func httpRequest(head unsafe.Pointer, headLen int32) int32

//go:wasmimport ferry http_body_write
func httpBodyWrite(h int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport ferry http_send
func httpSend(h int32) int32

//go:wasmimport ferry http_header_read
func httpHeaderRead(h int32, which int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport ferry http_body_read
func httpBodyRead(h int32, buf unsafe.Pointer, n int32) int32

//go:wasmimport ferry http_close
func httpClose(h int32) int32

//go:wasmimport ferry http_error
func httpError(buf unsafe.Pointer, n int32) int32

// Transport sends each request through the host.
var Transport http.RoundTripper = transport{}

var client = &http.Client{Transport: Transport}

var installed sync.Once

// Install routes net/http's default transport through the host, so
// http.Get, http.DefaultClient and every client without a Transport of its
// own use it. http.DefaultTransport stays the *http.Transport it was
// (libraries type-assert it): Transport is registered on it for the http
// and https schemes, which net/http consults before dialling, so clients
// that captured it before Install go through the host too. A Clone of it
// does not carry registered protocols; it would dial, which wasip1 cannot,
// so its dialer is replaced by one whose error says what to use instead.
// HTTP/2 is left to the host's transport.
func Install() {
	installed.Do(func() {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			http.DefaultTransport = Transport
			return
		}
		var p http.Protocols
		p.SetHTTP1(true)
		t.Protocols = &p
		t.DialContext = refuseDial
		t.DialTLSContext = refuseDial
		t.RegisterProtocol("http", Transport)
		t.RegisterProtocol("https", Transport)
	})
}

func refuseDial(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("ferry: this http.Transport would open a socket, and WebAssembly has none; " +
		"give the client lambda.Transport() (or use lambda.HTTPClient()) so that the host sends its requests")
}

type transport struct{}

// chunk is the size of one body write: large enough that a copy costs more
// than the call, small enough not to double a large upload in memory.
const chunk = 64 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

func (transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if req.URL == nil {
		closeBody()
		return nil, errors.New("ferry: http: nil Request.URL")
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody()
		return nil, err
	}
	head := httpwire.Request{Method: req.Method, URL: req.URL.String(), Host: req.Host, Header: req.Header}
	if head.Method == "" {
		head.Method = http.MethodGet
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	switch {
	case !hasBody:
		head.ContentLength = 0
	case req.ContentLength > 0:
		head.ContentLength = req.ContentLength
	default:
		head.ContentLength = -1
	}
	if d, ok := ctx.Deadline(); ok {
		// Rounded up: the host must not give up before the guest's own
		// timers say the deadline has passed.
		head.DeadlineMs = d.Add(time.Millisecond - 1).UnixMilli()
	}
	b := head.Append(nil)
	h := httpRequest(unsafe.Pointer(unsafe.SliceData(b)), int32(len(b)))
	if h < 0 {
		closeBody()
		return nil, lastError(ctx, h)
	}
	var uploadErr error
	if hasBody {
		bp := bufs.Get().(*[]byte)
		var readErr error
		readErr, uploadErr = upload(h, req.Body, *bp)
		bufs.Put(bp)
		req.Body.Close()
		if readErr != nil {
			httpClose(h) // cancels the request: no truncated body goes out
			return nil, readErr
		}
	}
	// After a failed upload the response may still have come (a server
	// may answer, say 413, before reading the whole body): net/http
	// returns that response, and so does this.
	status := httpSend(h)
	if status < 0 {
		err := lastError(ctx, status)
		if uploadErr != nil {
			err = uploadErr
		}
		httpClose(h)
		if status == -2 {
			settle(req)
		}
		return nil, err
	}
	hb, err := readHeader(h, 0)
	var rh httpwire.Response
	if err == nil {
		err = httpwire.DecodeResponse(hb, &rh)
	}
	if err != nil {
		httpClose(h)
		return nil, err
	}
	resp := &http.Response{
		Status: rh.Status, StatusCode: rh.StatusCode, Proto: rh.Proto,
		Header: rh.Header, ContentLength: rh.ContentLength, Uncompressed: rh.Uncompressed,
		Request: req,
	}
	resp.ProtoMajor, resp.ProtoMinor, _ = http.ParseHTTPVersion(rh.Proto)
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	// As net/http does: the trailer keys the server announced, with their
	// values filled in once the body has been read to its end.
	for _, v := range resp.Header.Values("Trailer") {
		for _, k := range splitList(v) {
			if resp.Trailer == nil {
				resp.Trailer = http.Header{}
			}
			resp.Trailer[http.CanonicalHeaderKey(k)] = nil
		}
	}
	resp.Body = &body{h: h, ctx: ctx, resp: resp}
	if req.Method == http.MethodHead {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// upload streams the request body to the host. It tells a failure to read
// the body (readErr) from the host's refusal of it (sendErr).
func upload(h int32, r io.Reader, buf []byte) (readErr, sendErr error) {
	for {
		n, err := r.Read(buf)
		for p := buf[:n]; len(p) > 0; {
			w := httpBodyWrite(h, unsafe.Pointer(unsafe.SliceData(p)), int32(len(p)))
			if w < 0 {
				return nil, lastError(context.Background(), w)
			}
			p = p[w:]
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

func splitList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			if s := trim(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	return out
}

func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// settle lets the guest's own timers catch up after the host reported a
// timeout. The host call blocked the whole guest, so timers due meanwhile
// (the request context's, an http.Client's Timeout) have not run yet, and
// http.Client only reports "Client.Timeout exceeded" once its timer has.
func settle(req *http.Request) {
	ctx := req.Context()
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		<-ctx.Done()
	}
	//lint:ignore SA1019 http.Client's timeout closes it
	if cancel := req.Cancel; cancel != nil {
		select {
		case <-cancel:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readHeader reads the response head (which 0) or trailers (which 1).
func readHeader(h, which int32) ([]byte, error) {
	buf := make([]byte, 1024)
	for {
		n := httpHeaderRead(h, which, unsafe.Pointer(unsafe.SliceData(buf)), int32(len(buf)))
		if n < 0 {
			return nil, lastError(context.Background(), n)
		}
		if int(n) <= len(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, n)
	}
}

// timeoutError is what a request cut short by the invocation's deadline
// returns: a net.Error whose Timeout is true, which errors.Is matches with
// os.ErrDeadlineExceeded and context.DeadlineExceeded, as net/http's own
// timeouts do.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded
}

func lastError(ctx context.Context, code int32) error {
	buf := make([]byte, 256)
	for {
		n := httpError(unsafe.Pointer(unsafe.SliceData(buf)), int32(len(buf)))
		if n < 0 {
			n = 0
		}
		if int(n) <= len(buf) {
			msg := string(buf[:n])
			if msg == "" {
				msg = "ferry: outbound request failed"
			}
			if code == -2 {
				if err := ctx.Err(); err != nil {
					return err
				}
				return &timeoutError{msg}
			}
			return errors.New(msg)
		}
		buf = make([]byte, n)
	}
}

// body reads a response body through the host.
type body struct {
	h      int32
	ctx    context.Context
	resp   *http.Response
	eof    bool
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("http: read on closed response body")
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > 1<<30 {
		p = p[:1<<30]
	}
	n := httpBodyRead(b.h, unsafe.Pointer(unsafe.SliceData(p)), int32(len(p)))
	if n < 0 {
		return 0, lastError(b.ctx, n)
	}
	if n == 0 {
		b.eof = true
		if tb, err := readHeader(b.h, 1); err == nil {
			if t, err := httpwire.DecodeHeader(tb); err == nil && len(t) > 0 {
				if b.resp.Trailer == nil {
					b.resp.Trailer = http.Header{}
				}
				for k, v := range t {
					b.resp.Trailer[k] = v
				}
			}
		}
		return 0, io.EOF
	}
	return int(n), nil
}

func (b *body) Close() error {
	if !b.closed {
		b.closed = true
		httpClose(b.h)
	}
	return nil
}
