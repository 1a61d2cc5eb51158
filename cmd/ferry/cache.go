package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

const cacheUsage = `Usage:
  ferry cache ls                               list ferry's cache: built modules and compiled code, with sizes
  ferry cache prune [--older-than 720h] [--max-size 2GB] [--dry-run]
                                               remove superseded and unused entries

ferry keeps two caches under $FERRY_CACHE_DIR (default: ferry/ under the
user's cache directory, e.g. ~/.cache/ferry):
  modules/  handler modules built from Go sources (ferry serve, ferry invoke DIR),
            one per function and source version
  wazero/   machine code compiled from modules, one directory per wazero version
Both are rebuilt on demand: pruning costs a rebuild, never correctness.

prune removes: modules superseded by a newer build of the same function
(its source changed), compiled code of other wazero versions, entries not
used for --older-than, then the oldest entries until the total is under
--max-size (if given).
`

// cacheEntry is one file or directory of ferry's cache.
type cacheEntry struct {
	path     string
	kind     string // "module" or "compiled"
	function string // for modules: the function (handler directory) it was built from
	size     int64
	used     time.Time
	stale    string // why prune removes it regardless of age, or ""
}

func runCache(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args) {
		fmt.Fprint(stdout, cacheUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "ls":
		if isHelp(args[1:]) {
			fmt.Fprint(stdout, cacheUsage)
			return 0
		}
		entries, err := cacheEntries()
		if err != nil {
			return fail(stderr, "cache ls", err)
		}
		printCache(stdout, entries)
		return 0
	case "prune":
		return runCachePrune(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "ferry cache: unknown subcommand %q\n\n%s", args[0], cacheUsage)
	return 2
}

func runCachePrune(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry cache prune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	olderThan := fs.Duration("older-than", 30*24*time.Hour, "remove entries not used for this long")
	maxSize := fs.String("max-size", "", "then remove the oldest entries until the cache is at most this size (e.g. 2GB, 500MB)")
	dryRun := fs.Bool("dry-run", false, "print what would be removed, remove nothing")
	fs.Usage = func() { fmt.Fprint(stderr, cacheUsage); fs.PrintDefaults() }
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) > 0 {
		return fail(stderr, "cache prune", fmt.Errorf("unexpected argument %q", pos[0]))
	}
	limit := int64(-1)
	if *maxSize != "" {
		if limit, err = parseSize(*maxSize); err != nil {
			return fail(stderr, "cache prune", err)
		}
	}
	entries, err := cacheEntries()
	if err != nil {
		return fail(stderr, "cache prune", err)
	}
	remove := pruneSelect(entries, time.Now().Add(-*olderThan), limit)
	var freed int64
	for _, e := range remove {
		verb := "removed"
		if *dryRun {
			verb = "would remove"
		} else if err := os.RemoveAll(e.path); err != nil {
			fmt.Fprintf(stderr, "ferry cache prune: %v\n", err)
			continue
		}
		freed += e.size
		fmt.Fprintf(stdout, "%s %s (%s, %s)\n", verb, e.path, formatSize(e.size), e.stale)
	}
	fmt.Fprintf(stdout, "%d entries, %s freed\n", len(remove), formatSize(freed))
	return 0
}

// pruneSelect picks the entries to remove: stale ones, those last used
// before cutoff, then the oldest until the rest fit in limit (-1: none).
// It sets each picked entry's reason.
func pruneSelect(entries []cacheEntry, cutoff time.Time, limit int64) []cacheEntry {
	slices.SortFunc(entries, func(a, b cacheEntry) int { return a.used.Compare(b.used) })
	var keep, remove []cacheEntry
	var total int64
	for _, e := range entries {
		switch {
		case e.stale != "":
		case e.used.Before(cutoff):
			e.stale = "unused since " + e.used.Format(time.DateOnly)
		default:
			keep = append(keep, e)
			total += e.size
			continue
		}
		remove = append(remove, e)
	}
	for limit >= 0 && total > limit && len(keep) > 0 {
		e := keep[0] // oldest first
		keep = keep[1:]
		total -= e.size
		e.stale = "over --max-size"
		remove = append(remove, e)
	}
	return remove
}

