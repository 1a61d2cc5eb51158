// Package fhttp is the guest side of ferry's outbound HTTP imports
// (hostabi/ABI.md, "Outbound HTTP"): an http.RoundTripper whose requests
// the host sends, within the function's allowedOutboundHosts and the
// invocation's deadline. The guest SDKs (lambda, and azfunc) install it as
// http.DefaultTransport when built for wasip1; outside WebAssembly this
// package offers net/http's own transport, so native builds are unchanged.
package fhttp

import "net/http"

// Client is an http.Client over Transport, for libraries that want a
// client of their own (aws-sdk-go-v2's config.WithHTTPClient).
func Client() *http.Client { return client }
