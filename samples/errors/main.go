// Command errors fails in every way a Lambda function can, chosen by its
// event, so that each failure's shape can be checked against Lambda's:
//
//	{"mode":"ok"}      answers {"ok":true}
//	{"mode":"wait","ms":N} sleeps N ms, then answers {"ok":true} (a slow success)
//	{"mode":"error"}   returns a *ValidationError (errorType "ValidationError")
//	{"mode":"string"}  returns errors.New (errorType "errorString")
//	{"mode":"panic"}   panics (stack trace, instance discarded)
//	{"mode":"sleep"}   sleeps past any timeout up to 15 minutes
//	{"mode":"spin"}    loops forever without sleeping
//	{"mode":"oom"}     allocates until memory runs out
//	{"mode":"exit"}    calls os.Exit(3)
//	{"mode":"big"}     answers more than Lambda's 6 MB response limit
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type request struct {
	Mode  string `json:"mode"`
	Field string `json:"field"`
	MS    int    `json:"ms"`
}

// ValidationError is a handler's own error type; Lambda reports its type
// name as errorType.
type ValidationError struct{ Field string }

func (e *ValidationError) Error() string { return "invalid field: " + e.Field }

var hoard [][]byte // keeps allocations alive so the heap must grow

func handler(ctx context.Context, req request) (any, error) {
	switch req.Mode {
	case "ok":
		return map[string]bool{"ok": true}, nil
	case "wait":
		time.Sleep(time.Duration(req.MS) * time.Millisecond)
		return map[string]bool{"ok": true}, nil
	case "error":
		return nil, &ValidationError{Field: req.Field}
	case "string":
		return nil, errors.New("something went wrong")
	case "panic":
		var m map[string]int
		//lint:ignore SA5000 the panic this mode exists for
		m["boom"]++ // assignment to entry in nil map
	case "sleep":
		time.Sleep(15 * time.Minute)
	case "spin":
		n := 0
		for {
			n++
		}
	case "oom":
		for {
			hoard = append(hoard, make([]byte, 8<<20))
			fmt.Printf("allocated %d MB\n", 8*len(hoard))
		}
	case "exit":
		fmt.Fprintln(os.Stderr, "exiting with status 3")
		os.Exit(3)
	case "big":
		return strings.Repeat("x", 7<<20), nil
	}
	return nil, fmt.Errorf("unknown mode %q", req.Mode)
}

func main() {
	lambda.Start(handler)
}
