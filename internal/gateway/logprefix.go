package gateway

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/ferrywasm/ferry/adapter"
)

// functionLog is the log sink of one function among several sharing w:
// Lambda's START/END/REPORT lines and the handler's output do not say
// which function they belong to (CloudWatch keeps one log group per
// function), so in Text format each line is prefixed "[name] ", and in
// JSON format each record gets a "function" field. Each write (one
// invocation's log) is one write to w, so records do not interleave.
func functionLog(w io.Writer, name string, format adapter.LogFormat) io.Writer {
	if w == nil || w == io.Discard {
		return w
	}
	quoted, _ := json.Marshal(name)
	return &prefixWriter{w: w, text: []byte("[" + name + "] "), field: append(append([]byte(`"function":`), quoted...), ','), json: format == adapter.LogJSON}
}

type prefixWriter struct {
	w     io.Writer
	text  []byte // "[name] "
	field []byte // "function":"name",
	json  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	out := make([]byte, 0, len(b)+16*len(p.text))
	for line := range bytes.Lines(b) {
		if p.json && len(line) > 1 && line[0] == '{' {
			out = append(out, '{')
			if line[1] == '}' { // {} has no field to put a comma before
				out = append(out, p.field[:len(p.field)-1]...)
			} else {
				out = append(out, p.field...)
			}
			out = append(out, line[1:]...)
			continue
		}
		out = append(out, p.text...)
		out = append(out, line...)
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
