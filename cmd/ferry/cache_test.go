package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCache fills an empty cache the way a user does (ferry invoke of a
// handler directory builds and compiles it), adds what an older source
// version, an earlier ferry and an older wazero left behind and another
// handler directory of the same name built, and checks that `cache ls`
// shows them with sizes and that `cache prune` removes exactly the
// superseded and foreign entries, then everything with --max-size 0.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FERRY_CACHE_DIR", dir)
	if code, out, errOut := ferry(t, "", "invoke", "../../samples/hello", "-e", "../../samples/hello/event.json"); code != 0 {
		t.Fatalf("invoke: exit %d %s %s", code, out, errOut)
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "modules", "hello-*.wasm"))
	if len(mods) != 1 {
		t.Fatalf("modules after one build: %v", mods)
	}
	// An earlier source version of the same function and variant, a
	// module an earlier ferry named without a variant, and one of another
	// handler directory also named hello (another variant), all older.
	variant := strings.Split(filepath.Base(mods[0]), "-")[1]
	old := filepath.Join(dir, "modules", "hello-"+variant+"-0123456789abcdef0123456789abcdef.wasm")
	legacy := filepath.Join(dir, "modules", "hello-fedcba9876543210fedcba9876543210.wasm")
	other := filepath.Join(dir, "modules", "hello-00000000-0123456789abcdef0123456789abcdef.wasm")
	foreign := filepath.Join(dir, "wazero", "wazero-v0.0.1-amd64-linux", "feed")
	for _, p := range []string{old, legacy, other, foreign} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 3<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		yesterday := time.Now().Add(-24 * time.Hour)
		os.Chtimes(p, yesterday, yesterday)
	}

	code, out, errOut := ferry(t, "", "cache", "ls")
	if code != 0 {
		t.Fatalf("cache ls: exit %d %s", code, errOut)
	}
	for _, want := range []string{mods[0], old, legacy, other, foreign, "3.0 MB", "superseded by a newer build of hello", "another wazero version", "total "} {
		if !strings.Contains(out, want) {
			t.Errorf("cache ls lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, other) && strings.Contains(line, "superseded") {
			t.Errorf("another directory's hello is marked superseded: %s", line)
		}
	}
	if !strings.Contains(out, currentWazeroDir()) {
		t.Errorf("cache ls shows no code compiled by this wazero (%s):\n%s", currentWazeroDir(), out)
	}

	if code, out, _ := ferry(t, "", "cache", "prune", "--dry-run"); code != 0 || !strings.Contains(out, "would remove "+old) {
		t.Fatalf("prune --dry-run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatal("--dry-run removed a file")
	}
	code, out, errOut = ferry(t, "", "cache", "prune")
	if code != 0 {
		t.Fatalf("prune: exit %d %s", code, errOut)
	}
	for _, p := range []string{old, legacy, foreign} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("prune kept %s:\n%s", p, out)
		}
	}
	for _, p := range []string{mods[0], other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("prune removed %s, a function's newest module:\n%s", p, out)
		}
	}
	if code, out, _ := ferry(t, "", "cache", "prune", "--max-size", "0"); code != 0 || !strings.Contains(out, "over --max-size") {
		t.Fatalf("prune --max-size 0: exit %d\n%s", code, out)
	}
	if _, out, _ := ferry(t, "", "cache", "ls"); !strings.Contains(out, "total 0 B") {
		t.Errorf("after prune --max-size 0:\n%s", out)
	}
	if code, _, _ := ferry(t, "", "cache", "prune", "--max-size", "lots"); code != 2 {
		t.Errorf("a bad --max-size: exit %d, want 2", code)
	}
}
