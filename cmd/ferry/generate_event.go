package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ferrywasm/ferry/events"
)

// runGenerateEvent prints a sample event for SERVICE EVENT, like
// `sam local generate-event`, so a function can be invoked locally with
// `ferry generate-event s3 put | ferry invoke fn.wasm -e -`.
func runGenerateEvent(args []string, stdout, stderr io.Writer) int {
	gens := events.Generators()
	fs := flag.NewFlagSet("generate-event", flag.ContinueOnError)
	// Parse errors are reported once, through fail, in ferry's one-line
	// shape; -h is answered below with the event list on stdout.
	fs.SetOutput(io.Discard)
	// One flag set for every event's flags; Generate rejects the ones the
	// chosen event does not take, naming the valid ones.
	seen := map[string]bool{}
	for _, g := range gens {
		for _, name := range g.Flags {
			if !seen[name] {
				seen[name] = true
				fs.String(name, "", "")
			}
		}
	}
	if len(args) == 0 {
		printGenerators(stderr, gens)
		return 2
	}
	positional, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printGenerators(stdout, gens)
		return 0
	}
	if err != nil {
		return fail(stderr, "generate-event", fmt.Errorf("%v; run 'ferry generate-event -h' for events and their flags", err))
	}
	if len(positional) != 2 {
		return fail(stderr, "generate-event", fmt.Errorf("want SERVICE EVENT, got %d arguments (%s); run 'ferry generate-event -h' for the list", len(positional), strings.Join(positional, " ")))
	}
	// Only flags given on the command line: the event's own defaults apply
	// to the rest.
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	out, err := events.Generate(positional[0], positional[1], set)
	if err != nil {
		return fail(stderr, "generate-event", err)
	}
	if _, err := stdout.Write(out); err != nil {
		return fail(stderr, "generate-event", err)
	}
	return 0
}

func printGenerators(w io.Writer, gens []events.Generator) {
	fmt.Fprintln(w, "Usage: ferry generate-event SERVICE EVENT [--flag value ...]")
	fmt.Fprintln(w, "\nEvents:")
	for _, g := range gens {
		flags := append([]string(nil), g.Flags...)
		sort.Strings(flags)
		fmt.Fprintf(w, "  %-12s %-17s %s\n  %30s flags: --%s\n", g.Service, g.Event, g.Description, "", strings.Join(flags, ", --"))
	}
}
