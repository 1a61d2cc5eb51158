package eventsource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
)

// FilterCriteria is Lambda's event filtering for an event source mapping:
// a record is passed to the function when any filter's pattern matches it,
// and is otherwise dropped (deleted, committed or acknowledged) without an
// invocation, as Lambda does. No filters means every record passes.
type FilterCriteria struct {
	Filters []Filter `json:"filters,omitempty" yaml:"filters,omitempty"`
}

// Filter is one pattern, a JSON document in EventBridge's pattern syntax,
// kept as a string because that is how Lambda's API and SAM templates carry it.
type Filter struct {
	Pattern string `json:"pattern" yaml:"pattern"`
}

// filters is a compiled FilterCriteria.
type filters []pattern

// pattern is a compiled filter: for each field, either a nested pattern or
// a list of matchers; $or holds alternatives.
type pattern struct {
	fields map[string]fieldPattern
	or     []pattern
}

type fieldPattern struct {
	nested   *pattern
	matchers []matcher
}

// matcher says whether one leaf value matches. present is false when the
// field is absent from the record (only {"exists": false} matches then).
type matcher func(v any, present bool) bool

// compileFilters checks every pattern and compiles it; errors name the
// filter and say what is wrong, as Lambda's InvalidParameterValueException does.
func compileFilters(fc FilterCriteria) (filters, error) {
	var fs filters
	for i, f := range fc.Filters {
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(f.Pattern))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil || doc == nil {
			return nil, fmt.Errorf("filterCriteria.filters[%d].pattern: not a JSON object: %q", i, f.Pattern)
		}
		p, err := compilePattern(doc)
		if err != nil {
			return nil, fmt.Errorf("filterCriteria.filters[%d].pattern: %w", i, err)
		}
		fs = append(fs, p)
	}
	return fs, nil
}

func compilePattern(doc map[string]any) (pattern, error) {
	p := pattern{fields: map[string]fieldPattern{}}
	for k, v := range doc {
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return p, errors.New(`"$or" takes an array of at least two patterns`)
			}
			for _, a := range alts {
				obj, ok := a.(map[string]any)
				if !ok {
					return p, errors.New(`"$or" takes an array of pattern objects`)
				}
				alt, err := compilePattern(obj)
				if err != nil {
					return p, err
				}
				p.or = append(p.or, alt)
			}
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			n, err := compilePattern(v)
			if err != nil {
				return p, fmt.Errorf("%s.%w", k, err)
			}
			p.fields[k] = fieldPattern{nested: &n}
		case []any:
			if len(v) == 0 {
				return p, fmt.Errorf("%s: empty array of matchers", k)
			}
			var ms []matcher
			for _, m := range v {
				cm, err := compileMatcher(m)
				if err != nil {
					return p, fmt.Errorf("%s: %w", k, err)
				}
				ms = append(ms, cm)
			}
			p.fields[k] = fieldPattern{matchers: ms}
		default:
			return p, fmt.Errorf("%s: match values must be in an array, e.g. [%s]", k, mustJSON(v))
		}
	}
	return p, nil
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func compileMatcher(m any) (matcher, error) {
	switch m := m.(type) {
	case nil, string, bool, json.Number:
		return func(v any, present bool) bool { return present && equalLiteral(m, v) }, nil
	case map[string]any:
		if len(m) != 1 {
			return nil, fmt.Errorf("a matcher object has exactly one key: %s", mustJSON(m))
		}
		for op, arg := range m {
			return compileOperator(op, arg)
		}
	}
	return nil, fmt.Errorf("unsupported matcher %s", mustJSON(m))
}

func compileOperator(op string, arg any) (matcher, error) {
	switch op {
	case "exists":
		want, ok := arg.(bool)
		if !ok {
			return nil, errors.New(`"exists" takes true or false`)
		}
		return func(_ any, present bool) bool { return present == want }, nil
	case "prefix", "suffix", "equals-ignore-case", "wildcard":
		test, err := stringTest(op, arg)
		if err != nil {
			return nil, err
		}
		return func(v any, present bool) bool {
			s, ok := v.(string)
			return present && ok && test(s)
		}, nil
	case "anything-but":
		var tests []func(any) bool
		switch a := arg.(type) {
		case []any:
			for _, x := range a {
				if _, ok := x.(map[string]any); ok {
					return nil, errors.New(`"anything-but" takes a value, an array of values, or one of prefix, suffix, equals-ignore-case, wildcard`)
				}
				tests = append(tests, func(v any) bool { return equalLiteral(x, v) })
			}
		case map[string]any:
			if len(a) != 1 {
				return nil, errors.New(`"anything-but" takes one of prefix, suffix, equals-ignore-case, wildcard`)
			}
			for sop, sarg := range a {
				test, err := stringTest(sop, sarg)
				if err != nil {
					return nil, fmt.Errorf("anything-but: %w", err)
				}
				tests = append(tests, func(v any) bool { s, ok := v.(string); return ok && test(s) })
			}
		default:
			tests = append(tests, func(v any) bool { return equalLiteral(a, v) })
		}
		return func(v any, present bool) bool {
			if !present {
				return false
			}
			for _, t := range tests {
				if t(v) {
					return false
				}
			}
			return true
		}, nil
	case "numeric":
		return compileNumeric(arg)
	}
	return nil, fmt.Errorf("unsupported operator %q", op)
}

