// Command initfail fails its init phase unless REQUIRED is set, as a
// handler whose main loads its configuration before calling Start does.
package main

import (
	"log"
	"os"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

func main() {
	if os.Getenv("REQUIRED") == "" {
		log.Fatal("REQUIRED is not set")
	}
	lambda.Start(func() (string, error) { return "configured", nil })
}
