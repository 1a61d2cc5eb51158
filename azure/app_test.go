package azure_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/azure"
)

const sampleApp = "../samples/azure-app"

// writeApp writes an app folder: host.json and function folders.
func writeApp(t *testing.T, host string, functions map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, fj := range functions {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(fj), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const customHost = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}}}`

func TestLoadSample(t *testing.T) {
	app, err := azure.Load(sampleApp, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if app.RoutePrefix != "api" || app.MaxDequeueCount != 5 || app.ForwardHTTP || len(app.Functions) != 3 {
		t.Fatalf("%+v", app)
	}
	h := app.Functions[0]
	if h.Name != "HttpExample" || h.Trigger.AuthLevel != "function" || h.HTTPOnly() || h.HTTPOutput() != "res" ||
		strings.Join(h.Trigger.Methods, ",") != "GET,POST" {
		t.Errorf("HttpExample: %+v", h)
	}
	if q := app.Functions[1]; q.Trigger.QueueName != "outqueue" {
		t.Errorf("QueueExample: %+v", q)
	}
	if tm := app.Functions[2]; tm.Schedule == nil || tm.Schedule.String() != "0 */5 * * * *" {
		t.Errorf("TimerExample: %+v", tm)
	}
}

func TestLoadTimeZone(t *testing.T) {
	env := map[string]string{"WEBSITE_TIME_ZONE": "Asia/Tokyo"}
	app, err := azure.Load(sampleApp, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tm := app.Functions[2].Schedule
	if tm.Location().String() != "Asia/Tokyo" {
		t.Fatalf("location %v", tm.Location())
	}
	env["WEBSITE_TIME_ZONE"] = "Eastern Standard Time" // a Windows name: Linux plans take IANA names
	if _, err := azure.Load(sampleApp, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "WEBSITE_TIME_ZONE") {
		t.Errorf("Windows zone name: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	env := map[string]string{"Q": "Bad_Name"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		host string
		fns  map[string]string
		want string
	}{
		{customHost, map[string]string{"Blob": `{"bindings":[{"type":"blobTrigger","direction":"in","name":"b","path":"c/{name}"}]}`}, "not supported yet: blobTrigger"},
		{customHost, map[string]string{"Out": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"cosmosDB","direction":"out","name":"doc"}]}`}, "not supported yet: output binding cosmosDB"},
		{customHost, map[string]string{"Two": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"a"},{"type":"timerTrigger","direction":"in","name":"b","schedule":"0 * * * * *"}]}`}, "want exactly one trigger binding, got 2"},
		{customHost, map[string]string{"T": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"*/5 * * * *"}]}`}, "want 6 fields"},
		{customHost, map[string]string{"Q": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"m","queueName":"%Q%"}]}`}, `queueName "Bad_Name"`},
		{customHost, map[string]string{"H": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"r","authLevel":"system"}]}`}, `authLevel "system"`},
		{customHost, map[string]string{"J": `{"bindings":[`}, "function.json"},
		{`{"version":"2.0"}`, map[string]string{"H": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"r"}]}`}, "no customHandler section"},
		{`{"version":"2.0","customHandler":{},"extensions":{"queues":{"visibilityTimeout":"soon"}}}`, nil, "visibilityTimeout"},
		{customHost, nil, "no functions"},
	}
	for _, tt := range tests {
		_, err := azure.Load(writeApp(t, tt.host, tt.fns), getenv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want it to say %q", err, tt.want)
		}
	}
	if _, err := azure.Load(t.TempDir(), getenv); err == nil || !strings.Contains(err.Error(), "not an Azure Functions app folder") {
		t.Errorf("no host.json: %v", err)
	}
	// Disabled functions are left out.
	dir := writeApp(t, customHost, map[string]string{
		"A": `{"disabled":true,"bindings":[{"type":"httpTrigger","direction":"in","name":"r"}]}`,
		"B": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"r"}]}`,
		"C": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"r"}]}`,
	})
	env["AzureWebJobs.C.Disabled"] = "true"
	app, err := azure.Load(dir, getenv)
	if err != nil || len(app.Functions) != 1 || app.Functions[0].Name != "B" {
		t.Errorf("disabled: %+v %v", app, err)
	}
}
