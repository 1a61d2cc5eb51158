package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ferrywasm/ferry/internal/migrate"
)

// runMigrate is `ferry migrate`: a SAM, CloudFormation/CDK or Serverless
// Framework app, or an Azure Functions app folder, to a ferry app.
func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ferry migrate [flags] PATH

PATH is a SAM template (template.yaml/.json), a CloudFormation template (CDK's
cdk.out/*.template.json too), a serverless.yml, an Azure Functions app folder, or
a project folder holding one. ferry migrate writes ferry.yaml next to it, ports
each Go handler in place (the import of aws-lambda-go's lambda package, and
go.mod), and reports what was ported, what needs attention and what is not
supported.

Exit status: 0 everything ported; 1 some things need attention or are not
supported; 2 bad input.

Flags:
`)
		fs.PrintDefaults()
	}
	dryRun := fs.Bool("dry-run", false, "print the unified diff (ferry.yaml included) and the report; write nothing")
	outDir := fs.String("o", "", "write ferry.yaml in `DIR` (default: next to the template)")
	var overrides multiFlag
	fs.Var(&overrides, "parameter-overrides", "`KEY=VALUE` for a template parameter (or a Serverless option: stage); repeatable, or several separated by spaces")
	region := fs.String("region", "", "the region AWS::Region resolves to and ferry.yaml's region (default $AWS_REGION, else us-east-1)")
	account := fs.String("account-id", "", "the account AWS::AccountId resolves to (default 123456789012)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	sdkDir := fs.String("sdk-dir", "", "a checkout of ferry's guest SDK module (hostabi/guest) that ported go.mod files replace the SDK with (default: this ferry's source)")
	sdkVersion := fs.String("sdk-version", "", "require this released version of the guest SDK instead of replacing it with a checkout")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	opts := migrate.Options{Path: pos[0], OutDir: *outDir, Region: *region, AccountID: *account, Overrides: map[string]string{}}
	if opts.Region == "" {
		opts.Region = os.Getenv("AWS_REGION")
	}
	for _, o := range overrides {
		for _, kv := range strings.Fields(o) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fail(stderr, "migrate", fmt.Errorf("--parameter-overrides %q: want KEY=VALUE", kv))
			}
			// SAM's ParameterKey=K,ParameterValue=V form.
			if pk, rest, ok := strings.Cut(kv, "ParameterKey="); ok && pk == "" {
				if key, val, ok := strings.Cut(rest, ",ParameterValue="); ok {
					k, v = key, val
				}
			}
			opts.Overrides[k] = v
		}
	}
	switch {
	case *sdkVersion != "":
		opts.SDK.Version = *sdkVersion
	case *sdkDir != "":
		abs, err := filepath.Abs(*sdkDir)
		if err != nil {
			return fail(stderr, "migrate", err)
		}
		opts.SDK.Dir = abs
	default:
		dir, err := localSDK()
		if err != nil {
			return fail(stderr, "migrate", err)
		}
		opts.SDK.Dir = dir
	}
	res, err := migrate.Run(opts)
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	base := filepath.Dir(res.ConfigPath)
	if *dryRun {
		if !*asJSON {
			fmt.Fprint(stdout, res.Diff(base))
		}
	} else if err := res.Write(); err != nil {
		return fail(stderr, "migrate", err)
	}
	if *asJSON {
		out := struct {
			*migrate.Result
			DryRun  bool     `json:"dryRun"`
			Changed []string `json:"changed"`
			Diff    string   `json:"diff,omitempty"`
			Ferry   string   `json:"ferryYaml"`
		}{Result: res, DryRun: *dryRun, Changed: []string{}, Ferry: string(res.Config)}
		for _, c := range res.Changes {
			out.Changed = append(out.Changed, c.Path)
		}
		if *dryRun {
			out.Diff = res.Diff(base)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "migrate", err)
		}
		return res.ExitStatus()
	}
	printReport(stdout, res, base, *dryRun)
	return res.ExitStatus()
}

// printReport writes the report as text: one line an item, with what to
// do under it, then the files written and the counts.
func printReport(w io.Writer, res *migrate.Result, base string, dryRun bool) {
	rel := func(p string) string {
		if r, err := filepath.Rel(base, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	fmt.Fprintf(w, "ferry migrate: %s (%s) → %s\n", rel(res.Input), res.Kind, rel(res.ConfigPath))
	counts := map[migrate.Status]int{}
	for _, it := range res.Items {
		counts[it.Status]++
		where := ""
		if it.Line > 0 {
			where = fmt.Sprintf(" (%s:%d)", rel(it.File), it.Line)
		}
		fmt.Fprintf(w, "  %-15s %s [%s]%s: %s\n", it.Status, it.Resource, it.Type, where, it.Detail)
		if it.Action != "" {
			fmt.Fprintf(w, "  %-15s → %s\n", "", it.Action)
		}
	}
	var names []string
	for _, c := range res.Changes {
		names = append(names, rel(c.Path))
	}
	switch {
	case dryRun && len(names) > 0:
		fmt.Fprintf(w, "dry run: would write %s\n", strings.Join(names, ", "))
	case dryRun:
		fmt.Fprintln(w, "dry run: nothing to change")
	case len(names) > 0:
		fmt.Fprintf(w, "wrote %s\n", strings.Join(names, ", "))
	default:
		fmt.Fprintln(w, "nothing to change: already migrated")
	}
	fmt.Fprintf(w, "%d ported, %d need attention, %d not supported\n", counts[migrate.Ported], counts[migrate.Attention], counts[migrate.NotSupported])
	if counts[migrate.Attention]+counts[migrate.NotSupported] == 0 {
		fmt.Fprintf(w, "next: ferry serve -f %s\n", rel(res.ConfigPath))
	}
}

// localSDK finds the guest SDK module of the ferry source this binary was
// built from (go run, go build or go install from a checkout), so that
// ported handlers build offline against it.
func localSDK() (string, error) {
	if d := os.Getenv("FERRY_SDK_DIR"); d != "" {
		return filepath.Abs(d)
	}
	_, file, _, ok := runtime.Caller(0)
	if ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "hostabi", "guest")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("cannot find ferry's guest SDK source (this ferry was built with -trimpath or moved): pass --sdk-dir DIR (a checkout's hostabi/guest) or --sdk-version VERSION")
}
