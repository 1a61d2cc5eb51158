package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// TestFunctionLogJSON runs a real function with Lambda's JSON log format
// into functionLog: every record stays a JSON object and gains the
// function's name, platform records (start, report) included.
func TestFunctionLogJSON(t *testing.T) {
	var sink bytes.Buffer
	f := sampletest.Load(t, "../../samples/hello", adapter.Config{Name: "hello-json", LogFormat: adapter.LogJSON, LogSink: functionLog(&sink, "hello-json", adapter.LogJSON)})
	if res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`"Ada"`)}); err != nil || res.Failed() {
		t.Fatalf("%v %s", err, res.Payload)
	}
	types := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(sink.String()), "\n") {
		var rec struct {
			Function string `json:"function"`
			Type     string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q (%v)", line, err)
		}
		if rec.Function != "hello-json" {
			t.Errorf("record without its function: %s", line)
		}
		types[rec.Type] = true
	}
	if !types["platform.start"] || !types["platform.report"] {
		t.Errorf("want platform.start and platform.report records:\n%s", sink.String())
	}
	// Text: each line prefixed, one write per invocation's log.
	var text bytes.Buffer
	functionLog(&text, "hello", adapter.LogText).Write([]byte("START RequestId: 1 Version: $LATEST\nhi\nEND RequestId: 1\n"))
	if want := "[hello] START RequestId: 1 Version: $LATEST\n[hello] hi\n[hello] END RequestId: 1\n"; text.String() != want {
		t.Errorf("text: %q, want %q", text.String(), want)
	}
}