// moduleName is a cached module's file name (gobuild.ModuleFile): the
// handler directory's name, its variant (which directory, built how) and
// a hash of its sources; modules an earlier ferry built have no variant.
var moduleName = regexp.MustCompile(`^(.+?)(-[0-9a-f]{8})?-[0-9a-f]{32}\.wasm$`)

// cacheEntries lists the modules and compiled code in ferry's cache,
// marking as stale the modules a newer build of the same function
// superseded and compiled code of another wazero version than this ferry's.
func cacheEntries() ([]cacheEntry, error) {
	var entries []cacheEntry
	var variants []string      // per entry: function and variant, "" for an earlier ferry's module
	newest := map[string]int{} // function and variant → index of its newest module
	named := map[string]bool{} // functions with a module named as this ferry names them
	modules, err := os.ReadDir(gobuild.CacheDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, d := range modules {
		m := moduleName.FindStringSubmatch(d.Name())
		info, err := d.Info()
		if m == nil || err != nil || !info.Mode().IsRegular() {
			continue // the lock, a build in progress
		}
		e := cacheEntry{path: filepath.Join(gobuild.CacheDir(), d.Name()), kind: "module", function: m[1], size: info.Size(), used: info.ModTime()}
		variant := ""
		if m[2] != "" {
			variant = m[1] + m[2]
			named[m[1]] = true
			if i, ok := newest[variant]; !ok || e.used.After(entries[i].used) {
				newest[variant] = len(entries)
			}
		}
		entries = append(entries, e)
		variants = append(variants, variant)
	}
	for i, v := range variants {
		// An earlier ferry's module is superseded by any of this one's
		// for the same function name.
		if v == "" && named[entries[i].function] || v != "" && newest[v] != i {
			entries[i].stale = "superseded by a newer build of " + entries[i].function
		}
	}
	compiled := adapter.DefaultCacheDir()
	versions, err := os.ReadDir(compiled)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	current := currentWazeroDir()
	for _, v := range versions {
		if !v.IsDir() {
			continue
		}
		dir := filepath.Join(compiled, v.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			e := cacheEntry{path: filepath.Join(dir, f.Name()), kind: "compiled", size: info.Size(), used: info.ModTime()}
			if v.Name() != current {
				e.stale = "compiled by another wazero version (" + v.Name() + ")"
			}
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// currentWazeroDir is the directory wazero's compilation cache uses for
// this binary: wazero-VERSION-GOARCH-GOOS, VERSION read from the build
// info as wazero itself reads it ("dev" when the build info lacks it).
func currentWazeroDir() string {
	version := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if strings.Contains(d.Path, "github.com/tetratelabs/wazero") {
				version = d.Version
			}
		}
	}
	if version == "" || version == "(devel)" {
		version = "dev"
	}
	return "wazero-" + version + "-" + runtime.GOARCH + "-" + runtime.GOOS
}

func printCache(w io.Writer, entries []cacheEntry) {
	slices.SortFunc(entries, func(a, b cacheEntry) int {
		if c := strings.Compare(a.kind, b.kind); c != 0 {
			return -c // modules first
		}
		return strings.Compare(a.path, b.path)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SIZE\tLAST USED\t KIND\t PATH\t")
	totals := map[string]int64{}
	for _, e := range entries {
		note := ""
		if e.stale != "" {
			note = "  (prunable: " + e.stale + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t %s\t %s%s\t\n", formatSize(e.size), e.used.Format("2006-01-02 15:04"), e.kind, e.path, note)
		totals[e.kind] += e.size
	}
	tw.Flush()
	fmt.Fprintf(w, "total %s: modules %s (%s), compiled code %s (%s)\n",
		formatSize(totals["module"]+totals["compiled"]), formatSize(totals["module"]), gobuild.CacheDir(),
		formatSize(totals["compiled"]), adapter.DefaultCacheDir())
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// parseSize reads 2GB, 500MB, 64kB or a number of bytes (binary units).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"G", 1 << 30}, {"MB", 1 << 20}, {"M", 1 << 20}, {"KB", 1 << 10}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--max-size %q: want a size such as 2GB or 500MB", s)
	}
	return int64(n * float64(mult)), nil
}
