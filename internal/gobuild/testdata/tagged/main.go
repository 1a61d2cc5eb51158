// Command tagged is a handler with a file that only a build with the
// ferry_test_tag tag compiles, for checking ferry build's tags.
package main

import "github.com/ferrywasm/ferry/hostabi/guest/lambda"

// tagged is set by tagged.go.
var tagged = "built without ferry_test_tag"

func main() {
	lambda.Start(func() (string, error) { return tagged, nil })
}
