// Command stopme runs until something stops it, for the timeout tests.
// Its event names what it does: "spin" (an endless loop), "fib" (fib(90):
// an exponential call tree), "sleep" (15 minutes); anything else is
// echoed. Built with ferry's guest SDK it is a reactor; built with plain
// `go build` (GOOS=wasip1) a WASI command.
package main

import (
	"context"
	"time"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

var sink uint64

//go:noinline
func fib(n uint64) uint64 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func handler(ctx context.Context, event string) (string, error) {
	switch event {
	case "spin":
		for {
			sink++
		}
	case "fib":
		sink = fib(90)
	case "sleep":
		time.Sleep(15 * time.Minute)
	}
	return event, nil
}

func main() {
	lambda.Start(handler)
}
