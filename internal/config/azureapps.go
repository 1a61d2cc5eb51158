package config

// The azureApps section: Azure Functions app folders to serve.

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// azureApps parses the Azure Functions app folders to serve.
func (p *parser) azureApps(f *File, n *yaml.Node) {
	items, ok := p.seq(n, "azureApps")
	if !ok {
		return
	}
	for i, item := range items {
		where := fmt.Sprintf("azureApps[%d]", i)
		m, ok := p.fields(item, where, azureAppKeys...)
		if !ok {
			continue
		}
		a := AzureApp{Line: item.Line}
		if v := m["path"]; v == nil {
			p.fail(item, where, "path: missing; give the app folder (the one with host.json)")
		} else if s, ok := p.nonEmpty(v, where+": path"); ok {
			a.Path = p.resolve(s)
			if _, err := os.Stat(filepath.Join(a.Path, "host.json")); err != nil {
				p.fail(v, where+": path", "%s has no host.json: not an Azure Functions app folder%s", s, p.lookedFor(s, a.Path))
			}
		}
		if v := m["module"]; v != nil {
			a.Module, _ = p.path(v, where+": module", false, "%s is a directory; give the custom handler's compiled .wasm (leave module: out to build the app folder's Go source)")
		}
		if v := m["build"]; v != nil {
			a.Build = p.build(v, where+": build", a.Module != "")
		}
		if v := m["environment"]; v != nil {
			a.Environment = p.environment(v, where+": environment")
		}
		if v := m["memory"]; v != nil {
			if mb, ok := p.integer(v, where+": memory"); ok {
				if mb < lambdaspec.MinMemoryMB || mb > lambdaspec.MaxMemoryMB {
					p.fail(v, where+": memory", "%d MB is outside %d to %d", mb, lambdaspec.MinMemoryMB, lambdaspec.MaxMemoryMB)
				}
				a.Memory = mb
			}
		}
		if v := m["concurrency"]; v != nil {
			a.Concurrency, _ = p.atLeastOne(v, where+": concurrency")
		}
		if v := m["stateDir"]; v != nil {
			if s, ok := p.nonEmpty(v, where+": stateDir"); ok {
				a.StateDir = p.resolve(s)
			}
		}
		if v := m["allowedOutboundHosts"]; v != nil {
			a.AllowedOutboundHosts = p.allowedHosts(v, where+": allowedOutboundHosts")
		}
		f.AzureApps = append(f.AzureApps, a)
	}
}
