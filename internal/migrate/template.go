package migrate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// template is a parsed CloudFormation (or SAM) template with what its
// intrinsic functions need: parameter values, conditions, mappings and the
// resources a reference can name. Values are evaluated from the yaml.v3
// nodes, so that every error can name the file and line it comes from.
type template struct {
	file       string
	params     map[string]any // resolved values: string, or []any for list types
	paramLines map[string]int
	missing    map[string]int // parameters with neither Default nor override, by line
	conditions map[string]*yaml.Node
	condValues map[string]bool
	condBusy   map[string]bool
	mappings   *yaml.Node
	resources  map[string]*resource
	order      []*resource
	region     string
	accountID  string
	stackName  string
	// functionNames maps a function resource's logical ID to its ferry
	// name, for Ref and Fn::GetAtt .Arn.
	functionNames map[string]string
	depth         int // of eval, against cycles through aliases
	steps         int // of eval, against alias bombs
	// placeholders are the values ferry cannot know, each now a ${NAME}
	// reference to ferry's environment, with where they were found.
	placeholders []placeholder
}

type resource struct {
	id, typ  string
	node     *yaml.Node
	props    *yaml.Node // nil when the resource has no Properties
	metadata *yaml.Node
	cond     string
	line     int
}

type placeholder struct {
	name, what, path string
	line             int
}

// Limits on evaluating a template: real ones stay far below them.
const (
	maxDepth = 100
	maxSteps = 1_000_000
)

// noValue is what AWS::NoValue evaluates to: the enclosing key or list
// item is dropped.
type noValue struct{}

// Markers around a placeholder's name inside an evaluated string. They
// are private-use characters, so no template text contains them, and
// turn into ${NAME} after $ has been escaped for ferry.yaml.
const (
	phOpen  = "\uE000"
	phClose = "\uE001"
)

// badInput is an error in the input itself: exit status 2.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

// errorf is bad input at a node: "file:line: path: message".
func (t *template) errorf(n *yaml.Node, path, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &badInput{fmt.Sprintf("%s:%d: %s: %s", t.file, line, path, fmt.Sprintf(format, args...))}
}

// newTemplate reads a CloudFormation template's sections.
func newTemplate(file string, root *yaml.Node, overrides map[string]string, region, accountID, stack string) (*template, error) {
	t := &template{file: file, params: map[string]any{}, paramLines: map[string]int{}, missing: map[string]int{},
		conditions: map[string]*yaml.Node{}, condValues: map[string]bool{}, condBusy: map[string]bool{},
		resources: map[string]*resource{}, functionNames: map[string]string{},
		region: region, accountID: accountID, stackName: stack}
	if root.Kind != yaml.MappingNode {
		return nil, t.errorf(root, "template", "want a mapping at the top level, got %s", kindName(root))
	}
	if p := mapGet(root, "Parameters"); p != nil {
		for _, kv := range pairs(p) {
			name := kv[0].Value
			t.paramLines[name] = kv[0].Line
			typ := ""
			if tn := mapGet(kv[1], "Type"); tn != nil {
				typ = tn.Value
			}
			var val *string
			if d := mapGet(kv[1], "Default"); d != nil && d.Kind == yaml.ScalarNode {
				val = &d.Value
			}
			if o, ok := overrides[name]; ok {
				val = &o
			}
			if ne := mapGet(kv[1], "NoEcho"); ne != nil && ne.Value == "true" {
				// A secret stays out of ferry.yaml: functions read it from
				// ferry's environment.
				t.params[name] = t.placeholder(envName(name), "the NoEcho parameter "+name, kv[0], "Parameters."+name)
				continue
			}
			if val == nil {
				t.missing[name] = kv[0].Line
				continue
			}
			if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
				var items []any
				for _, s := range strings.Split(*val, ",") {
					items = append(items, strings.TrimSpace(s))
				}
				t.params[name] = items
			} else {
				t.params[name] = *val
			}
		}
	}
	for name := range overrides {
		if _, ok := t.paramLines[name]; !ok {
			return nil, &badInput{fmt.Sprintf("--parameter-overrides: %s is not a parameter of %s", name, file)}
		}
	}
	if c := mapGet(root, "Conditions"); c != nil {
		for _, kv := range pairs(c) {
			t.conditions[kv[0].Value] = kv[1]
		}
	}
	t.mappings = mapGet(root, "Mappings")
	res := mapGet(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, t.errorf(root, "Resources", "missing: a template has a Resources section")
	}
	for _, kv := range pairs(res) {
		r := &resource{id: kv[0].Value, node: kv[1], line: kv[0].Line}
		if kv[1].Kind != yaml.MappingNode {
			return nil, t.errorf(kv[1], "Resources."+r.id, "want a mapping, got %s", kindName(kv[1]))
		}
		if tn := mapGet(kv[1], "Type"); tn != nil {
			r.typ = tn.Value
		} else {
			return nil, t.errorf(kv[1], "Resources."+r.id, "Type: missing")
		}
		r.props = mapGet(kv[1], "Properties")
		r.metadata = mapGet(kv[1], "Metadata")
		if cn := mapGet(kv[1], "Condition"); cn != nil {
			r.cond = cn.Value
		}
		t.resources[r.id] = r
		t.order = append(t.order, r)
	}
	return t, nil
}

