package config

// The functions section: each function's code, limits, scaling and
// triggers, and what is checked across functions.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// seen remembers where a name, route or rule was first declared.
type seen struct {
	line  int
	owner string
}

// crossRefs holds what is checked across functions.
type crossRefs struct {
	names  map[string]int
	routes map[string]seen
	rules  map[string]seen
	dests  []pendingDest
}

type pendingDest struct {
	node  *yaml.Node
	where string
	name  string
}

func (p *parser) functions(f *File, n *yaml.Node) {
	items, ok := p.seq(n, "functions")
	if !ok {
		return
	}
	if len(items) == 0 {
		p.fail(n, "functions", "the list is empty; declare at least one function")
		return
	}
	x := &crossRefs{names: map[string]int{}, routes: map[string]seen{}, rules: map[string]seen{}}
	for i, item := range items {
		if fn, ok := p.function(item, i, x); ok {
			f.Functions = append(f.Functions, fn)
		}
	}
	for _, d := range x.dests {
		if _, ok := x.names[d.name]; !ok {
			p.fail(d.node, d.where, "function %q is not declared in this file", d.name)
		}
	}
}

func (p *parser) function(n *yaml.Node, i int, x *crossRefs) (Function, bool) {
	fn := Function{Line: n.Line}
	where := functionWhere(n, i)
	m, ok := p.fields(n, where, functionKeys...)
	if !ok {
		return fn, false
	}
	at := func(key string) string { return where + ": " + key }
	p.functionName(&fn, n, m["name"], where, x)
	p.functionCode(&fn, n, m["module"], m["source"], where)
	if v := m["build"]; v != nil {
		fn.Build = p.build(v, at("build"), fn.Module != "")
	}
	if v := m["memory"]; v != nil {
		fn.Memory, _ = p.lambdaMB(v, at("memory"), lambdaspec.MinMemoryMB, lambdaspec.MaxMemoryMB)
	}
	if v := m["timeout"]; v != nil {
		if d, ok := p.duration(v, at("timeout")); ok {
			p.durationRange(v, at("timeout"), d, time.Second, lambdaspec.MaxTimeout, "Lambda's")
			fn.Timeout = d
		}
	}
	if v := m["idleTimeout"]; v != nil {
		if d, ok := p.duration(v, at("idleTimeout")); ok {
			if d <= 0 {
				p.fail(v, at("idleTimeout"), "%s is not a positive duration", fmtDuration(d))
			}
			fn.IdleTimeout = d
		}
	}
	if v := m["environment"]; v != nil {
		fn.Environment = p.environment(v, at("environment"))
	}
	if v := m["allowedOutboundHosts"]; v != nil {
		fn.AllowedOutboundHosts = p.allowedHosts(v, at("allowedOutboundHosts"))
	}
	switch v := m["files"]; {
	case v != nil:
		fn.Files, _ = p.path(v, at("files"), true, "%s is not a directory")
	case fn.Source != "":
		fn.Files = fn.Source
	case fn.Module != "":
		fn.Files = filepath.Dir(fn.Module)
	}
	if v := m["ephemeralStorage"]; v != nil {
		fn.EphemeralStorage, _ = p.lambdaMB(v, at("ephemeralStorage"), lambdaspec.MinEphemeralStorageMB, lambdaspec.MaxEphemeralStorageMB)
	}
	p.functionScaling(&fn, m, at)
	if v := m["primeEvent"]; v != nil {
		p.primeEvent(&fn, v, at("primeEvent"))
	}
	if v := m["async"]; v != nil {
		fn.AsyncConfig = p.async(v, at("async"), x)
	}
	if v := m["http"]; v != nil {
		if items, ok := p.seq(v, at("http")); ok {
			for j, item := range items {
				if r, ok := p.route(item, fmt.Sprintf("%s: http[%d]", where, j), fn.Name, x); ok {
					fn.HTTP = append(fn.HTTP, r)
				}
			}
		}
	}
	if v := m["eventSources"]; v != nil {
		fn.EventSources = p.eventSources(v, at("eventSources"))
	}
	if v := m["schedule"]; v != nil {
		if items, ok := p.seq(v, at("schedule")); ok {
			for j, item := range items {
				if s, ok := p.schedule(item, fmt.Sprintf("%s: schedule[%d]", where, j), fn.Name, j, x); ok {
					fn.Schedules = append(fn.Schedules, s)
				}
			}
		}
	}
	return fn, true
}

