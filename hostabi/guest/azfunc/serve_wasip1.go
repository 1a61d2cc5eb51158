//go:build wasip1

package azfunc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"time"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/reactor"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/httpmsg"
	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

var handler http.Handler

func serve(_ string, h http.Handler) error {
	handler = h
	if reactor.InReactor() {
		// Back to ferry_start; invocations arrive through ferry_invoke.
		reactor.Register(serveRecord)
		reactor.Return() // back to ferry_start, past the caller's log.Fatal
		return nil
	}
	os.Exit(serveCommand())
	return nil
}

// serveRecord serves one invocation in reactor mode.
func serveRecord(inv *record.Invocation) reactor.Outcome {
	var deadline time.Time
	if inv.DeadlineMs > 0 {
		deadline = time.UnixMilli(inv.DeadlineMs)
	}
	resp, errDoc := serveHTTP(inv.Payload, deadline)
	if errDoc != nil {
		return reactor.Outcome{Error: errDoc}
	}
	return reactor.Outcome{Response: resp}
}

// serveHTTP runs the handler on the request in payload and returns the
// response envelope, or an error document when the payload is not a
// request or the handler panicked. As net/http's server does, a panic is
// logged with its stack and the process (the instance) goes on serving.
func serveHTTP(payload []byte, deadline time.Time) (resp, errDoc []byte) {
	var m httpmsg.Request
	if err := json.Unmarshal(payload, &m); err != nil || m.Method == "" || m.URL == "" {
		return nil, errorDocument("Runtime.InvalidRequest", fmt.Sprintf("ferry: the invocation payload is not an HTTP request envelope (hostabi/ABI.md): %v", err))
	}
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	r, err := http.NewRequestWithContext(ctx, m.Method, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return nil, errorDocument("Runtime.InvalidRequest", "ferry: "+err.Error())
	}
	r.Header = http.Header(m.Header)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.RequestURI = m.URL
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = "127.0.0.1"
	}
	r.RemoteAddr = "127.0.0.1:0"
	w := &responseWriter{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				resp, errDoc = nil, errorDocument("Runtime.HandlerAborted", "http: abort handler")
				return
			}
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			log.Printf("http: panic serving %s: %v\n%s", r.RemoteAddr, v, buf)
			resp, errDoc = nil, errorDocument(typeName(v), fmt.Sprint(v))
		}
	}()
	handler.ServeHTTP(w, r)
	w.WriteHeader(http.StatusOK)
	out := httpmsg.Response{Status: w.status, Header: w.written, Body: w.body.Bytes()}
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, errorDocument("Runtime.SerializationError", err.Error())
	}
	return b, nil
}

// responseWriter buffers a response as net/http's server would send it:
// headers frozen at the first WriteHeader or Write, a Content-Type sniffed
// from the body when the handler set none.
type responseWriter struct {
	header  http.Header
	written http.Header
	status  int
	sniffed bool
	body    bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.written = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.sniffed && len(p) > 0 {
		// As net/http: the type is sniffed from the first bytes written,
		// into the headers as frozen by WriteHeader.
		w.sniffed = true
		if _, ok := w.written["Content-Type"]; !ok && w.written.Get("Transfer-Encoding") == "" {
			w.written.Set("Content-Type", http.DetectContentType(p))
		}
	}
	return w.body.Write(p)
}

// Flush is a no-op: the response leaves when the handler returns.
func (w *responseWriter) Flush() {}

// typeName names a panic value's type as aws-lambda-go names error types:
// without package or pointer (errorString, MyErr).
func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return t.String()
	}
	return t.Name()
}

func errorDocument(typ, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": typ})
	return b
}

// serveCommand serves one invocation in command mode (ABI.md): the
// request envelope on stdin, the response envelope on stdout.
func serveCommand() int {
	out := os.Stdout
	os.Stdout = os.Stderr
	log.SetOutput(os.Stderr)
	payload, err := io.ReadAll(os.Stdin)
	if err != nil {
		log.Printf("ferry: reading the request from stdin: %v", err)
		return 1
	}
	var deadline time.Time
	if ms, err := strconv.ParseInt(os.Getenv("FERRY_DEADLINE_MS"), 10, 64); err == nil && ms > 0 {
		deadline = time.UnixMilli(ms)
	}
	resp, errDoc := serveHTTP(payload, deadline)
	if errDoc != nil {
		resp = errDoc
	}
	out.Write(resp)
	return 0
}