// active reports whether the resource's Condition holds.
func (t *template) active(r *resource) (bool, error) {
	if r.cond == "" {
		return true, nil
	}
	return t.condition(r.cond, r.node, "Resources."+r.id+".Condition")
}

// condition evaluates a named condition once.
func (t *template) condition(name string, at *yaml.Node, path string) (bool, error) {
	if v, ok := t.condValues[name]; ok {
		return v, nil
	}
	n, ok := t.conditions[name]
	if !ok {
		return false, t.errorf(at, path, "no condition named %s in Conditions", name)
	}
	if t.condBusy[name] {
		return false, t.errorf(n, "Conditions."+name, "the condition refers to itself")
	}
	t.condBusy[name] = true
	v, err := t.condExpr(n, "Conditions."+name)
	t.condBusy[name] = false
	if err != nil {
		return false, err
	}
	t.condValues[name] = v
	return v, nil
}

// condExpr evaluates a condition function.
func (t *template) condExpr(n *yaml.Node, path string) (bool, error) {
	fn, arg := intrinsic(n)
	switch fn {
	case "Condition":
		return t.condition(arg.Value, arg, path)
	case "Fn::Equals":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
			return false, t.errorf(n, path, "Fn::Equals takes a list of two values")
		}
		a, err := t.evalString(arg.Content[0], path)
		if err != nil {
			return false, err
		}
		b, err := t.evalString(arg.Content[1], path)
		if err != nil {
			return false, err
		}
		if strings.Contains(a+b, phOpen) {
			return false, t.errorf(n, path, "cannot decide: it compares a value ferry cannot know (%s); pass --parameter-overrides for the parameters it depends on", strings.NewReplacer(phOpen, "${", phClose, "}").Replace(a+" = "+b))
		}
		return a == b, nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) == 0 {
			return false, t.errorf(n, path, "%s takes a list of conditions", fn)
		}
		var vals []bool
		for _, c := range arg.Content {
			v, err := t.condExpr(c, path)
			if err != nil {
				return false, err
			}
			vals = append(vals, v)
		}
		switch fn {
		case "Fn::Not":
			return !vals[0], nil
		case "Fn::And":
			return !slices.Contains(vals, false), nil
		default:
			return slices.Contains(vals, true), nil
		}
	}
	return false, t.errorf(n, path, "not a condition: want Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")
}

// shortTags are the YAML short forms of the intrinsic functions.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap", "!ImportValue": "Fn::ImportValue",
	"!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs", "!Cidr": "Fn::Cidr", "!Transform": "Fn::Transform",
}

