package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

func TestDifferential(t *testing.T) {
	sampletest.Differential(t, handler, map[string][]byte{
		"ok":     []byte(`{"mode":"ok"}`),
		"wait":   []byte(`{"mode":"wait","ms":1}`),
		"error":  []byte(`{"mode":"error","field":"email"}`),
		"string": []byte(`{"mode":"string"}`),
		"nomode": []byte(`{}`),
	})
}

// TestFailures checks each way a function fails against Lambda's shape,
// and that the function serves the next invocation after each.
func TestFailures(t *testing.T) {
	// Only the timeout cases get a short timeout: the others must not
	// depend on how busy the machine is.
	short := sampletest.Load(t, ".", adapter.Config{Name: "errors", Timeout: time.Second, Concurrency: 1})
	long := sampletest.Load(t, ".", adapter.Config{Name: "errors", Timeout: time.Minute, Concurrency: 1})
	uuid := `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	cases := []struct {
		mode, errorType, message string // message is a regexp
		stackTrace               bool
		log                      string // a line the log must contain
	}{
		{"error", "ValidationError", `^invalid field: $`, false, `{"errorMessage":"invalid field: ","errorType":"ValidationError"}`},
		{"panic", "plainError", `^assignment to entry in nil map$`, true, `"label":"handler"`},
		{"sleep", "Sandbox.Timedout", `^RequestId: ` + uuid + ` Error: Task timed out after 1.00 seconds$`, false, `Task timed out after 1.00 seconds`},
		{"spin", "Sandbox.Timedout", `^RequestId: ` + uuid + ` Error: Task timed out after 1.00 seconds$`, false, `Task timed out after 1.00 seconds`},
		{"oom", "Runtime.OutOfMemory", `^RequestId: ` + uuid + ` Error: Runtime exited with error: signal: killed$`, false, `Max Memory Used: 12`},
		{"exit", "Runtime.ExitError", `^RequestId: ` + uuid + ` Error: Runtime exited with error: exit status 3$`, false, "exiting with status 3"},
		{"big", "Function.ResponseSizeTooLarge", `^Response payload size exceeded maximum allowed payload size \(6291556 bytes\)\.$`, false, "END RequestId"},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			f := long
			if c.errorType == "Sandbox.Timedout" {
				f = short
			}
			res, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"mode":"` + c.mode + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				ErrorMessage string            `json:"errorMessage"`
				ErrorType    string            `json:"errorType"`
				StackTrace   []json.RawMessage `json:"stackTrace"`
			}
			dec := json.NewDecoder(strings.NewReader(string(res.Payload)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("error document %s: %v", res.Payload, err)
			}
			if res.ErrorType != c.errorType || doc.ErrorType != c.errorType {
				t.Errorf("errorType = %q (result %q), want %q", doc.ErrorType, res.ErrorType, c.errorType)
			}
			if !regexp.MustCompile(c.message).MatchString(doc.ErrorMessage) {
				t.Errorf("errorMessage = %q, want %s", doc.ErrorMessage, c.message)
			}
			if (len(doc.StackTrace) > 0) != c.stackTrace {
				t.Errorf("stackTrace = %s, want present: %v", doc.StackTrace, c.stackTrace)
			}
			if !strings.Contains(string(res.Logs), c.log) || !strings.Contains(string(res.Logs), "REPORT RequestId: "+res.RequestID) {
				t.Errorf("log lacks %q or the REPORT line:\n%s", c.log, res.Logs)
			}
			next, err := f.Invoke(context.Background(), &adapter.Request{Payload: []byte(`{"mode":"ok"}`)})
			if err != nil || next.Failed() || string(next.Payload) != `{"ok":true}` {
				t.Fatalf("the invocation after %s: %v %s", c.mode, err, next.Payload)
			}
			if st := f.Stats(); st.Instances != 1 {
				t.Fatalf("instances after recovery = %d, want 1", st.Instances)
			}
		})
	}
}
