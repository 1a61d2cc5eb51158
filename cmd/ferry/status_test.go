package main

import (
	"bytes"
	"testing"
)

// TestStatusLine: on a terminal, the live status line is erased before
// each line written and drawn again after it; Set("") erases it. On
// anything else (a file, a pipe, a test's buffer) writes pass through and
// the status is never shown.
func TestStatusLine(t *testing.T) {
	var term bytes.Buffer
	s := &statusLine{w: &term, tty: true}
	s.Set("ferry: 0/2 ready, building hello (1 s)")
	s.Write([]byte("ferry: building hello… 14.7 MB in 3.5 s\n"))
	s.Set("")
	s.Write([]byte("ferry: ready\n"))
	want := "\r\x1b[Kferry: 0/2 ready, building hello (1 s)" +
		"\r\x1b[Kferry: building hello… 14.7 MB in 3.5 s\nferry: 0/2 ready, building hello (1 s)" +
		"\r\x1b[K" +
		"ferry: ready\n"
	if term.String() != want {
		t.Errorf("terminal got %q\nwant %q", term.String(), want)
	}

	var pipe bytes.Buffer
	p := newStatusLine(&pipe)
	p.Set("ferry: 0/2 ready")
	p.Write([]byte("ferry: ready\n"))
	if pipe.String() != "ferry: ready\n" {
		t.Errorf("not a terminal: %q", pipe.String())
	}
}