// intrinsic returns the function a node calls and its argument, or "" when
// the node is a plain value. A short tag's argument is the node itself
// without the tag.
func intrinsic(n *yaml.Node) (string, *yaml.Node) {
	n = deref(n)
	if n == nil {
		return "", nil
	}
	if fn, ok := shortTags[n.Tag]; ok {
		arg := *n
		arg.Tag = ""
		arg.Style &^= yaml.TaggedStyle
		return fn, &arg
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, deref(n.Content[1])
		}
	}
	return "", nil
}

// node resolves the intrinsics that choose a structure (Fn::If,
// AWS::NoValue) and returns the node chosen, or nil for no value.
func (t *template) node(n *yaml.Node, path string) (*yaml.Node, error) {
	for {
		n = deref(n)
		fn, arg := intrinsic(n)
		switch fn {
		case "Fn::If":
			if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
				return nil, t.errorf(n, path, "Fn::If takes [condition, value if true, value if false]")
			}
			ok, err := t.condition(arg.Content[0].Value, arg.Content[0], path)
			if err != nil {
				return nil, err
			}
			if ok {
				n = arg.Content[1]
			} else {
				n = arg.Content[2]
			}
			continue
		case "Ref":
			if arg.Value == "AWS::NoValue" {
				return nil, nil
			}
		}
		return n, nil
	}
}

// field returns the value of key in the mapping n, after Fn::If; nil when
// absent or AWS::NoValue.
func (t *template) field(n *yaml.Node, key, path string) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	n, err := t.node(n, path)
	if err != nil || n == nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, t.errorf(n, path, "want a mapping, got %s", kindName(n))
	}
	v := mapGet(n, key)
	if v == nil {
		return nil, nil
	}
	return t.node(v, path+"."+key)
}

// eval evaluates n to a string, a []any, a map[string]any, nil, or noValue.
func (t *template) eval(n *yaml.Node, path string) (any, error) {
	// An alias inside its own anchor makes a cycle, and aliases of
	// aliases a value far larger than its text.
	if t.steps++; t.steps > maxSteps {
		return nil, t.errorf(n, path, "the template's values are larger than %d nodes once its aliases are expanded", maxSteps)
	}
	if t.depth++; t.depth > maxDepth {
		t.depth--
		return nil, t.errorf(n, path, "nested more than %d levels deep (an alias inside its own anchor?)", maxDepth)
	}
	defer func() { t.depth-- }()
	n, err := t.node(n, path)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return noValue{}, nil
	}
	if fn, arg := intrinsic(n); fn != "" {
		return t.call(fn, arg, n, path)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		var out []any
		for i, c := range n.Content {
			v, err := t.eval(c, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if _, skip := v.(noValue); !skip {
				out = append(out, v)
			}
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		for _, kv := range pairs(n) {
			v, err := t.eval(kv[1], path+"."+kv[0].Value)
			if err != nil {
				return nil, err
			}
			if _, skip := v.(noValue); !skip {
				out[kv[0].Value] = v
			}
		}
		return out, nil
	}
	return nil, t.errorf(n, path, "unexpected %s", kindName(n))
}

// evalString evaluates n to a string; numbers and booleans are their text.
func (t *template) evalString(n *yaml.Node, path string) (string, error) {
	v, err := t.eval(n, path)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case nil, noValue:
		return "", nil
	}
	return "", t.errorf(n, path, "want a string, got a %s", goKind(v))
}

// evalInt evaluates n to a whole number; 0 when absent.
func (t *template) evalInt(n *yaml.Node, path string) (int, error) {
	if n == nil {
		return 0, nil
	}
	s, err := t.evalString(n, path)
	if err != nil || s == "" {
		return 0, err
	}
	if strings.Contains(s, phOpen) {
		return 0, t.errorf(n, path, "the number depends on a value ferry cannot know; pass --parameter-overrides")
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, t.errorf(n, path, "%q is not a whole number", s)
	}
	return i, nil
}

