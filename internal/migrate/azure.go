package migrate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferrywasm/ferry/internal/config"
)

// azureTriggers are the trigger and binding types ferry runs.
var azureTriggers = []string{"httpTrigger", "http", "timerTrigger", "queueTrigger", "queue"}

// azure migrates an Azure Functions app folder: ferry serves the folder as
// it is, so ferry.yaml names it, and the custom handler's Go source is
// ported to start its server through azfunc.
func (m *migration) azure(dir string) error {
	if !hasGoMain(dir) {
		m.add(Item{Resource: filepath.Base(dir), Type: "Azure Functions app", Status: NotSupported, File: filepath.Join(dir, "host.json"),
			Detail: "no Go custom handler (a main package) at the app's root",
			Action: "ferry runs Go custom handlers: put the handler's main package next to host.json"})
		return nil
	}
	functions, _ := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	slices.Sort(functions)
	for _, f := range functions {
		name := filepath.Base(filepath.Dir(f))
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var fj struct {
			Bindings []struct {
				Type, Direction, Name string
			}
		}
		if err := json.Unmarshal(data, &fj); err != nil {
			return &badInput{fmt.Sprintf("%s: %v", f, err)}
		}
		item := Item{Resource: name, Type: "function.json", Status: Ported, File: f}
		var types []string
		for _, b := range fj.Bindings {
			types = append(types, b.Type)
			if !slices.Contains(azureTriggers, b.Type) {
				item.Status = NotSupported
				item.Detail = "binding " + b.Type + " is not run by ferry (it runs http, timer and queue bindings)"
				item.Action = "keep this function on Azure, or replace the binding with a queue or HTTP call"
			}
		}
		if item.Status == Ported {
			item.Detail = "served from the app folder: bindings " + fmt.Sprint(types)
		}
		m.add(item)
	}
	m.cfg.AzureApps = append(m.cfg.AzureApps, config.AzureApp{Path: m.rel(dir)})
	m.handlers = append(m.handlers, handler{dir: dir, function: filepath.Base(dir), azure: true})
	m.add(Item{Resource: filepath.Base(dir), Type: "Azure Functions app", Status: Ported, File: filepath.Join(dir, "host.json"),
		Detail: "azureApps entry " + m.rel(dir) + "; its handler starts with azfunc.ListenAndServe"})
	return nil
}
