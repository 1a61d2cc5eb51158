package events

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS is an HTTP API's CORS configuration. As on an HTTP API, once it is
// configured the gateway answers preflight requests itself (no OPTIONS
// route needed) and owns the Access-Control-* headers of every response:
// those a function returns are dropped.
type CORS struct {
	// AllowOrigins are exact origins ("https://www.example.com") or "*".
	AllowOrigins []string
	// AllowMethods and AllowHeaders answer preflights; "*" allows any.
	AllowMethods, AllowHeaders []string
	// ExposeHeaders are the response headers scripts may read.
	ExposeHeaders []string
	// MaxAge is how many seconds browsers may cache a preflight; 0 sends
	// no Access-Control-Max-Age.
	MaxAge           int
	AllowCredentials bool
}

// Preflight answers an OPTIONS preflight request (one with Origin and
// Access-Control-Request-Method) with 204 and reports whether it did; the
// caller routes anything else as usual. A preflight from an origin that is
// not allowed still gets its 204, without CORS headers, so the browser
// refuses the actual request.
func (c *CORS) Preflight(w http.ResponseWriter, r *http.Request) bool {
	if c == nil || r.Method != http.MethodOptions {
		return false
	}
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	if r.Header.Get("Origin") == "" || reqMethod == "" {
		return false
	}
	h := w.Header()
	if c.allowOrigin(h, r) {
		if v := c.listOrEcho(c.AllowMethods, reqMethod); v != "" {
			h.Set("Access-Control-Allow-Methods", v)
		}
		reqHeaders := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ",")
		if v := c.listOrEcho(c.AllowHeaders, reqHeaders); v != "" {
			h.Set("Access-Control-Allow-Headers", v)
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// Apply sets the CORS headers of an actual (non-preflight) request's
// response in h, replacing any Access-Control-* headers already there. It
// must run on the final header set, after the function's headers are in
// (for instance from a ResponseWriter wrapper's WriteHeader), since HTTP
// APIs ignore the CORS headers a function returns.
func (c *CORS) Apply(h http.Header, r *http.Request) {
	if c == nil {
		return
	}
	for k := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Access-Control-") {
			delete(h, k)
		}
	}
	if r.Header.Get("Origin") == "" {
		return
	}
	if c.allowOrigin(h, r) && len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
}

// allowOrigin sets Access-Control-Allow-Origin (and -Credentials) when the
// request's Origin is allowed, and reports whether it is. "*" is sent as
// "*" unless credentials are allowed, which browsers only accept with the
// origin named.
func (c *CORS) allowOrigin(h http.Header, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	wildcard, allowed := false, false
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			wildcard = true
		case strings.EqualFold(strings.TrimSuffix(o, "/"), origin):
			allowed = true
		}
	}
	switch {
	case allowed || wildcard && c.AllowCredentials:
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	case wildcard:
		h.Set("Access-Control-Allow-Origin", "*")
	default:
		return false
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	return true
}

// listOrEcho joins a configured list; a "*" in it echoes what the browser
// asked for, which means the same as "*" but also works with credentials
// and for Authorization (which a literal "*" never covers).
func (c *CORS) listOrEcho(list []string, requested string) string {
	for _, v := range list {
		if v == "*" {
			if requested != "" {
				return requested
			}
			return "*"
		}
	}
	return strings.Join(list, ",")
}
