package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/gateway"
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