// stringTest compiles prefix, suffix, equals-ignore-case and wildcard;
// prefix and suffix also take {"equals-ignore-case": "…"}.
func stringTest(op string, arg any) (func(string) bool, error) {
	fold := false
	if obj, ok := arg.(map[string]any); ok && (op == "prefix" || op == "suffix") && len(obj) == 1 {
		if inner, ok := obj["equals-ignore-case"]; ok {
			fold, arg = true, inner
		}
	}
	want, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("%q takes a string", op)
	}
	norm := func(s string) string { return s }
	if fold {
		norm = strings.ToLower
		want = strings.ToLower(want)
	}
	switch op {
	case "prefix":
		return func(s string) bool { return strings.HasPrefix(norm(s), want) }, nil
	case "suffix":
		return func(s string) bool { return strings.HasSuffix(norm(s), want) }, nil
	case "equals-ignore-case":
		return func(s string) bool { return strings.EqualFold(s, want) }, nil
	case "wildcard":
		// path.Match treats only *, ? and [ specially; escape the latter two
		// so that * is the one wildcard, as in EventBridge.
		glob := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `[`, `\[`).Replace(want)
		if _, err := path.Match(glob, ""); err != nil {
			return nil, fmt.Errorf("wildcard %q: %v", want, err)
		}
		return func(s string) bool {
			// path.Match's * stops at '/', EventBridge's does not.
			ok, _ := path.Match(strings.ReplaceAll(glob, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
			return ok
		}, nil
	}
	return nil, fmt.Errorf("unsupported operator %q", op)
}

func compileNumeric(arg any) (matcher, error) {
	a, ok := arg.([]any)
	if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
		return nil, errors.New(`"numeric" takes [op, number] or [op, number, op, number], e.g. [">", 0, "<=", 5]`)
	}
	type bound struct {
		op string
		n  float64
	}
	var bounds []bound
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		num, ok2 := a[i+1].(json.Number)
		if !ok || !ok2 {
			return nil, errors.New(`"numeric" takes operator, number pairs`)
		}
		switch op {
		case "<", "<=", "=", ">", ">=":
		default:
			return nil, fmt.Errorf("numeric: unsupported operator %q", op)
		}
		f, err := num.Float64()
		if err != nil {
			return nil, fmt.Errorf("numeric: %v", err)
		}
		bounds = append(bounds, bound{op, f})
	}
	return func(v any, present bool) bool {
		x, ok := number(v)
		if !present || !ok {
			return false
		}
		for _, b := range bounds {
			var in bool
			switch b.op {
			case "<":
				in = x < b.n
			case "<=":
				in = x <= b.n
			case "=":
				in = x == b.n
			case ">":
				in = x > b.n
			case ">=":
				in = x >= b.n
			}
			if !in {
				return false
			}
		}
		return true
	}, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	case float64:
		return n, true
	}
	return 0, false
}

// equalLiteral compares a pattern literal with a record value: numbers by
// value (5 matches 5.0), the rest exactly.
func equalLiteral(want, v any) bool {
	if wn, ok := want.(json.Number); ok {
		a, _ := number(wn)
		b, ok := number(v)
		return ok && a == b
	}
	return want == v
}

// match says whether the record passes the filters.
func (fs filters) match(record map[string]any) bool {
	if len(fs) == 0 {
		return true
	}
	for _, p := range fs {
		if p.match(record) {
			return true
		}
	}
	return false
}

func (p *pattern) match(obj map[string]any) bool {
	for k, fp := range p.fields {
		v, present := obj[k]
		if !fp.match(v, present) {
			return false
		}
	}
	if len(p.or) == 0 {
		return true
	}
	for i := range p.or {
		if p.or[i].match(obj) {
			return true
		}
	}
	return false
}

func (fp fieldPattern) match(v any, present bool) bool {
	if fp.nested != nil {
		switch v := v.(type) {
		case map[string]any:
			return fp.nested.match(v)
		case []any: // any element of an array of objects
			for _, e := range v {
				if o, ok := e.(map[string]any); ok && fp.nested.match(o) {
					return true
				}
			}
		}
		return false
	}
	if arr, ok := v.([]any); ok && present { // any element of an array of values
		for _, e := range arr {
			for _, m := range fp.matchers {
				if m(e, true) {
					return true
				}
			}
		}
		return false
	}
	for _, m := range fp.matchers {
		if m(v, present) {
			return true
		}
	}
	return false
}

// filterRecord turns a record into the document its filters see: the
// record's JSON with the field holding the message data (body for SQS,
// value for Kafka, data for RabbitMQ) replaced by that data parsed as JSON
// when it is JSON, and left a plain string when it is not.
func filterRecord(record any, dataField string, data []byte) map[string]any {
	b, _ := json.Marshal(record)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	_ = dec.Decode(&doc)
	if doc == nil {
		doc = map[string]any{}
	}
	var parsed any
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&parsed); err == nil && !dec.More() {
		if _, isObj := parsed.(map[string]any); isObj {
			doc[dataField] = parsed
			return doc
		}
	}
	doc[dataField] = string(data)
	return doc
}
