// Command fetch is a Lambda handler that calls another service with
// net/http, unchanged from what runs on AWS: http.Get for a plain GET, or
// http.DefaultClient for other methods. Under ferry the request goes out
// through the host, and only to the hosts in the function's
// allowedOutboundHosts.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

// Request says what to fetch. Repeat > 1 fetches the URL that many times
// (for benchmarks) and answers with the last response.
type Request struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Body    string            `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Repeat  int               `json:"repeat,omitempty"`
	// TimeoutMs > 0 uses a client with that Timeout.
	TimeoutMs int `json:"timeoutMs,omitempty"`
}

// Response is what came back.
type Response struct {
	Status      int               `json:"status"`
	ContentType string            `json:"contentType"`
	Length      int               `json:"length"`
	Body        string            `json:"body"`
	Trailer     map[string]string `json:"trailer,omitempty"`
}

func handler(ctx context.Context, req Request) (*Response, error) {
	var out *Response
	for i := 0; i < max(req.Repeat, 1); i++ {
		var err error
		if out, err = fetch(ctx, req); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fetch(ctx context.Context, req Request) (*Response, error) {
	var resp *http.Response
	var err error
	switch {
	case req.TimeoutMs > 0:
		c := &http.Client{Timeout: time.Duration(req.TimeoutMs) * time.Millisecond}
		resp, err = c.Get(req.URL)
	case req.Method == "" && req.Body == "" && len(req.Headers) == 0:
		resp, err = http.Get(req.URL)
	default:
		var hreq *http.Request
		hreq, err = http.NewRequestWithContext(ctx, req.Method, req.URL, strings.NewReader(req.Body))
		if err != nil {
			return nil, err
		}
		for k, v := range req.Headers {
			if http.CanonicalHeaderKey(k) == "Host" {
				hreq.Host = v // as curl -H 'Host: …' does
				continue
			}
			hreq.Header.Set(k, v)
		}
		resp, err = http.DefaultClient.Do(hreq)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the body of %s: %w", req.URL, err)
	}
	out := &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Length: len(body), Body: string(body)}
	for k := range resp.Trailer {
		if out.Trailer == nil {
			out.Trailer = map[string]string{}
		}
		out.Trailer[k] = resp.Trailer.Get(k)
	}
	return out, nil
}

func main() {
	lambda.Start(handler)
}
