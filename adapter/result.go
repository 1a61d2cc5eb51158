package adapter

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Result is the outcome of one invocation.
type Result struct {
	RequestID string
	// Payload is the function's response, or when ErrorType is set, the
	// error document {"errorMessage","errorType","stackTrace"}.
	Payload []byte
	// ErrorType is empty on success, else the error document's errorType.
	// Every function error is reported to Invoke API callers as
	// X-Amz-Function-Error: Unhandled, as Lambda does today.
	ErrorType string
	// Logs is the invocation's log in the function's log format: init
	// output on a cold start, START, the function's output, END, REPORT.
	Logs []byte
	// Duration is the time spent in the handler; InitDuration is non-zero
	// on the first invocation of an instance (a cold start).
	Duration     time.Duration
	InitDuration time.Duration
	// MaxMemoryUsedMB is the size of the instance's linear memory.
	MaxMemoryUsedMB int
}

// Failed says whether the invocation ended in a function error.
func (r *Result) Failed() bool { return r.ErrorType != "" }

// Error types and messages of the failures the host itself detects, as
// Lambda words them.
const (
	errTimeout      = "Sandbox.Timedout"
	errExit         = "Runtime.ExitError"
	errOutOfMemory  = "Runtime.OutOfMemory"
	errTooLarge     = "Function.ResponseSizeTooLarge"
	errNoResponse   = "Runtime.InvalidResponse"
	msgTooLarge     = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
	msgOutOfMemory  = "Runtime exited with error: signal: killed"
	timeoutLogLine  = "Task timed out after %.2f seconds"
	maxLogBytes     = 4 << 20
	truncatedNotice = "\n[ferry: log truncated at 4 MiB]\n"
)

func errorDocument(errorType, message string) []byte {
	b, _ := json.Marshal(&messages.InvokeResponse_Error{Type: errorType, Message: message})
	return b
}

// errorTypeOf returns the errorType of a guest's error document, or
// Runtime.Unknown where it has none, as Lambda's Runtime API does.
func errorTypeOf(doc []byte) string {
	var e struct {
		Type string `json:"errorType"`
	}
	if json.Unmarshal(doc, &e) != nil || e.Type == "" {
		return "Runtime.Unknown"
	}
	return e.Type
}

// logBuffer collects an instance's output for the invocation in progress,
// up to maxLogBytes: a guest printing without end must not exhaust the
// host.
type logBuffer struct {
	bytes.Buffer
	truncated bool
}

func (l *logBuffer) Write(p []byte) (int, error) {
	if room := maxLogBytes - l.Len(); len(p) > room {
		if room > 0 {
			l.Buffer.Write(p[:room])
		}
		l.truncated = true
		return len(p), nil
	}
	return l.Buffer.Write(p)
}

func (l *logBuffer) reset() { l.Buffer.Reset(); l.truncated = false }

// report is what the platform log lines say about an invocation.
type report struct {
	requestID    string
	memorySize   int
	duration     time.Duration
	initDuration time.Duration
	maxMemoryMB  int
	status       string // success, error, timeout
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeLog renders an invocation's log block in Lambda's text or JSON
// format around the function's own output.
func writeLog(w *bytes.Buffer, format LogFormat, r *report, initOut, out []byte, start time.Time) {
	billed := int64(math.Ceil(ms(r.duration)))
	if format == LogJSON {
		writeJSONLines(w, r.requestID, initOut, start)
		platform(w, start, "platform.start", map[string]any{"requestId": r.requestID, "version": "$LATEST"})
		writeJSONLines(w, r.requestID, out, start)
		metrics := map[string]any{
			"durationMs":       ms(r.duration),
			"billedDurationMs": billed,
			"memorySizeMB":     r.memorySize,
			"maxMemoryUsedMB":  r.maxMemoryMB,
		}
		if r.initDuration > 0 {
			metrics["initDurationMs"] = ms(r.initDuration)
		}
		platform(w, start.Add(r.duration), "platform.report", map[string]any{"requestId": r.requestID, "metrics": metrics, "status": r.status})
		return
	}
	// Appended by hand, not with fmt: this runs once per invocation and
	// was a third of the host's share of a warm one.
	b := w.AvailableBuffer()
	b = append(b, initOut...)
	b = append(b, "START RequestId: "...)
	b = append(b, r.requestID...)
	b = append(b, " Version: $LATEST\n"...)
	b = append(b, out...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, "END RequestId: "...)
	b = append(b, r.requestID...)
	b = append(b, "\nREPORT RequestId: "...)
	b = append(b, r.requestID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, ms(r.duration), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, billed, 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.memorySize), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(r.maxMemoryMB), 10)
	b = append(b, " MB\t"...)
	if r.initDuration > 0 {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, ms(r.initDuration), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	b = append(b, '\n')
	w.Write(b)
}

func platform(w *bytes.Buffer, t time.Time, typ string, record map[string]any) {
	b, _ := json.Marshal(map[string]any{"time": t.UTC().Format(time.RFC3339Nano), "type": typ, "record": record})
	w.Write(b)
	w.WriteByte('\n')
}

// writeJSONLines writes each line of the function's output as an
// application log record; lines that already are JSON objects pass through,
// as Lambda does for structured logs.
func writeJSONLines(w *bytes.Buffer, requestID string, out []byte, t time.Time) {
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '{' && json.Valid(line) {
			w.Write(line)
		} else {
			b, _ := json.Marshal(map[string]string{
				"timestamp": t.UTC().Format(time.RFC3339Nano),
				"level":     "INFO",
				"message":   string(line),
				"requestId": requestID,
			})
			w.Write(b)
		}
		w.WriteByte('\n')
	}
}
