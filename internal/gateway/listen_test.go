package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestIdleConnectionsDoNotStarveHealthz: thousands of idle keep-alive
// connections, more than the connection limit, cannot keep /healthz from
// answering a new connection (a kubelet probe); the server never holds
// more connections than the limit.
func TestIdleConnectionsDoNotStarveHealthz(t *testing.T) {
	const limit, idle = 300, 2000
	srv := gateway.NewHTTPServer(gateway.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := make(chan int, 1)
	counted <- 0
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		n := <-counted
		switch st {
		case http.StateNew:
			n++
		case http.StateClosed, http.StateHijacked:
			n--
		}
		counted <- n
	}
	go srv.Serve(gateway.LimitConns(ln, limit, srv))
	defer srv.Close()
	addr := ln.Addr().String()

	get := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			return fmt.Errorf("%d %q", resp.StatusCode, b)
		}
		return nil
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if err := get(c); err != nil { // then it stays open, idle
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := get(c); err != nil {
		t.Fatalf("/healthz with %d idle connections: %v", idle, err)
	}
	// Evicted connections are seen closed by the server shortly after.
	deadline := time.Now().Add(time.Minute)
	for {
		n := <-counted
		counted <- n
		if n <= limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, limit %d", n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("server without read/idle timeouts or header bound: %+v", srv)
	}
}

// TestSlowBodyIsCutOff: a client that announces a 6 MB Invoke body and
// stops sending does not hold its connection (and the body read so far)
// past the server's ReadTimeout, here shortened from its 60 s.
func TestSlowBodyIsCutOff(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	s := gateway.NewServer()
	if err := s.Deploy(gateway.Deployment{Functions: map[string]*adapter.Function{"hello": hello}}); err != nil {
		t.Fatal(err)
	}
	srv := gateway.NewHTTPServer(s)
	srv.ReadTimeout = time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(gateway.LimitConns(ln, 64, srv))
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: ferry\r\nContent-Length: 6000000\r\n\r\n%s", strings.Repeat(" ", 1024))
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a bound for a hang, far above the timeout
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still holds the slow request after a minute: %q", b)
	}
	if len(b) > 0 && !strings.Contains(string(b), "400") {
		t.Errorf("answer to a body cut off: %q", b)
	}
}
