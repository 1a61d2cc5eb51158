// Command ferry runs AWS Lambda and Azure Functions handlers compiled to
// WebAssembly.
//
//	ferry build [-o OUT.wasm] DIR            compile a Go handler package
//	ferry invoke [flags] MODULE|DIR -e EVENT  run one invocation, like sam local invoke
//	ferry generate-event SERVICE EVENT        print a sample event, like sam local generate-event
//	ferry serve [-f ferry.yaml]               serve functions over HTTP, like sam local start-api/start-lambda
//	ferry image -f ferry.yaml -o IMAGE.tar    build a container image without Docker
//	ferry k8s -f ferry.yaml [-o DIR]          print Kubernetes manifests for the app
//	ferry migrate [--dry-run] PATH            turn a SAM, CloudFormation, Serverless or Azure app into a ferry app
//	ferry cache ls|prune                      see and prune ferry's cache
//
// Exit status: 0 success; 1 the function failed (its error document is
// printed on stdout); 2 bad usage or input, or ferry could not run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // WEBSITE_TIME_ZONE in images without /usr/share/zoneinfo
)

const usage = `ferry runs Lambda and Azure Functions handlers compiled to WebAssembly.

Usage:
  ferry build [-o OUT.wasm] DIR              compile the Go handler package in DIR
  ferry invoke [flags] MODULE.wasm|DIR       invoke a function once (-e EVENT.json, -e - for stdin)
  ferry generate-event SERVICE EVENT [flags] print a sample event
  ferry serve [-f ferry.yaml] [flags]        serve the config's functions: HTTP routes, Lambda Invoke API,
                                             schedules, health and metrics
  ferry image -f ferry.yaml -o IMAGE.tar     build a container image (no Docker needed), with precompiled modules
  ferry k8s -f ferry.yaml [-o DIR]           print (or write) Kubernetes manifests: Deployment, Service,
                                             ConfigMap, HPA or KEDA ScaledObject, a CronJob per schedule
  ferry migrate [--dry-run] [-o DIR] PATH    turn a SAM/CloudFormation/CDK template, serverless.yml or Azure
                                             Functions app into ferry.yaml, porting its Go handlers in place
  ferry fire-schedule -f ferry.yaml RULE     fire a schedule once through a ferry's Invoke API (the CronJobs' command)
  ferry compile --cache-dir DIR MODULE...    precompile modules into a compilation cache (what ferry image runs)
  ferry probe URL                            exit 0 if URL answers 200 (an exec probe for images without curl)
  ferry cache ls|prune                       list ferry's cache (built modules, compiled code) with sizes, or prune it
  ferry version                              print ferry's version

Run 'ferry COMMAND -h' for a command's flags.
`

// version is set at link time by release builds.
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "build":
		return runBuild(args[1:], stdout, stderr)
	case "invoke":
		return runInvoke(args[1:], stdin, stdout, stderr)
	case "generate-event":
		return runGenerateEvent(args[1:], stdout, stderr)
	case "serve":
		// SIGTERM (Kubernetes) or Ctrl-C starts a graceful drain; a second
		// signal kills, as the signal's default.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		go func() { <-ctx.Done(); stop() }()
		return runServe(ctx, args[1:], stdout, stderr)
	case "image":
		return runImage(context.Background(), args[1:], stdout, stderr)
	case "k8s":
		return runK8s(args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(args[1:], stdout, stderr)
	case "fire-schedule":
		return runFireSchedule(args[1:], stdout, stderr)
	case "probe":
		return runProbe(args[1:], stderr)
	case "compile":
		return runCompile(context.Background(), args[1:], stdout, stderr)
	case "cache":
		return runCache(args[1:], stdout, stderr)
	case "version", "--version":
		if isHelp(args[1:]) {
			fmt.Fprintln(stdout, "Usage: ferry version\n\nPrints ferry's version.")
			return 0
		}
		fmt.Fprintln(stdout, "ferry", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ferry: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, as `ferry invoke fn.wasm -e ev.json` expects.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// flagStatus is the exit status after a flag parse error: 0 for -h/--help
// (the usage was asked for and printed), 2 for bad usage.
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// isHelp reports whether args ask for help, for commands without flags.
func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")
}

// fail prints a one-line error for command cmd and returns status 2.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(stderr, "ferry %s: %s\n", cmd, msg)
	return 2
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
