package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/lambdaspec"
)

// Load reads and parses the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// LoadTemplate reads and parses the file at path like Load, but keeps
// ${NAME} references in environment values as written, unexpanded and
// not required to be set: for writing the config elsewhere (ferry image,
// ferry k8s), where the process that serves it expands them from its own
// environment, and so that secrets are never copied into an image or a
// ConfigMap.
func LoadTemplate(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(path, data)
}

// ParseTemplate is Parse without expanding ${NAME} references (see
// LoadTemplate).
func ParseTemplate(path string, data []byte) (*File, error) {
	return parse(path, data, true)
}

// Parse parses data as ferry.yaml. path is used in messages, and its
// directory is where relative module, source, spoolDir and destination
// file paths start from. Module files and source directories must exist.
//
// The error, when there is one, lists every problem found, one a line, as
// "path:line: where: what", in line order.
func Parse(path string, data []byte) (*File, error) {
	return parse(path, data, false)
}

func parse(path string, data []byte, keepRefs bool) (*File, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	p := &parser{file: path, dir: dir, getenv: os.LookupEnv, keepRefs: keepRefs}
	f := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// parser collects every error, each with its line.
type parser struct {
	file string // as given, for messages
	dir  string // absolute, for relative paths
	errs []lineError
	// getenv looks up ${NAME} references in environment values.
	getenv func(string) (string, bool)
	// keepRefs keeps the references as written (ParseTemplate), after
	// checking their syntax.
	keepRefs bool
}

type lineError struct {
	line int
	msg  string
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].line < p.errs[j].line })
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		if e.line > 0 {
			errs[i] = fmt.Errorf("%s:%d: %s", p.file, e.line, e.msg)
		} else {
			errs[i] = fmt.Errorf("%s: %s", p.file, e.msg)
		}
	}
	return errors.Join(errs...)
}

// fail records an error at n's line; where is the path to the value, like
// "functions[1] (hello): memory".
func (p *parser) fail(n *yaml.Node, where, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	p.errs = append(p.errs, lineError{line, msg})
}

// yamlLine matches yaml.v3's syntax errors, which carry the line.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *File {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			p.fail(nil, "", "the file is empty; it needs at least a functions list")
			return nil
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.fail(&yaml.Node{Line: line}, "", "%s", m[2])
			return nil
		}
		p.fail(nil, "", "%s", msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		line := extra.Line
		if err != nil {
			line = 0
		}
		p.fail(&yaml.Node{Line: line}, "", "only one YAML document is allowed")
		return nil
	}
	root := doc.Content[0]
	if !p.aliasesBounded(root) {
		return nil
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		p.fail(root, "", "the file is empty; it needs at least a functions list")
		return nil
	}
	return p.file1(root)
}

// maxExpandedNodes bounds the nodes the file may have with every alias
// expanded: a ferry.yaml of a thousand functions has some tens of
// thousands, and "billion laughs" (aliases of aliases of lists) has 10^9.
const maxExpandedNodes = 1_000_000

// aliasesBounded refuses a file whose aliases make a cycle (an alias inside
// the node it refers to, through a list, a mapping or a merge key), or
// expand it past maxExpandedNodes. The parser walks the document with
// aliases followed, so either would otherwise hang it, exhaust memory or
// overflow the stack. It counts each node once (the size of what an
// anchor expands to is remembered), so the check itself is linear in the
// file's size.
func (p *parser) aliasesBounded(root *yaml.Node) bool {
	const (
		visiting = 1
		done     = 2
	)
	state := map[*yaml.Node]int{}
	size := map[*yaml.Node]int{}
	ok := true
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if !ok {
			return 0
		}
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			if state[n.Alias] == visiting {
				ok = false
				p.fail(n, "", "the alias *%s is inside the node &%s it refers to: an alias may not refer to a node that contains it", n.Value, n.Value)
				return 0
			}
			return 1 + walk(n.Alias)
		}
		switch state[n] {
		case done:
			return size[n]
		case visiting:
			return 0
		}
		state[n] = visiting
		total := 1
		for _, c := range n.Content {
			total = min(total+walk(c), maxExpandedNodes+1)
		}
		state[n] = done
		size[n] = total
		return total
	}
	if total := walk(root); ok && total > maxExpandedNodes {
		ok = false
		p.fail(root, "", "aliases expand the file to more than %d nodes (a YAML alias bomb?); write the values out or use fewer aliases", maxExpandedNodes)
	}
	return ok
}

