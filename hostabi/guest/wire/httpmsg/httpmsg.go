// Package httpmsg is the envelope an HTTP exchange travels in through the
// host ABI when the guest is an HTTP server (Azure Functions custom
// handlers, hostabi/guest/azfunc): the invocation payload is a Request,
// the response payload a Response, both JSON (see hostabi/ABI.md,
// "Azure Functions custom handlers").
//
// It is shared by the host and the Go guest SDK, so it imports only the
// standard library.
package httpmsg

// Request is an HTTP request as the Functions host sends it to a custom
// handler.
type Request struct {
	// Method is the HTTP method, e.g. POST.
	Method string `json:"method"`
	// URL is the request target: a path with an optional query
	// (/HttpExample, /api/HttpExample?name=x).
	URL string `json:"url"`
	// Header holds the request headers, canonical names, values in order.
	Header map[string][]string `json:"headers,omitempty"`
	// Body is the request body (base64 in JSON).
	Body []byte `json:"body,omitempty"`
}

// Response is the handler's HTTP response.
type Response struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Header holds the response headers.
	Header map[string][]string `json:"headers,omitempty"`
	// Body is the response body (base64 in JSON).
	Body []byte `json:"body,omitempty"`
}
