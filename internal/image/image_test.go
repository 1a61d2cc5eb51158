package image

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/internal/config"
)

func TestCheckPlatform(t *testing.T) {
	for _, p := range []string{"", "linux/" + runtime.GOARCH} {
		if arch, err := checkPlatform(p); err != nil || arch != runtime.GOARCH {
			t.Errorf("%q: %s, %v", p, arch, err)
		}
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if _, err := checkPlatform("linux/" + other); err == nil || !strings.Contains(err.Error(), "wazero compiles modules for the machine it runs on") {
		t.Errorf("another architecture: %v", err)
	}
	if _, err := checkPlatform("windows/" + runtime.GOARCH); err == nil {
		t.Error("windows accepted")
	}
}

// TestRuntimeConfig: modules move into the image, and what ferry writes
// under the config's folder moves to the scratch directory.
func TestRuntimeConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.Mkdir(filepath.Join(dir, "src"), 0o755)
	cfg, err := config.Parse(filepath.Join(dir, "ferry.yaml"), []byte(`
async: {spoolDir: .ferry/spool}
functions:
  - name: a
    module: m.wasm
    async: {onFailure: {file: out/failed.jsonl}, onSuccess: {file: /var/log/ok.jsonl}}
  - name: b
    source: src
`))
	if err != nil {
		t.Fatal(err)
	}
	rc, notes := RuntimeConfig(cfg)
	a, b := rc.Functions[0], rc.Functions[1]
	if a.Module != "/ferry/modules/a.wasm" || b.Module != "/ferry/modules/b.wasm" || b.Source != "" {
		t.Errorf("modules %q %q source %q", a.Module, b.Module, b.Source)
	}
	if rc.Async.SpoolDir != "/tmp/ferry/.ferry/spool" || a.AsyncConfig.OnFailure.File != "/tmp/ferry/out/failed.jsonl" || a.AsyncConfig.OnSuccess.File != "/var/log/ok.jsonl" {
		t.Errorf("paths %q %q %q", rc.Async.SpoolDir, a.AsyncConfig.OnFailure.File, a.AsyncConfig.OnSuccess.File)
	}
	if len(notes) != 3 || !strings.Contains(strings.Join(notes, "\n"), "/var/log/ok.jsonl is kept: make sure it is on a writable volume") {
		t.Errorf("notes %q", notes)
	}
	if cfg.Functions[1].Source == "" {
		t.Error("RuntimeConfig changed its argument")
	}
}

// TestRuntimeConfigAzure: an Azure app's definition and handler move into
// the image, its stateDir under the scratch directory; ${NAME} references
// stay references.
func TestRuntimeConfigAzure(t *testing.T) {
	dir := t.TempDir()
	for _, app := range []string{"shop", "other/billing"} {
		os.MkdirAll(filepath.Join(dir, app), 0o755)
		os.WriteFile(filepath.Join(dir, app, "host.json"), []byte(`{"version":"2.0"}`), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "handler.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	cfg, err := config.ParseTemplate(filepath.Join(dir, "ferry.yaml"), []byte(`
azureApps:
  - path: shop
    stateDir: .ferry/azure
    environment: {TOKEN: "${FERRY_TEST_UNSET}"}
  - path: other/billing
    module: handler.wasm
  - path: shop
    stateDir: /var/lib/shop
`))
	if err != nil {
		t.Fatal(err)
	}
	rc, notes := RuntimeConfig(cfg)
	a, b, c := rc.AzureApps[0], rc.AzureApps[1], rc.AzureApps[2]
	if a.Path != "/ferry/azure/shop" || a.Module != "/ferry/modules/shop.wasm" || b.Path != "/ferry/azure/billing" || b.Module != "/ferry/modules/billing.wasm" {
		t.Errorf("paths %q %q, %q %q", a.Path, a.Module, b.Path, b.Module)
	}
	if a.StateDir != "/tmp/ferry/.ferry/azure" || b.StateDir != "/tmp/ferry/azure/billing" || c.StateDir != "/var/lib/shop" {
		t.Errorf("stateDirs %q %q %q", a.StateDir, b.StateDir, c.StateDir)
	}
	if a.Environment["TOKEN"] != "${FERRY_TEST_UNSET}" {
		t.Errorf("environment %v", a.Environment)
	}
	if len(notes) != 2 || !strings.Contains(strings.Join(notes, "\n"), "/var/lib/shop is kept") {
		t.Errorf("notes %q", notes)
	}
	if cfg.AzureApps[1].Module != filepath.Join(dir, "handler.wasm") {
		t.Error("RuntimeConfig changed its argument")
	}
	// The same folder name twice (here: shop) cannot be two modules.
	if err := checkAzureNames(cfg); err == nil || !strings.Contains(err.Error(), "ferry.yaml:8: azure app") {
		t.Errorf("duplicate names: %v", err)
	}
	data, err := config.Marshal(rc)
	if err != nil || !strings.Contains(string(data), "path: /ferry/azure/shop") || !strings.Contains(string(data), "${FERRY_TEST_UNSET}") {
		t.Errorf("marshalled: %v\n%s", err, data)
	}
}