// call evaluates an intrinsic function.
func (t *template) call(fn string, arg, n *yaml.Node, path string) (any, error) {
	switch fn {
	case "Ref":
		if arg.Kind != yaml.ScalarNode {
			return nil, t.errorf(n, path, "Ref takes a name")
		}
		return t.ref(arg.Value, n, path)
	case "Fn::GetAtt":
		var res, attr string
		switch {
		case arg.Kind == yaml.ScalarNode:
			res, attr, _ = strings.Cut(arg.Value, ".")
		case arg.Kind == yaml.SequenceNode && len(arg.Content) == 2:
			res = arg.Content[0].Value
			a, err := t.evalString(arg.Content[1], path)
			if err != nil {
				return nil, err
			}
			attr = a
		default:
			return nil, t.errorf(n, path, "Fn::GetAtt takes [resource, attribute] or resource.attribute")
		}
		return t.getAtt(res, attr, n, path)
	case "Fn::Sub":
		return t.sub(arg, n, path)
	case "Fn::Join":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
			return nil, t.errorf(n, path, "Fn::Join takes [delimiter, [values]]")
		}
		delim, err := t.evalString(arg.Content[0], path)
		if err != nil {
			return nil, err
		}
		list, err := t.eval(arg.Content[1], path)
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, t.errorf(n, path, "Fn::Join's second argument must be a list")
		}
		var parts []string
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, t.errorf(n, path, "Fn::Join joins strings, got a %s", goKind(it))
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
			return nil, t.errorf(n, path, "Fn::Select takes [index, list]")
		}
		i, err := t.evalInt(arg.Content[0], path)
		if err != nil {
			return nil, err
		}
		list, err := t.eval(arg.Content[1], path)
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, t.errorf(n, path, "Fn::Select: index %d is not in the list", i)
		}
		return items[i], nil
	case "Fn::Split":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
			return nil, t.errorf(n, path, "Fn::Split takes [delimiter, string]")
		}
		delim, err := t.evalString(arg.Content[0], path)
		if err != nil {
			return nil, err
		}
		s, err := t.evalString(arg.Content[1], path)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) < 3 {
			return nil, t.errorf(n, path, "Fn::FindInMap takes [map, top-level key, second-level key]")
		}
		cur := t.mappings
		for i, kn := range arg.Content[:3] {
			k, err := t.evalString(kn, path)
			if err != nil {
				return nil, err
			}
			next := mapGet(cur, k)
			if next == nil {
				if i == 2 && len(arg.Content) == 4 {
					return t.eval(mapGet(arg.Content[3], "DefaultValue"), path)
				}
				return nil, t.errorf(n, path, "Fn::FindInMap: Mappings has no %s", k)
			}
			cur = next
		}
		return t.eval(cur, path)
	case "Fn::ImportValue":
		name, err := t.evalString(arg, path)
		if err != nil {
			return nil, err
		}
		return t.placeholder(envName(name), "the value another stack exports as "+name+" (Fn::ImportValue)", n, path), nil
	case "Fn::Base64":
		return t.evalString(arg, path)
	case "Fn::GetAZs":
		return []any{t.region + "a", t.region + "b", t.region + "c"}, nil
	case "Condition":
		ok, err := t.condition(arg.Value, arg, path)
		return strconv.FormatBool(ok), err
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		ok, err := t.condExpr(n, path)
		return strconv.FormatBool(ok), err
	}
	return nil, t.errorf(n, path, "%s is not supported by ferry migrate", fn)
}

// pseudo are the pseudo parameters other than AWS::Region and
// AWS::AccountId, which come from the options.
func (t *template) pseudo(name string) (any, bool) {
	switch name {
	case "AWS::Region":
		return t.region, true
	case "AWS::AccountId":
		return t.accountID, true
	case "AWS::StackName":
		return t.stackName, true
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/ferry", t.region, t.accountID, t.stackName), true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::NoValue":
		return noValue{}, true
	case "AWS::NotificationARNs":
		return []any{}, true
	}
	return nil, false
}

