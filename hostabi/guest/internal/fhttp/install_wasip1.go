//go:build wasip1 && !ferry.nodefaulttransport

package fhttp

// Outbound HTTP goes through the host (hostabi/ABI.md): installed before
// main runs, so a handler's http.Get, http.DefaultClient and clients built
// on http.DefaultTransport work unchanged.
//
// ferry build sets ferry.nodefaulttransport when nothing in the program
// can send a request through a transport net/http made (it builds with the
// tag first and looks for net/http's Transport.RoundTrip in the module):
// not referring to http.DefaultTransport here then keeps net/http's client
// and crypto/tls out of the module (2.5 MB of hello's 8.7 MB;
// internal/gobuild, BENCHMARKS.md "Module weight").
func init() { Install() }
