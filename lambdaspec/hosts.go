package lambdaspec

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// HostPattern is one entry of a function's allowedOutboundHosts:
// scheme://host[:port], where the scheme is http, https or *, the host a
// name, an IP address ([…] for IPv6), * (any host) or *.domain (any
// subdomain of domain, at any depth, not domain itself), and the port a
// number or *. Without a port, the scheme's default port is meant (80 for
// http, 443 for https; for *, whichever the request's scheme uses).
type HostPattern struct {
	Scheme string // "http", "https" or "*"
	Host   string // lower case; "*", "*.example.com", "example.com", "10.0.0.1", "::1"
	Port   string // digits, "*", or "" for the scheme's default
}

// ParseHostPattern parses one allowedOutboundHosts entry.
func ParseHostPattern(s string) (HostPattern, error) {
	var p HostPattern
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return p, fmt.Errorf("%q has no scheme: write scheme://host[:port], e.g. https://%s", s, s)
	}
	switch scheme = strings.ToLower(scheme); scheme {
	case "http", "https", "*":
	default:
		return p, fmt.Errorf("%q: scheme %q is not http, https or *", s, scheme)
	}
	p.Scheme = scheme
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@") {
		return p, fmt.Errorf("%q: only scheme://host[:port]; no path, query or user", s)
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return p, fmt.Errorf("%q: unclosed [ in an IPv6 address", s)
		}
		host, port = rest[1:end], rest[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return p, fmt.Errorf("%q: want :port after ]", s)
		}
		port = strings.TrimPrefix(port, ":")
		if net.ParseIP(host) == nil {
			return p, fmt.Errorf("%q: %q is not an IPv6 address", s, host)
		}
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		host, port = rest[:i], rest[i+1:]
	}
	if host == "" {
		return p, fmt.Errorf("%q has no host (use * for any host)", s)
	}
	host = strings.ToLower(host)
	if host != "*" {
		name := strings.TrimPrefix(host, "*.")
		if strings.Contains(name, "*") {
			return p, fmt.Errorf("%q: * may only be the whole host or its first label (*.example.com)", s)
		}
		if net.ParseIP(name) == nil && !validHostname(name) {
			return p, fmt.Errorf("%q: %q is not a host name", s, host)
		}
	}
	p.Host = host
	if port != "" && port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("%q: port %q is not a number from 1 to 65535 or *", s, port)
		}
		port = strconv.Itoa(n)
	}
	p.Port = port
	return p, nil
}

func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (p HostPattern) String() string {
	h := p.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if p.Port != "" {
		h += ":" + p.Port
	}
	return p.Scheme + "://" + h
}

// matches reports whether the pattern allows scheme://host:port (host in
// lower case, port explicit).
func (p HostPattern) matches(scheme, host, port string) bool {
	if p.Scheme != "*" && p.Scheme != scheme {
		return false
	}
	switch p.Port {
	case "*":
	case "":
		if port != defaultPort(scheme) {
			return false
		}
	default:
		if p.Port != port {
			return false
		}
	}
	switch {
	case p.Host == "*":
		return true
	case strings.HasPrefix(p.Host, "*."):
		return strings.HasSuffix(host, p.Host[1:])
	}
	return p.Host == host
}

// DefaultPort is the port a URL of scheme means when it names none.
func DefaultPort(scheme string) string { return defaultPort(scheme) }

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// HostPolicy is a function's allowedOutboundHosts. The zero value allows
// nothing, ferry's default.
type HostPolicy []HostPattern

// ParseHostPolicy parses every entry; the error names the first bad one.
func ParseHostPolicy(entries []string) (HostPolicy, error) {
	p := make(HostPolicy, 0, len(entries))
	for _, e := range entries {
		hp, err := ParseHostPattern(e)
		if err != nil {
			return nil, err
		}
		p = append(p, hp)
	}
	return p, nil
}

// Allows reports whether a request to u may go out. It also returns the
// origin (scheme://host:port) that was checked, which is what an entry
// that allows it would say.
func (p HostPolicy) Allows(u *url.URL) (bool, string) {
	allowed, _, origin := p.Match(u)
	return allowed, origin
}

// Explicit reports whether the pattern names its host (a name or an IP
// address) rather than matching a wildcard (*, *.example.com); see
// hostabi/dialguard.go for what that changes.
func (p HostPattern) Explicit() bool {
	return p.Host != "*" && !strings.HasPrefix(p.Host, "*.")
}

// Match is Allows, also saying whether an explicit entry allows u (see
// HostPattern.Explicit): hostabi then lets the request reach loopback,
// link-local and private addresses, which it refuses to wildcards.
func (p HostPolicy) Match(u *url.URL) (allowed, explicit bool, origin string) {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	origin = scheme + "://" + net.JoinHostPort(host, port)
	if port == defaultPort(scheme) {
		origin = scheme + "://" + strings.TrimSuffix(net.JoinHostPort(host, port), ":"+port)
	}
	if scheme != "http" && scheme != "https" {
		return false, false, origin
	}
	for _, hp := range p {
		if hp.matches(scheme, host, port) {
			allowed = true
			if hp.Explicit() {
				return true, true, origin
			}
		}
	}
	return allowed, false, origin
}
