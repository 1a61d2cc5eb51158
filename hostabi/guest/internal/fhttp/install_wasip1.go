//go:build wasip1 && !ferry.nodefaulttransport

package fhttp

// Outbound HTTP goes through the host (hostabi/ABI.md): installed before
// main runs, so a handler's http.Get, http.DefaultClient and clients built
// on http.DefaultTransport work unchanged.
//
// ferry build sets ferry.nodefaulttransport when no package of the
// program but the SDK's own imports net/http: then nothing can send a
// request through http.DefaultTransport, and not referring to it here
// keeps net/http's client and crypto/tls out of the module (2.5 MB of
// hello's 8.7 MB; internal/gobuild, BENCHMARKS.md "Module weight").
func init() { Install() }
