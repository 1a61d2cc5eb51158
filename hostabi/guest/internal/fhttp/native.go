//go:build !wasip1

package fhttp

import "net/http"

// Transport is net/http's default transport outside WebAssembly.
var Transport http.RoundTripper = http.DefaultTransport

var client = http.DefaultClient

// Install does nothing outside WebAssembly.
func Install() {}