// ref resolves Ref: a pseudo parameter, a parameter, a function's name,
// or a placeholder for another resource's physical ID.
func (t *template) ref(name string, n *yaml.Node, path string) (any, error) {
	if v, ok := t.pseudo(name); ok {
		return v, nil
	}
	if v, ok := t.params[name]; ok {
		return v, nil
	}
	if line, ok := t.missing[name]; ok {
		return nil, t.errorf(n, path, "parameter %s (line %d) has no Default: pass --parameter-overrides %s=VALUE", name, line, name)
	}
	if fn, ok := t.functionNames[name]; ok {
		return fn, nil
	}
	if r, ok := t.resources[name]; ok {
		return t.placeholder(envName(name), "the physical ID of "+name+" ("+r.typ+")", n, path), nil
	}
	return nil, t.errorf(n, path, "Ref %s: no parameter, resource or pseudo parameter is named %s", name, name)
}

// getAtt resolves Fn::GetAtt: a function's Arn, or a placeholder.
func (t *template) getAtt(res, attr string, n *yaml.Node, path string) (any, error) {
	if fn, ok := t.functionNames[res]; ok && attr == "Arn" {
		return t.functionARN(fn), nil
	}
	r, ok := t.resources[res]
	if !ok {
		return nil, t.errorf(n, path, "Fn::GetAtt %s.%s: no resource is named %s", res, attr, res)
	}
	return t.placeholder(envName(res+"_"+attr), "attribute "+attr+" of "+res+" ("+r.typ+")", n, path), nil
}

// functionARN is the ARN a function has under ferry.
func (t *template) functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", t.region, t.accountID, name)
}

// placeholder records a value ferry cannot know and returns the marked
// reference that becomes ${name} in ferry.yaml.
func (t *template) placeholder(name, what string, n *yaml.Node, path string) string {
	t.placeholders = append(t.placeholders, placeholder{name: name, what: what, path: path, line: n.Line})
	return phOpen + name + phClose
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves Fn::Sub, in its string and [string, variables] forms.
func (t *template) sub(arg, n *yaml.Node, path string) (any, error) {
	var text string
	vars := map[string]any{}
	switch arg.Kind {
	case yaml.ScalarNode:
		text = arg.Value
	case yaml.SequenceNode:
		if len(arg.Content) != 2 {
			return nil, t.errorf(n, path, "Fn::Sub takes a string or [string, {variables}]")
		}
		s, err := t.evalString(arg.Content[0], path)
		if err != nil {
			return nil, err
		}
		text = s
		m, err := t.eval(arg.Content[1], path)
		if err != nil {
			return nil, err
		}
		mm, ok := m.(map[string]any)
		if !ok {
			return nil, t.errorf(arg.Content[1], path, "Fn::Sub's variables must be a mapping")
		}
		vars = mm
	default:
		return nil, t.errorf(n, path, "Fn::Sub takes a string or [string, {variables}]")
	}
	var err error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if err != nil {
			return ""
		}
		var v any
		if vv, ok := vars[name]; ok {
			v = vv
		} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = t.getAtt(res, attr, n, path)
		} else {
			v, err = t.ref(name, n, path)
		}
		s, ok := v.(string)
		if err == nil && !ok {
			err = t.errorf(n, path, "Fn::Sub: ${%s} is a %s, not a string", name, goKind(v))
		}
		return s
	})
	return out, err
}

// envName turns a name into a valid ferry environment variable name.
func envName(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9' && i > 0, r == '_' && i > 0:
			b.WriteRune(r)
		default:
			if i == 0 {
				b.WriteString("V")
			}
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}

// ferryValue turns an evaluated string into a ferry.yaml environment
// value: $ is escaped, and each placeholder becomes ${NAME}.
func ferryValue(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	return strings.NewReplacer(phOpen, "${", phClose, "}").Replace(s)
}

// Helpers over yaml.v3 nodes.

// deref follows aliases and document nodes to the value.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return deref(n.Content[0])
	}
	return n
}

// mapGet returns the value of key in mapping n, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// pairs lists a mapping's key and value nodes in file order.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], deref(n.Content[i+1])})
	}
	return out
}

// kindName describes a node for an error message.
func kindName(n *yaml.Node) string {
	switch deref(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// goKind describes an evaluated value for an error message.
func goKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	case nil, noValue:
		return "null"
	}
	return "string"
}