func (p *parser) file1(root *yaml.Node) *File {
	f := &File{Path: p.file}
	m, ok := p.fields(root, "", fileKeys...)
	if !ok {
		return nil
	}
	if n := m["region"]; n != nil {
		if s, ok := p.str(n, "region"); ok {
			if !regionPattern.MatchString(s) {
				p.fail(n, "region", "%q is not a region name like us-east-1", s)
			}
			f.Region = s
		}
	}
	if f.Region == "" {
		f.Region = os.Getenv("AWS_REGION")
	}
	if f.Region == "" {
		f.Region = "us-east-1"
	}
	if n := m["accountId"]; n != nil {
		// An unquoted account ID is a YAML number; its text, leading
		// zeros and all, is still the ID.
		if n.Kind == yaml.ScalarNode && n.Style == 0 && accountPattern.MatchString(n.Value) {
			f.AccountID = n.Value
		} else if s, ok := p.str(n, "accountId"); ok {
			if !accountPattern.MatchString(s) {
				p.fail(n, "accountId", "%q is not a 12-digit AWS account ID", s)
			}
			f.AccountID = s
		}
	}
	if n := m["logFormat"]; n != nil {
		if s, ok := p.str(n, "logFormat"); ok {
			if s != "Text" && s != "JSON" {
				p.fail(n, "logFormat", "%q is not Text or JSON", s)
			}
			f.LogFormat = s
		}
	}
	if n := m["async"]; n != nil {
		if a, ok := p.fields(n, "async", queueKeys...); ok {
			if n := a["maxQueued"]; n != nil {
				f.Async.MaxQueued, _ = p.atLeastOne(n, "async: maxQueued")
			}
			if n := a["queueSize"]; n != nil {
				f.Async.QueueSize, _ = p.atLeastOne(n, "async: queueSize")
			}
			if n := a["spoolDir"]; n != nil {
				if s, ok := p.nonEmpty(n, "async: spoolDir"); ok {
					f.Async.SpoolDir = p.resolve(s)
				}
			}
		}
	}
	if n := m["azureApps"]; n != nil {
		p.azureApps(f, n)
	}
	if n := m["kubernetes"]; n != nil {
		f.Kubernetes = p.kubernetes(n)
	}
	n := m["functions"]
	if n == nil {
		if m["azureApps"] == nil {
			p.fail(root, "", "functions: missing; the file needs at least one function or Azure app")
		}
		return f
	}
	p.functions(f, n)
	return f
}

// allowedHosts parses an allowedOutboundHosts list; nil when it is not a
// list.
func (p *parser) allowedHosts(v *yaml.Node, where string) []string {
	items, ok := p.seq(v, where)
	if !ok {
		return nil
	}
	hosts := []string{}
	for j, item := range items {
		w := fmt.Sprintf("%s[%d]", where, j)
		if s, ok := p.nonEmpty(item, w); ok {
			if _, err := lambdaspec.ParseHostPattern(s); err != nil {
				p.fail(item, w, "%v", err)
				continue
			}
			hosts = append(hosts, s)
		}
	}
	return hosts
}

