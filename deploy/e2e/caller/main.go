// Command caller stands in for the application container of the sidecar
// example (deploy/examples/sidecar.yaml) in the end-to-end suite: it calls
// a function through ferry's Lambda Invoke API on the pod's loopback every
// interval and prints each answer as one line, "status body", which the
// suite reads from the container's log.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "ferry's address")
	function := flag.String("function", "price", "the function to invoke")
	payload := flag.String("payload", `{}`, "the invocation's payload")
	every := flag.Duration("every", 2*time.Second, "time between calls")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	endpoint := *url + "/2015-03-31/functions/" + *function + "/invocations"
	for {
		status, body := call(ctx, endpoint, *payload)
		fmt.Printf("%s %s\n", status, body)
		select {
		case <-ctx.Done():
			return
		case <-time.After(*every):
		}
	}
}

func call(ctx context.Context, endpoint, payload string) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(payload))
	if err != nil {
		return "error", err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error", strings.ReplaceAll(err.Error(), "\n", " ")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return resp.Status[:3], strings.ReplaceAll(string(b), "\n", " ")
}
