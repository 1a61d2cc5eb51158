package main

// The weight of guest modules:
//
//	go run ./bench weight [-event FILE] [-top N] MODULE.wasm...
//
// For each module: its size, functions (each one a function-table entry
// in a Go module), code and data bytes, the size of the compilation-cache
// entry wazero writes for it (the machine code of the module as ferry
// instruments it, plus metadata), and the RSS that one loaded function
// with one warm instance adds to a process (measured in a child process
// per module: LoadFile, one invocation of -event, compiled code read back
// from that cache). With -top, a module built with its name section (no
// -ldflags=-s) also gets its code attributed to packages, the N largest
// listed. BENCHMARKS.md, "Module weight", says how its figures were made.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrywasm/ferry/adapter"
)

func weight(args []string) {
	fs := flag.NewFlagSet("bench weight", flag.ExitOnError)
	event := fs.String("event", "", "the event of the warm invocation (default {})")
	top := fs.Int("top", 0, "list the N packages with the most code (needs a name section)")
	fs.Parse(args)
	for _, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			fail(err)
		}
		m, err := parseModule(b)
		if err != nil {
			fail(fmt.Errorf("%s: %v", path, err))
		}
		fmt.Printf("%s: %d bytes, %d functions, %d table entries, code %d, data %d\n",
			path, len(b), m.functions, m.tableEntries, m.codeBytes, m.dataBytes)
		if *top > 0 {
			printPackages(m, *top)
		}
		// The first child compiles the module into a cache; the second,
		// measured, loads it from there, as a restarted ferry does.
		cache, err := os.MkdirTemp("", "ferry-weight")
		if err != nil {
			fail(err)
		}
		var out []byte
		for range 2 {
			if out, err = exec.Command(os.Args[0], "weight-warm", path, *event, cache).CombinedOutput(); err != nil {
				fail(fmt.Errorf("%s: %v\n%s", path, err, out))
			}
		}
		fmt.Printf("  compiled %d bytes, %s", dirBytes(cache), out)
		os.RemoveAll(cache)
	}
}

// warmWeight is the child process of weight: it loads one module into a
// fresh engine with the compilation cache in cache, invokes it once and
// reports the RSS that added.
func warmWeight(path, eventFile, cache string) {
	ctx := context.Background()
	event := []byte(`{}`)
	if eventFile != "" {
		var err error
		if event, err = os.ReadFile(eventFile); err != nil {
			fail(err)
		}
	}
	e, err := adapter.NewEngine(ctx, adapter.WithCacheDir(cache))
	if err != nil {
		fail(err)
	}
	defer e.Close(ctx)
	debug.FreeOSMemory()
	before := rssKiB()
	f, err := e.LoadFile(ctx, path, adapter.Config{Name: "weight", Concurrency: 1})
	if err != nil {
		fail(err)
	}
	res, err := f.Invoke(ctx, &adapter.Request{Payload: event})
	if err != nil {
		fail(err)
	}
	debug.FreeOSMemory()
	outcome := "succeeded"
	if res.Failed() {
		outcome = "failed: " + res.ErrorType
	}
	fmt.Printf("warm function %d KiB RSS (invocation %s)\n", rssKiB()-before, outcome)
}

type module struct {
	functions, imports, tableEntries, codeBytes, dataBytes int
	bodies                                                 []int          // code bytes of each defined function
	names                                                  map[int]string // function names by index, from the name section
}

// parseModule reads what weight reports from a module's sections.
func parseModule(b []byte) (m module, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("malformed module")
		}
	}()
	m.names = map[int]string{}
	u32 := func(b []byte, p *int) int {
		v, n := binary.Uvarint(b[*p:])
		if n <= 0 {
			panic("leb128")
		}
		*p += n
		return int(v)
	}
	for p := 8; p < len(b); {
		id := b[p]
		p++
		size := u32(b, &p)
		sec := b[p : p+size]
		p += size
		q := 0
		switch id {
		case 2: // imports: a Go module imports functions only
			m.imports = u32(sec, &q)
		case 3:
			m.functions = u32(sec, &q)
		case 9: // elements: Go's are active segments of function indexes
			for n := u32(sec, &q); n > 0; n-- {
				if u32(sec, &q) != 0 {
					return m, errors.New("an element segment of another kind than Go's")
				}
				for sec[q] != 0x0b { // the offset expression
					q++
				}
				q++
				k := u32(sec, &q)
				m.tableEntries += k
				for ; k > 0; k-- {
					u32(sec, &q)
				}
			}
		case 10:
			m.codeBytes = size
			for n := u32(sec, &q); n > 0; n-- {
				body := u32(sec, &q)
				m.bodies = append(m.bodies, body)
				q += body
			}
		case 11:
			m.dataBytes = size
		case 0:
			nameLen := u32(sec, &q)
			if string(sec[q:q+nameLen]) != "name" {
				continue
			}
			for q += nameLen; q < len(sec); {
				sub := sec[q]
				q++
				subLen := u32(sec, &q)
				if sub == 1 { // function names
					r := q
					for n := u32(sec, &r); n > 0; n-- {
						idx := u32(sec, &r)
						l := u32(sec, &r)
						m.names[idx] = string(sec[r : r+l])
						r += l
					}
				}
				q += subLen
			}
		}
	}
	return m, nil
}

// printPackages lists the n packages with the most code.
func printPackages(m module, n int) {
	if len(m.names) == 0 {
		fmt.Println("  (no name section: build without -ldflags=-s for -top)")
		return
	}
	code := map[string]int{}
	for i, body := range m.bodies {
		code[packageOf(m.names[m.imports+i])] += body
	}
	pkgs := make([]string, 0, len(code))
	for p := range code {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b string) int { return code[b] - code[a] })
	for _, p := range pkgs[:min(n, len(pkgs))] {
		fmt.Printf("  %9d %s\n", code[p], p)
	}
}

// packageOf is the package of a function name as Go's linker writes it in
// a Wasm name section, where "/" and "(*T)" are mangled:
// "net_http.__Transport_.RoundTrip" is net/http's, and
// "github.com_aws_aws_lambda_go_lambda.NewHandler" is aws-lambda-go's
// lambda's (a package path that starts with a host name has dots before
// its package's).
func packageOf(fn string) string {
	start := 0
	if loc := hostPrefix.FindStringIndex(fn); loc != nil {
		start = loc[1]
	}
	if dot := strings.Index(fn[start:], "."); dot >= 0 {
		return fn[:start+dot]
	}
	return fn
}

var hostPrefix = regexp.MustCompile(`^(vendor_)?[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|net|io|in|dev)_`)

func rssKiB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kib
		}
	}
	fail(errors.New("no VmRSS in /proc/self/status"))
	return 0
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