var (
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountPattern   = regexp.MustCompile(`^\d{12}$`)
	envKeyPattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	ruleNamePattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	paramNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// path reads a path relative to the file's folder that must exist: a
// directory when dir is set (else "directory ... does not exist"), a file
// otherwise. wrongKind is the message, with the path as written, for the
// other kind. It returns the resolved path, also when it does not exist,
// and false when v is not a non-empty string.
func (p *parser) path(v *yaml.Node, where string, dir bool, wrongKind string) (string, bool) {
	s, ok := p.nonEmpty(v, where)
	if !ok {
		return "", false
	}
	resolved := p.resolve(s)
	switch st, err := os.Stat(resolved); {
	case err != nil && dir:
		p.fail(v, where, "directory %s does not exist%s", s, p.lookedFor(s, resolved))
	case err != nil:
		p.fail(v, where, "%s does not exist%s", s, p.lookedFor(s, resolved))
	case st.IsDir() != dir:
		p.fail(v, where, wrongKind, s)
	}
	return resolved, true
}

// lambdaMB reads a size in MB within Lambda's [lo, hi].
func (p *parser) lambdaMB(v *yaml.Node, where string, lo, hi int) (int, bool) {
	mb, ok := p.integer(v, where)
	if !ok {
		return 0, false
	}
	switch {
	case mb < lo:
		p.fail(v, where, "%d is below Lambda's minimum of %d MB", mb, lo)
	case mb > hi:
		p.fail(v, where, "%d is above Lambda's maximum of %d MB", mb, hi)
	}
	return mb, true
}

// atLeastOne reads an integer of at least 1 (a concurrency, a queue size).
func (p *parser) atLeastOne(v *yaml.Node, where string) (int, bool) {
	n, ok := p.integer(v, where)
	if !ok {
		return 0, false
	}
	if n < 1 {
		p.fail(v, where, "%d is below the minimum of 1", n)
	}
	return n, true
}

// lookedFor names the absolute path a relative one was looked for at.
func (p *parser) lookedFor(written, abs string) string {
	if filepath.IsAbs(written) {
		return ""
	}
	return " (looked for " + abs + ")"
}

func (p *parser) resolve(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.dir, s)
}

func (p *parser) environment(n *yaml.Node, where string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.fail(n, where, "want a mapping of names to values, got %s", describe(n))
		return nil
	}
	env := map[string]string{}
	lines := map[string]int{}
	for _, e := range p.entries(n, where) {
		k, v := e.key, e.value
		if k.Kind != yaml.ScalarNode || !envKeyPattern.MatchString(k.Value) {
			p.fail(k, where, "%s is not a valid variable name (a letter, then letters, digits and _)", describe(k))
			continue
		}
		if line, dup := lines[k.Value]; dup {
			p.fail(k, where, "%s is already set at line %d", k.Value, line)
			continue
		}
		lines[k.Value] = k.Line
		// Like SAM, numbers and booleans are accepted and kept as written.
		switch {
		case v.Kind != yaml.ScalarNode:
			p.fail(v, where+": "+k.Value, "want a string, got %s", describe(v))
		case v.ShortTag() == "!!null":
			p.fail(v, where+": "+k.Value, `want a string, got null; write "" for an empty value`)
		default:
			getenv := p.getenv
			if p.keepRefs {
				getenv = func(string) (string, bool) { return "", true }
			}
			val, err := expand(v.Value, getenv)
			if p.keepRefs {
				val = v.Value
			}
			if err != nil {
				p.fail(v, where+": "+k.Value, "%v", err)
				continue
			}
			env[k.Value] = val
		}
	}
	return env
}

// expand replaces each ${NAME} in s with the variable NAME of ferry's own
// environment, so that secrets (a Kubernetes Secret's env, AWS
// credentials) reach a function without being written in the file. $$ is
// a literal $; any other $ is kept as written. A variable that is not set
// is an error: a function silently missing its secret fails later and
// further from the cause.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '$' || i+1 == len(s):
			b.WriteByte(s[i])
		case s[i+1] == '$':
			b.WriteByte('$')
			i++
		case s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: unclosed ${", s)
			}
			name := s[i+2 : i+end]
			if !envKeyPattern.MatchString(name) {
				return "", fmt.Errorf("%q: ${%s} is not a variable name", s, name)
			}
			v, ok := getenv(name)
			if !ok {
				return "", fmt.Errorf("${%s} is not set in ferry's environment", name)
			}
			b.WriteString(v)
			i += end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// toJSON writes n as JSON, keeping mapping keys in file order.
