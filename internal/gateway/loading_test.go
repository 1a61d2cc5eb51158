package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestDeployLoading serves functions as they load: a loaded one answers at
// once, a request for one still loading (by the Invoke API or by its
// route) waits and is answered once it is deployed, one whose timeout
// passes first gets 503 with Retry-After (a ServiceException on the
// Invoke API), an unknown function is a 404 without waiting, and /readyz
// is 503 until everything is deployed.
func TestDeployLoading(t *testing.T) {
	hello := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello"})
	api := sampletest.Load(t, "../../samples/http-api", adapter.Config{Name: "http-api"})
	apiRoute := gateway.Route{Function: "http-api", Path: "/items/{proxy+}", HTTP: events.HTTPRoute{Format: events.FormatHTTPAPI}}
	srv := gateway.NewServer()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	do := func(method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	invoke := "/2015-03-31/functions/%s/invocations"
	pending := map[string]time.Duration{"http-api": 10 * time.Minute, "slow": 100 * time.Millisecond}
	if err := srv.DeployLoading(gateway.Deployment{Functions: map[string]*adapter.Function{"hello": hello}}, pending); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do("GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Fatalf("/readyz while loading: %d", resp.StatusCode)
	}
	if resp, body := do("POST", strings.Replace(invoke, "%s", "hello", 1), `"Ada"`); resp.StatusCode != 200 || body != `"Hello Ada!"` {
		t.Fatalf("a loaded function: %d %s", resp.StatusCode, body)
	}
	if resp, body := do("POST", strings.Replace(invoke, "%s", "nope", 1), `{}`); resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("an unknown function: %d %s", resp.StatusCode, body)
	}
	resp, body := do("POST", strings.Replace(invoke, "%s", "slow", 1), `{}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Amzn-ErrorType") != "ServiceException" || !strings.Contains(body, "slow") {
		t.Fatalf("past a pending function's timeout: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	type answer struct {
		status int
		body   string
	}
	byAPI, byRoute := make(chan answer, 1), make(chan answer, 1)
	go func() {
		resp, body := do("POST", strings.Replace(invoke, "%s", "http-api", 1), `{"rawPath":"/x","requestContext":{"http":{"method":"GET"}}}`)
		byAPI <- answer{resp.StatusCode, body}
	}()
	go func() {
		resp, body := do("GET", "/items/42?name=ferry", "")
		byRoute <- answer{resp.StatusCode, body}
	}()
	time.Sleep(200 * time.Millisecond) // let them reach the server: they must wait, not fail
	select {
	case a := <-byAPI:
		t.Fatalf("the Invoke API answered before http-api was deployed: %+v", a)
	case a := <-byRoute:
		t.Fatalf("the route answered before http-api was deployed: %+v", a)
	default:
	}
	if err := srv.Deploy(gateway.Deployment{Functions: map[string]*adapter.Function{"hello": hello, "http-api": api}, Routes: []gateway.Route{apiRoute}}); err != nil {
		t.Fatal(err)
	}
	if a := <-byAPI; a.status != 200 || !strings.Contains(a.body, `"statusCode":200`) {
		t.Errorf("the waiting Invoke API request: %+v", a)
	}
	if a := <-byRoute; a.status != 200 || !strings.Contains(a.body, `"greeting":"hello, ferry"`) {
		t.Errorf("the waiting route request: %+v", a)
	}
	if resp, _ := do("GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Fatalf("/readyz once deployed: %d", resp.StatusCode)
	}
	if resp, _ := do("GET", "/nothing/here", ""); resp.StatusCode != 404 {
		t.Fatalf("an unknown path once loaded: %d", resp.StatusCode)
	}
}
