package events

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// corsServer answers preflights through c and everything else like a
// function that sets its own (to be ignored) CORS headers, with c.Apply
// run on the final headers.
func corsServer(t *testing.T, c *CORS) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Preflight(w, r) {
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
		w.Header().Set("access-control-allow-methods", "TRACE")
		w.Header().Set("X-Function", "yes")
		c.Apply(w.Header(), r)
		_, _ = io.WriteString(w, "function ran")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func corsDo(t *testing.T, srv *httptest.Server, method string, header http.Header) (*http.Response, string) {
	t.Helper()
	r, err := http.NewRequest(method, srv.URL+"/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header = header
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestCORSPreflight(t *testing.T) {
	c := &CORS{
		AllowOrigins:     []string{"https://app.example", "http://localhost:3000"},
		AllowMethods:     []string{"GET", "POST"},
		AllowHeaders:     []string{"content-type", "x-api-key"},
		ExposeHeaders:    []string{"x-request-id"},
		MaxAge:           300,
		AllowCredentials: true,
	}
	srv := corsServer(t, c)

	resp, body := corsDo(t, srv, http.MethodOptions, http.Header{
		"Origin":                         {"https://app.example"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type"},
	})
	httpEq(t, "status", resp.StatusCode, http.StatusNoContent)
	httpEq(t, "body", body, "")
	httpEq(t, "Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://app.example")
	httpEq(t, "Allow-Methods", resp.Header.Get("Access-Control-Allow-Methods"), "GET,POST")
	httpEq(t, "Allow-Headers", resp.Header.Get("Access-Control-Allow-Headers"), "content-type,x-api-key")
	httpEq(t, "Max-Age", resp.Header.Get("Access-Control-Max-Age"), "300")
	httpEq(t, "Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
	httpEq(t, "Vary", resp.Header.Get("Vary"), "Origin")
	httpEq(t, "Expose-Headers on preflight", resp.Header.Get("Access-Control-Expose-Headers"), "")

	// An origin that is not allowed gets the 204 but no permission.
	resp, _ = corsDo(t, srv, http.MethodOptions, http.Header{
		"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"},
	})
	httpEq(t, "other origin status", resp.StatusCode, http.StatusNoContent)
	for k := range resp.Header {
		if len(k) > 15 && k[:15] == "Access-Control-" {
			t.Errorf("other origin got %s", k)
		}
	}

	// OPTIONS that is not a preflight goes to the function.
	resp, body = corsDo(t, srv, http.MethodOptions, http.Header{"Origin": {"https://app.example"}})
	httpEq(t, "plain OPTIONS status", resp.StatusCode, http.StatusOK)
	httpEq(t, "plain OPTIONS body", body, "function ran")
}

func TestCORSPreflightWildcards(t *testing.T) {
	srv := corsServer(t, &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}})
	resp, _ := corsDo(t, srv, http.MethodOptions, http.Header{
		"Origin":                         {"https://anyone.example"},
		"Access-Control-Request-Method":  {"DELETE"},
		"Access-Control-Request-Headers": {"authorization,x-custom"},
	})
	httpEq(t, "status", resp.StatusCode, http.StatusNoContent)
	httpEq(t, "Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "*")
	httpEq(t, "Allow-Methods", resp.Header.Get("Access-Control-Allow-Methods"), "DELETE")
	httpEq(t, "Allow-Headers", resp.Header.Get("Access-Control-Allow-Headers"), "authorization,x-custom")
	httpEq(t, "Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "")
	httpEq(t, "Max-Age", resp.Header.Get("Access-Control-Max-Age"), "")

	// With credentials, "*" can only be honoured by naming the origin.
	srv = corsServer(t, &CORS{AllowOrigins: []string{"*"}, AllowCredentials: true})
	resp, _ = corsDo(t, srv, http.MethodOptions, http.Header{
		"Origin": {"https://anyone.example"}, "Access-Control-Request-Method": {"GET"},
	})
	httpEq(t, "credentials Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://anyone.example")
	httpEq(t, "credentials Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
}

func TestCORSApply(t *testing.T) {
	c := &CORS{
		AllowOrigins:     []string{"https://app.example"},
		AllowMethods:     []string{"GET"},
		ExposeHeaders:    []string{"x-request-id", "date"},
		AllowCredentials: true,
	}
	srv := corsServer(t, c)

	resp, body := corsDo(t, srv, http.MethodGet, http.Header{"Origin": {"https://app.example"}})
	httpEq(t, "body", body, "function ran")
	httpEq(t, "X-Function", resp.Header.Get("X-Function"), "yes")
	httpEq(t, "Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://app.example")
	httpEq(t, "Allow-Credentials", resp.Header.Get("Access-Control-Allow-Credentials"), "true")
	httpEq(t, "Expose-Headers", resp.Header.Get("Access-Control-Expose-Headers"), "x-request-id,date")
	httpEq(t, "function's Allow-Methods", resp.Header.Get("Access-Control-Allow-Methods"), "")

	// Other or no origin: the function's CORS headers are still dropped.
	for _, h := range []http.Header{{"Origin": {"https://evil.example"}}, {}} {
		resp, _ = corsDo(t, srv, http.MethodGet, h)
		httpEq(t, "no permission Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "")
		httpEq(t, "no permission Allow-Methods", resp.Header.Get("Access-Control-Allow-Methods"), "")
		httpEq(t, "no permission X-Function", resp.Header.Get("X-Function"), "yes")
	}

	// Without CORS configured nothing changes.
	var none *CORS
	srv = corsServer(t, none)
	resp, body = corsDo(t, srv, http.MethodOptions, http.Header{
		"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"GET"},
	})
	httpEq(t, "nil CORS body", body, "function ran")
	httpEq(t, "nil CORS Allow-Origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://evil.example")
}