func (p *parser) toJSON(buf *bytes.Buffer, n *yaml.Node, where string) bool {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		keys := map[string]bool{}
		for i, e := range p.entries(n, where) {
			k := e.key
			if k.Kind != yaml.ScalarNode {
				p.fail(k, where, "a key is %s; JSON keys are strings", describe(k))
				return false
			}
			if keys[k.Value] {
				p.fail(k, where, "key %q appears twice", k.Value)
				return false
			}
			keys[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if !p.toJSON(buf, e.value, where+"."+k.Value) {
				return false
			}
		}
		buf.WriteByte('}')
		return true
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if !p.toJSON(buf, item, fmt.Sprintf("%s[%d]", where, i)) {
				return false
			}
		}
		buf.WriteByte(']')
		return true
	case yaml.ScalarNode:
		var v any
		switch n.ShortTag() {
		case "!!null":
			v = nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				p.fail(n, where, "%v", err)
				return false
			}
			v = b
		case "!!int", "!!float":
			var f any
			if err := n.Decode(&f); err != nil {
				p.fail(n, where, "%v", err)
				return false
			}
			if x, ok := f.(float64); ok && (math.IsInf(x, 0) || math.IsNaN(x)) {
				p.fail(n, where, "%s has no JSON form", n.Value)
				return false
			}
			v = f
		default: // strings, and timestamps kept as written
			v = n.Value
		}
		data, err := json.Marshal(v)
		if err != nil {
			p.fail(n, where, "%v", err)
			return false
		}
		buf.Write(data)
		return true
	}
	p.fail(n, where, "cannot be converted to JSON")
	return false
}

// The value helpers below report a wrong type and return ok = false.

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// entry is a key and its value in a mapping.
type entry struct{ key, value *yaml.Node }

// entries lists a mapping's keys and values, resolving YAML merge keys
// (<<: *anchor, or a list of them): merged keys come after the mapping's
// own and never override them, and earlier merges win over later ones.
func (p *parser) entries(n *yaml.Node, where string) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			own = append(own, entry{k, v})
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src = deref(src); src.Kind != yaml.MappingNode {
				p.fail(src, where, "<< merges a mapping, not %s", describe(src))
				continue
			}
			merged = append(merged, p.entries(src, where)...)
		}
	}
	have := map[string]bool{}
	for _, e := range own {
		have[e.key.Value] = true
	}
	for _, e := range merged {
		if !have[e.key.Value] {
			have[e.key.Value] = true
			own = append(own, e)
		}
	}
	return own
}

// describe names a node's type and value for messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int":
			return "the integer " + shown(n.Value)
		case "!!float":
			return "the number " + shown(n.Value)
		case "!!bool":
			return "the boolean " + shown(n.Value)
		case "!!null":
			return "null"
		case "!!timestamp":
			return "the timestamp " + shown(n.Value)
		}
		return fmt.Sprintf("%s %s", n.ShortTag(), shown(n.Value))
	}
	return "an unexpected node"
}

// shown is a scalar's value as a message shows it: as written, or quoted
// when it holds a line break or another character that does not print
// (an explicit tag keeps a multi-line scalar whole), so that each line of
// an error stays "file:N: ...".
func shown(v string) string {
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return strconv.Quote(v)
		}
	}
	return v
}

// fields checks that n is a mapping whose keys are among keys, each at
// most once, and returns the value of each key present.
func (p *parser) fields(n *yaml.Node, where string, keys ...string) (map[string]*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.fail(n, where, "want a mapping with keys %s, got %s", strings.Join(keys, ", "), describe(n))
		return nil, false
	}
	m := map[string]*yaml.Node{}
	lines := map[string]int{}
	for _, e := range p.entries(n, where) {
		k, v := e.key, e.value
		if where == "" && strings.HasPrefix(k.Value, "x-") {
			continue // top-level extension keys hold anchors, like Compose's
		}
		known := false
		for _, key := range keys {
			known = known || k.Kind == yaml.ScalarNode && k.Value == key
		}
		switch {
		case !known:
			p.fail(k, where, "unknown key %s%s (want one of %s)", keyText(k), suggest(k, keys), strings.Join(keys, ", "))
		case lines[k.Value] != 0:
			p.fail(k, where, "duplicate key %s (first at line %d)", k.Value, lines[k.Value])
		default:
			lines[k.Value] = k.Line
			m[k.Value] = v
		}
	}
	return m, true
}

