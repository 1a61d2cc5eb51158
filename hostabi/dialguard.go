package hostabi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// An allowedOutboundHosts entry with a wildcard host (*, *.example.com)
// lets a function reach names, not the machines behind them: a name may
// resolve (or be re-pointed by DNS rebinding, between one lookup and the
// next) to the host itself, the cloud's metadata service or the cluster's
// private network. So connections made for a request that only a
// wildcard allowed are checked when they are dialled, on the address
// actually connected to, and refused when it is in one of the ranges
// below. An entry that names the host (example.com, localhost, an IP
// address) is explicit: whoever wrote it chose that host, whatever it
// resolves to, so its connections are not checked.

// restrictedPrefixes are the ranges a wildcard entry never reaches, with
// what they are.
var restrictedPrefixes = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"}, // Alibaba's metadata service is 100.100.100.200
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (the cloud metadata service lives here)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/3"), "a multicast or reserved address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"}, // AWS's IPv6 metadata service is fd00:ec2::254
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// restricted says what ip is when a wildcard entry may not reach it, or
// "" when it may. IPv4 addresses mapped into IPv6 (::ffff:127.0.0.1) and
// embedded in NAT64 (64:ff9b::7f00:1) are checked as IPv4, and a zone
// (fe80::1%eth0) is ignored.
func restricted(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("") // Prefix.Contains is false for any zoned address
	if ip.Is6() {
		if b := ip.As16(); netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			ip = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	for _, r := range restrictedPrefixes {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	return ""
}

// DialRefusedError is the error of a connection refused because it would
// reach a restricted address through a wildcard entry.
type DialRefusedError struct {
	Addr netip.Addr
	What string
}

func (e *DialRefusedError) Error() string {
	return fmt.Sprintf("ferry: %s is %s, reached only through an allowedOutboundHosts entry that names it (not a wildcard)", e.Addr, e.What)
}

// checkAddr refuses a connection to address (ip:port) in a restricted
// range.
func checkAddr(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("ferry: cannot check the address %q", address)
	}
	if what := restricted(ap.Addr()); what != "" {
		return &DialRefusedError{Addr: ap.Addr().Unmap(), What: what}
	}
	return nil
}

// plainDialer is net/http's default transport's dialer.
var plainDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// guardDialer is plainDialer checking each address it connects to (after
// resolution, before connecting) with checkAddr.
var guardDialer = &net.Dialer{
	Timeout:   30 * time.Second,
	KeepAlive: 30 * time.Second,
	Control: func(_, address string, _ syscall.RawConn) error {
		return checkAddr(address)
	},
}

// guarded returns a transport like base whose connections are checked
// with checkAddr: DefaultTransport's dialer is swapped for guardDialer,
// which checks the address before connecting; another base's dialers are
// wrapped so that the connected address is checked before anything is
// sent. A proxy from the
// environment (HTTP_PROXY, HTTPS_PROXY) is dialled unchecked: requests
// through it reach what the proxy lets them. A base that is not an
// *http.Transport cannot be guarded and is returned as it is (a transport
// given with adapter.WithOutboundTransport then does its own checks).
func guarded(base http.RoundTripper) http.RoundTripper {
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	g := t.Clone()
	proxies := proxyAddrs()
	plain, dial := t.DialContext, checkConn(t.DialContext)
	if base == DefaultTransport || plain == nil {
		plain, dial = plainDialer.DialContext, guardDialer.DialContext
	}
	g.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if proxies[addr] {
			return plain(ctx, network, addr)
		}
		return dial(ctx, network, addr)
	}
	if t.DialTLSContext != nil {
		g.DialTLSContext = checkConn(t.DialTLSContext)
	}
	return g
}

// checkConn wraps a dial function to refuse (closing it before use) a
// connection whose remote address is restricted.
func checkConn(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := checkAddr(c.RemoteAddr().String()); err != nil {
			c.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: c.RemoteAddr(), Err: err}
		}
		return c, nil
	}
}

// proxyAddrs are the host:port of the proxies the environment names.
func proxyAddrs() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		if !strings.Contains(v, "://") {
			v = "http://" + v
		}
		u, err := url.Parse(v)
		if err != nil || u.Hostname() == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "socks5": "1080"}[u.Scheme]
			if port == "" {
				port = "80"
			}
		}
		m[net.JoinHostPort(u.Hostname(), port)] = true
	}
	return m
}
