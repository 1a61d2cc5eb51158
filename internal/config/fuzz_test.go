package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser, in a directory where
// the paths the seeds name exist. A document is refused with an error each
// line of which is "file:N: ..." (or "file: ..." for the whole file), or it
// is parsed; a parsed one is written back by Marshal and parses to the same
// configuration (what `ferry image` and `ferry k8s` rely on).
func FuzzParse(f *testing.F) {
	f.Add(fullFile)
	f.Add("functions:\n  - name: a\n    module: other.wasm\nazureApps:\n  - path: app\n")
	f.Add("functions:\n  - name: a\n    source: hello\n    http:\n      - path: /x/{id}\n        methods: [GET, POST]\n        format: rest\n    schedules:\n      - rate(5 minutes)\n")
	f.Add("functions: [{name: a, module: other.wasm, memory: 99999, timeout: -1}]\n")
	f.Add("a: &a [*a]\n")
	f.Add("functions:\n  - &f {name: a, module: other.wasm}\n  - *f\n")
	// Not workspace: the fuzzer writes failing inputs relative to the
	// working directory, so this one stays where it is.
	dir := f.TempDir()
	for _, d := range []string{"build", "hello", "src", "app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for name, data := range map[string]string{"build/hello.wasm": "\x00asm", "other.wasm": "\x00asm", "app/host.json": `{"version":"2.0"}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	path := filepath.Join(dir, "ferry.yaml")
	errLine := regexp.MustCompile("^" + regexp.QuoteMeta(path) + "(:[0-9]+)?: ")
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 4096 {
			return // the parser's cost grows with the input; bombs are tested on their own
		}
		want, err := ParseTemplate(path, []byte(doc))
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errLine.MatchString(line) {
					t.Fatalf("error line %q is not \"file:N: ...\"", line)
				}
			}
			return
		}
		data, err := Marshal(want)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := ParseTemplate(path, data)
		if err != nil {
			t.Fatalf("Marshal's output does not parse: %v\n%s", err, data)
		}
		sameConfig(t, got, want, data)
	})
}