func keyText(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return strconv.Quote(k.Value)
	}
	return describe(k)
}

// samKeys maps SAM template property names to this file's keys.
var samKeys = map[string]string{
	"memorysize": "memory", "codeuri": "source", "events": "http",
	"reservedconcurrentexecutions": "concurrency", "variables": "environment",
	"maximumretryattempts": "maxRetries", "maximumeventageinseconds": "maxEventAge",
}

// suggest offers the key that was probably meant.
func suggest(k *yaml.Node, keys []string) string {
	if k.Kind != yaml.ScalarNode {
		return ""
	}
	for _, key := range keys {
		if strings.EqualFold(k.Value, key) {
			return fmt.Sprintf("; did you mean %q?", key)
		}
	}
	if key, ok := samKeys[strings.ToLower(k.Value)]; ok {
		for _, known := range keys {
			if known == key {
				return fmt.Sprintf("; did you mean %q?", key)
			}
		}
	}
	for _, key := range keys {
		if d := editDistance(strings.ToLower(k.Value), strings.ToLower(key)); d <= 2 && d < len(key)/2 {
			return fmt.Sprintf("; did you mean %q?", key)
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (p *parser) seq(n *yaml.Node, where string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.fail(n, where, "want a list, got %s", describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		items[i] = deref(item)
	}
	return items, true
}

func (p *parser) str(n *yaml.Node, where string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.fail(n, where, "want a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) nonEmpty(n *yaml.Node, where string) (string, bool) {
	s, ok := p.str(n, where)
	if ok && s == "" {
		p.fail(n, where, "is empty")
		return "", false
	}
	return s, ok
}

func (p *parser) strs(n *yaml.Node, where string) ([]string, bool) {
	items, ok := p.seq(n, where)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if s, ok := p.str(item, fmt.Sprintf("%s[%d]", where, i)); ok {
			out = append(out, s)
		} else {
			ok = false
		}
	}
	return out, len(out) == len(items)
}

func (p *parser) integer(n *yaml.Node, where string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.fail(n, where, "want an integer, got %s", describe(n))
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, where string) (bool, bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		p.fail(n, where, "want true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// duration reads a number of seconds (SAM style) or a Go duration string.
func (p *parser) duration(n *yaml.Node, where string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int", "!!float":
			var secs float64
			if err := n.Decode(&secs); err == nil && !math.IsNaN(secs) && math.Abs(secs) < math.MaxInt64/float64(time.Second) {
				return time.Duration(math.Round(secs * float64(time.Second))), true
			}
		case "!!str":
			if d, err := time.ParseDuration(n.Value); err == nil {
				return d, true
			}
		}
	}
	p.fail(n, where, "want a duration like 30s, 500ms or 5m, or a number of seconds; got %s", describe(n))
	return 0, false
}

func (p *parser) durationRange(n *yaml.Node, where string, d, lo, hi time.Duration, whose string) {
	switch {
	case d < lo:
		p.fail(n, where, "%s is below %s minimum of %s", fmtDuration(d), whose, fmtDuration(lo))
	case d > hi:
		p.fail(n, where, "%s is above %s maximum of %s", fmtDuration(d), whose, fmtDuration(hi))
	}
}

// fmtDuration is d.String() without zero minutes and seconds: 6h, 1m30s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Expand replaces ${NAME} references in s, a value of a file parsed as a
// template (LoadTemplate), as Parse would have: from the process's
// environment, $$ for a literal $, NAME unset an error.
func Expand(s string) (string, error) { return expand(s, os.LookupEnv) }
