package azurehost

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

func TestRouteTemplates(t *testing.T) {
	h := &Host{app: &azure.App{RoutePrefix: "api"}}
	for route, want := range map[string]string{
		"":                          "/api/F",
		"products/{id:int}":         "/api/products/{id:-?[0-9]+}",
		"files/{*path}":             "/api/files/{path:.*}",
		"items/{category}/{id?}":    "/api/items/{category:[^/]+}/{id:[^/]+} /api/items/{category:[^/]+}",
		"/lead/{name:alpha}/detail": "/api/lead/{name:[A-Za-z]+}/detail",
	} {
		got := strings.Join(h.templates(&azure.FunctionDef{Name: "F", Trigger: azure.Binding{Route: route}}), " ")
		if got != want {
			t.Errorf("%q: %s, want %s", route, got, want)
		}
	}
	h.app.RoutePrefix = ""
	if got := h.templates(&azure.FunctionDef{Name: "F"}); got[0] != "/F" {
		t.Errorf("no prefix: %v", got)
	}
}

// TestForwardingMode: with enableForwardingHttpRequest, an HTTP-only
// function gets the client's request at its own path, and its response
// is the client's, status and headers included.
func TestForwardingMode(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"host.json":           `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true}}`,
		"hello/function.json": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get","post"]},{"type":"http","direction":"out","name":"res"}]}`,
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app, err := azure.Load(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	fn := sampletest.Load(t, sampleApp, FunctionConfig(app, nil))
	recs := newRecords()
	host, err := NewHost(app, fn, Options{Observe: recs.observe})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(context.Background())
	fx := &fixture{srv: httptestServer(t, host.Handler())}
	resp, body := fx.do(t, "GET", "/api/hello?name=Ada", nil, http.Header{"X-Test": {"1"}})
	if resp.StatusCode != 200 || string(body) != "Hello, Ada. This HTTP triggered function executed successfully." {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	rec := recs.wait(t, "hello", 1)[0]
	if rec.Request.Method != "GET" || rec.Request.URL != "/api/hello?name=Ada" || rec.Request.Header["X-Test"][0] != "1" {
		t.Errorf("forwarded request: %+v", rec.Request)
	}
	if got := resp.Header.Get("X-Invocation"); got != rec.InvocationID {
		t.Errorf("X-Azure-Functions-InvocationId seen by the handler: %q, want %q", got, rec.InvocationID)
	}
	// A non-2xx answer is the client's answer.
	resp, body = fx.do(t, "POST", "/api/hello", nil, nil)
	if resp.StatusCode != 400 || string(body) != "Pass a name in the query string." {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	// POST only from "methods".
	if resp, _ := fx.do(t, "PUT", "/api/hello?name=x", nil, nil); resp.StatusCode != 404 {
		t.Errorf("PUT: %d", resp.StatusCode)
	}
}
