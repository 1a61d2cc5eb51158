package config

// A function's schedule: triggers.

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/events"
)

func (p *parser) schedule(n *yaml.Node, where, fnName string, j int, x *crossRefs) (ScheduleTrigger, bool) {
	s := ScheduleTrigger{Line: n.Line, Enabled: true}
	m, ok := p.fields(n, where, scheduleKeys...)
	if !ok {
		return s, false
	}
	at := func(key string) string { return where + ": " + key }
	if v := m["expression"]; v == nil {
		p.fail(n, where, "expression: missing; want rate(...) or cron(...)")
	} else if expr, ok := p.str(v, at("expression")); ok {
		s.Expression = expr
		sched, err := events.ParseSchedule(expr)
		if err != nil {
			p.fail(v, at("expression"), "%v", err)
		}
		s.Schedule = sched
	}
	if v := m["input"]; v != nil {
		var buf bytes.Buffer
		if p.toJSON(&buf, v, at("input")) {
			s.Input = buf.Bytes()
		}
	}
	if v := m["enabled"]; v != nil {
		if b, ok := p.boolean(v, at("enabled")); ok {
			s.Enabled = b
		}
	}
	nameNode := m["name"]
	if nameNode != nil {
		if name, ok := p.str(nameNode, at("name")); ok {
			if !ruleNamePattern.MatchString(name) {
				p.fail(nameNode, at("name"), "%q is not a valid rule name (1 to 64 letters, digits, ., - and _)", name)
			}
			s.Name = name
		}
	} else if fnName != "" {
		s.Name = fmt.Sprintf("%s-schedule-%d", fnName, j+1)
		nameNode = n
	}
	if s.Name != "" && ruleNamePattern.MatchString(s.Name) {
		if first, dup := x.rules[s.Name]; dup {
			p.fail(nameNode, where, "rule name %s is already used by %s", s.Name, first.owner)
		} else {
			x.rules[s.Name] = seen{line: n.Line, owner: fmt.Sprintf("function %s (line %d)", fnName, n.Line)}
		}
	}
	return s, true
}