// functionWhere names functions[i] in messages, with its name when it has
// one, so that even its unknown keys say which function they are in.
func functionWhere(n *yaml.Node, i int) string {
	where := fmt.Sprintf("functions[%d]", i)
	for j := 0; n.Kind == yaml.MappingNode && j+1 < len(n.Content); j += 2 {
		if k, v := n.Content[j], deref(n.Content[j+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			where = fmt.Sprintf("functions[%d] (%s)", i, v.Value)
		}
	}
	return where
}

// functionName reads name: (v, nil when missing): Lambda's pattern, unique
// in the file.
func (p *parser) functionName(fn *Function, n, v *yaml.Node, where string, x *crossRefs) {
	if v == nil {
		p.fail(n, where, "name: missing")
		return
	}
	s, ok := p.str(v, where+": name")
	if !ok {
		return
	}
	if !lambdaspec.FunctionNamePattern.MatchString(s) {
		p.fail(v, where+": name", "%q is not a valid function name (1 to 64 letters, digits, - and _)", s)
	} else if line, dup := x.names[s]; dup {
		p.fail(v, where+": name", "%q is already the name of the function at line %d", s, line)
	} else {
		x.names[s] = n.Line
	}
	fn.Name = s
}

// functionCode reads module: or source:, exactly one of which is set.
func (p *parser) functionCode(fn *Function, n, module, source *yaml.Node, where string) {
	switch {
	case module != nil && source != nil:
		p.fail(source, where, "module and source are both set; give one: a compiled .wasm module or a Go handler directory")
	case module == nil && source == nil:
		p.fail(n, where, "neither module nor source is set; give one: a compiled .wasm module or a Go handler directory")
	case module != nil:
		fn.Module, _ = p.path(module, where+": module", false, "%s is a directory; a Go handler directory goes under source:")
	default:
		fn.Source, _ = p.path(source, where+": source", true, "%s is not a directory; a compiled module goes under module:")
	}
}

// build reads a build: mapping; withModule says the code is a compiled
// module, which has nothing to build.
func (p *parser) build(n *yaml.Node, where string, withModule bool) Build {
	var b Build
	if withModule {
		p.fail(n, where, "a compiled module is not built; build: applies to Go source only")
		return b
	}
	m, ok := p.fields(n, where, buildKeys...)
	if !ok {
		return b
	}
	if v := m["jsonv2"]; v != nil {
		b.JSONv2, _ = p.boolean(v, where+": jsonv2")
	}
	return b
}

// functionScaling reads concurrency, minInstances and spareInstances; the
// last two are at most the first.
func (p *parser) functionScaling(fn *Function, m map[string]*yaml.Node, at func(string) string) {
	concurrency := m["concurrency"]
	if concurrency != nil {
		fn.Concurrency, _ = p.atLeastOne(concurrency, at("concurrency"))
	}
	for _, c := range []struct {
		key string
		to  *int
	}{{"minInstances", &fn.MinInstances}, {"spareInstances", &fn.SpareInstances}} {
		v := m[c.key]
		if v == nil {
			continue
		}
		if n, ok := p.integer(v, at(c.key)); ok {
			switch {
			case n < 0:
				p.fail(v, at(c.key), "%d is negative", n)
			case concurrency != nil && fn.Concurrency >= 1 && n > fn.Concurrency:
				p.fail(v, at(c.key), "%d is above concurrency (%d)", n, fn.Concurrency)
			}
			*c.to = n
		}
	}
}

// primeEvent reads the file primeEvent: names, which must hold JSON.
func (p *parser) primeEvent(fn *Function, v *yaml.Node, where string) {
	s, ok := p.nonEmpty(v, where)
	if !ok {
		return
	}
	path := p.resolve(s)
	b, err := os.ReadFile(path)
	switch {
	case err != nil:
		p.fail(v, where, "%s cannot be read%s", s, p.lookedFor(s, path))
	case !json.Valid(b):
		p.fail(v, where, "%s is not JSON", s)
	default:
		fn.PrimeEvent, fn.PrimeEventFile = b, path
	}
}

func (p *parser) async(n *yaml.Node, where string, x *crossRefs) FunctionAsync {
	var a FunctionAsync
	m, ok := p.fields(n, where, functionAsyncKeys...)
	if !ok {
		return a
	}
	at := func(key string) string { return where + ": " + key }
	retries := len(lambdaspec.DefaultRetryDelays)
	if v := m["maxRetries"]; v != nil {
		if r, ok := p.integer(v, at("maxRetries")); ok {
			if r < 0 || r > 2 {
				p.fail(v, at("maxRetries"), "%d is not between 0 and 2 (Lambda's range)", r)
			} else {
				retries = r
			}
		}
	}
	var delays []time.Duration
	if v := m["retryDelays"]; v != nil {
		if items, ok := p.seq(v, at("retryDelays")); ok {
			if len(items) > retries {
				p.fail(v, at("retryDelays"), "%d delays for %d retries", len(items), retries)
			}
			for j, item := range items {
				if d, ok := p.duration(item, fmt.Sprintf("%s[%d]", at("retryDelays"), j)); ok {
					if d < 0 {
						p.fail(item, fmt.Sprintf("%s[%d]", at("retryDelays"), j), "%s is negative", fmtDuration(d))
					}
					delays = append(delays, d)
				}
			}
		}
	}
	if m["maxRetries"] != nil || m["retryDelays"] != nil {
		a.RetryDelays = make([]time.Duration, retries)
		for j := range a.RetryDelays {
			if j < len(delays) {
				a.RetryDelays[j] = delays[j]
			} else {
				a.RetryDelays[j] = lambdaspec.DefaultRetryDelays[j]
			}
		}
	}
	if v := m["maxEventAge"]; v != nil {
		if d, ok := p.duration(v, at("maxEventAge")); ok {
			p.durationRange(v, at("maxEventAge"), d, 60*time.Second, 6*time.Hour, "Lambda's")
			a.MaxEventAge = d
		}
	}
	if v := m["onSuccess"]; v != nil {
		a.OnSuccess = p.destination(v, at("onSuccess"), x)
	}
	if v := m["onFailure"]; v != nil {
		a.OnFailure = p.destination(v, at("onFailure"), x)
	}
	return a
}

func (p *parser) destination(n *yaml.Node, where string, x *crossRefs) Destination {
	var d Destination
	m, ok := p.fields(n, where, destinationKeys...)
	if !ok {
		return d
	}
	fn, file := m["function"], m["file"]
	switch {
	case fn != nil && file != nil:
		p.fail(file, where, "function and file are both set; give one")
	case fn == nil && file == nil:
		p.fail(n, where, "give a function: or a file:")
	case fn != nil:
		if s, ok := p.str(fn, where+": function"); ok {
			d.Function = s
			x.dests = append(x.dests, pendingDest{node: fn, where: where, name: s})
		}
	default:
		if s, ok := p.nonEmpty(file, where+": file"); ok {
			d.File = p.resolve(s)
		}
	}
	return d
}
