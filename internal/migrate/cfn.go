package migrate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/lambdaspec"
	"gopkg.in/yaml.v3"
)

// cfn converts one SAM or CloudFormation template.
type cfn struct {
	*migration
	t           *template
	globals     *yaml.Node // Globals.Function
	globalsRoot *yaml.Node // Globals
	// fn maps a function resource's logical ID to its index in
	// m.cfg.Functions.
	fn map[string]int
	// later runs after every function is known.
	later []func() error
}

// cloudFormation converts a SAM or CloudFormation template: function
// names first (any value may refer to one), then the functions and their
// events, then the resources that point at functions.
func (m *migration) cloudFormation(input string) error {
	root, err := readYAML(input)
	if err != nil {
		return err
	}
	stack := filepath.Base(filepath.Dir(input))
	if s, ok := strings.CutSuffix(filepath.Base(input), ".template.json"); ok {
		stack = s // CDK names the file after the stack
	}
	t, err := newTemplate(input, root, m.opts.Overrides, m.opts.Region, m.opts.AccountID, stack)
	if err != nil {
		return err
	}
	c := &cfn{migration: m, t: t, globals: mapGet(mapGet(root, "Globals"), "Function"), globalsRoot: mapGet(root, "Globals"), fn: map[string]int{}}
	// Names first: any property may refer to a function by Ref or its Arn.
	var functions []*resource
	for _, r := range t.order {
		if r.typ != "AWS::Serverless::Function" && r.typ != "AWS::Lambda::Function" {
			continue
		}
		if ok, err := t.active(r); err != nil {
			return err
		} else if !ok {
			m.add(Item{Resource: r.id, Type: r.typ, Status: Ported, Detail: "left out: its Condition " + r.cond + " is false", Line: r.line})
			continue
		}
		name := r.id
		if fnName, err := t.field(r.props, "FunctionName", "Resources."+r.id+".Properties"); err != nil {
			return err
		} else if fnName != nil {
			s, err := t.evalString(fnName, "Resources."+r.id+".Properties.FunctionName")
			if err != nil {
				return err
			}
			if validName.MatchString(s) {
				name = s
			}
		}
		t.functionNames[r.id] = name
		functions = append(functions, r)
	}
	for _, r := range functions {
		if err := c.function(r); err != nil {
			return err
		}
	}
	for _, f := range c.later {
		if err := f(); err != nil {
			return err
		}
	}
	for _, r := range t.order {
		if ok, err := t.active(r); err != nil {
			return err
		} else if !ok {
			continue
		}
		if err := c.other(r); err != nil {
			return err
		}
	}
	return c.checkPlaceholders()
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// prop returns the function's property key, else Globals.Function's
// (SAM), after Fn::If.
func (c *cfn) prop(r *resource, key string) (*yaml.Node, string, error) {
	path := "Resources." + r.id + ".Properties"
	n, err := c.t.field(r.props, key, path)
	if n != nil || err != nil || r.typ != "AWS::Serverless::Function" {
		return n, path + "." + key, err
	}
	n, err = c.t.field(c.globals, key, "Globals.Function")
	return n, "Globals.Function." + key, err
}

// goRuntime reports whether a Go handler deploys on the runtime: go1.x,
// or a provided.* custom runtime running its bootstrap binary.
func goRuntime(rt string) bool {
	return rt == "" || rt == "go1.x" || strings.HasPrefix(rt, "provided")
}

// function converts one AWS::Serverless::Function or AWS::Lambda::Function.
func (c *cfn) function(r *resource) error {
	t := c.t
	path := "Resources." + r.id + ".Properties"
	name := t.functionNames[r.id]
	fn := config.Function{Name: name}
	var notes []string
	item := Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line}

	str := func(key string) (string, *yaml.Node, error) {
		n, p, err := c.prop(r, key)
		if n == nil || err != nil {
			return "", n, err
		}
		s, err := t.evalString(n, p)
		return s, n, err
	}
	num := func(key string) (int, error) {
		n, p, err := c.prop(r, key)
		if err != nil {
			return 0, err
		}
		return t.evalInt(n, p)
	}

	if pt, _, err := str("PackageType"); err != nil {
		return err
	} else if pt == "Image" {
		item.Status, item.Detail = NotSupported, "a container image function (PackageType: Image)"
		item.Action = "ferry runs Go handlers compiled to WebAssembly: point a function's source: at the handler's Go package"
		c.add(item)
		return nil
	}
	rt, _, err := str("Runtime")
	if err != nil {
		return err
	}
	if !goRuntime(rt) {
		item.Status, item.Detail = NotSupported, "runtime "+rt+": ferry runs Go handlers only, not yet "+runtimeFamily(rt)
		item.Action = "rewrite the handler in Go, or keep this function on AWS Lambda"
		c.add(item)
		return nil
	}

	// The code.
	dir, why, err := c.code(r)
	if err != nil {
		return err
	}
	if dir == "" {
		item.Status, item.Detail = NotSupported, why
		item.Action = "point the function at its Go source: a directory with its main package"
		c.add(item)
		return nil
	}
	if !hasGoMain(dir) {
		item.Status, item.Detail = NotSupported, fmt.Sprintf("%s holds no Go main package (%s)", c.rel(dir), why)
		item.Action = "point CodeUri (or the asset) at the handler's Go main package"
		c.add(item)
		return nil
	}
	fn.Source = c.rel(dir)

	if fn.Memory, err = num("MemorySize"); err != nil {
		return err
	}
	timeout, err := num("Timeout")
	if err != nil {
		return err
	}
	fn.Timeout = time.Duration(timeout) * time.Second
	if env, err := c.environment(r); err != nil {
		return err
	} else {
		fn.Environment = env
	}
	if n, p, err := c.prop(r, "ReservedConcurrentExecutions"); err != nil {
		return err
	} else if n != nil {
		v, err := t.evalInt(n, p)
		if err != nil {
			return err
		}
		if v == 0 {
			c.add(Item{Resource: r.id, Type: "ReservedConcurrentExecutions", Status: Attention, Line: n.Line,
				Detail: "0 reserved concurrency throttles every invocation on Lambda; ferry has no such switch",
				Action: "leave the function out of ferry.yaml to disable it"})
		}
		fn.Concurrency = v
	}
	if n, p, err := c.prop(r, "ProvisionedConcurrencyConfig"); err != nil {
		return err
	} else if n != nil {
		pc, err := t.field(n, "ProvisionedConcurrentExecutions", p)
		if err != nil {
			return err
		}
		if fn.MinInstances, err = t.evalInt(pc, p+".ProvisionedConcurrentExecutions"); err != nil {
			return err
		}
		if fn.Concurrency != 0 && fn.MinInstances > fn.Concurrency {
			fn.MinInstances = fn.Concurrency
		}
		notes = append(notes, "ProvisionedConcurrencyConfig → minInstances (warm instances)")
	}
	if n, p, err := c.prop(r, "EphemeralStorage"); err != nil {
		return err
	} else if n != nil {
		size, err := t.field(n, "Size", p)
		if err != nil {
			return err
		}
		if fn.EphemeralStorage, err = t.evalInt(size, p+".Size"); err != nil {
			return err
		}
	}
	if n, p, err := c.prop(r, "LoggingConfig"); err != nil {
		return err
	} else if lf, err := t.field(n, "LogFormat", p); err != nil {
		return err
	} else if lf != nil {
		format, err := t.evalString(lf, p+".LogFormat")
		if err != nil {
			return err
		}
		switch c.cfg.LogFormat {
		case "", format:
			c.cfg.LogFormat = format
		default:
			c.add(Item{Resource: r.id, Type: "LoggingConfig", Status: Attention, Line: lf.Line,
				Detail: "ferry has one log format for every function, and another function's is " + c.cfg.LogFormat,
				Action: "choose one logFormat in ferry.yaml"})
		}
	}
	if n, _, _ := c.prop(r, "Architectures"); n != nil {
		notes = append(notes, "Architectures do not apply: ferry runs WebAssembly on any host")
	}
	if n, _, _ := c.prop(r, "AutoPublishAlias"); n != nil {
		notes = append(notes, "AutoPublishAlias: ferry has no versions or aliases; invoke the function by name")
	}
	if n, _, _ := c.prop(r, "Tracing"); n != nil {
		notes = append(notes, "Tracing (X-Ray) is not sent by ferry")
	}
	if n, _, _ := c.prop(r, "VpcConfig"); n != nil {
		notes = append(notes, "VpcConfig does not apply: the function reaches what ferry's host reaches, through allowedOutboundHosts")
	}
	if n, _, _ := c.prop(r, "Layers"); n != nil {
		c.add(Item{Resource: r.id, Type: "Layers", Status: Attention, Line: n.Line,
			Detail: "layers are not supported: a Go handler links its dependencies into the module",
			Action: "make what the layer holds a Go dependency of the handler, or files under its files: directory"})
	}
	for _, key := range []string{"DeadLetterQueue", "SnapStart", "FileSystemConfigs", "CodeSigningConfigArn", "RuntimeManagementConfig"} {
		if n, _, _ := c.prop(r, key); n != nil {
			c.add(Item{Resource: r.id, Type: key, Status: Attention, Line: n.Line,
				Detail: key + " is not supported by ferry", Action: "remove the dependency on it, or keep this function on AWS Lambda"})
		}
	}
	if err := c.policies(r); err != nil {
		return err
	}

	c.fn[r.id] = len(c.cfg.Functions)
	c.cfg.Functions = append(c.cfg.Functions, fn)
	c.handlers = append(c.handlers, handler{dir: dir, function: name})

	item.Detail = fmt.Sprintf("function %s, source %s", name, fn.Source)
	if len(notes) > 0 {
		item.Detail += "; " + strings.Join(notes, "; ")
	}
	c.add(item)

	// Triggers and settings that name the function.
	if n, p, err := c.prop(r, "FunctionUrlConfig"); err != nil {
		return err
	} else if n != nil {
		if err := c.functionURL(r.id, n, p); err != nil {
			return err
		}
	}
	if n, p, err := c.prop(r, "EventInvokeConfig"); err != nil {
		return err
	} else if n != nil {
		// Its destinations may name functions declared further down.
		c.later = append(c.later, func() error { return c.eventInvokeConfig(r.id, n, p) })
	}
	if r.typ == "AWS::Serverless::Function" {
		evs, err := t.field(r.props, "Events", path)
		if err != nil {
			return err
		}
		for _, kv := range pairs(evs) {
			if err := c.samEvent(r, kv[0].Value, kv[1], path+".Events."+kv[0].Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// runtimeFamily is a runtime's language, for the report.
func runtimeFamily(rt string) string {
	for _, f := range []string{"nodejs", "python", "java", "dotnet", "ruby"} {
		if strings.HasPrefix(rt, f) {
			return f
		}
	}
	return rt
}

// code finds the function's Go source directory; "" with a reason when
// the code is somewhere ferry cannot read it.
func (c *cfn) code(r *resource) (string, string, error) {
	t := c.t
	path := "Resources." + r.id + ".Properties"
	if r.typ == "AWS::Serverless::Function" {
		if n, _, err := c.prop(r, "InlineCode"); err != nil || n != nil {
			return "", "inline code (InlineCode)", err
		}
		n, p, err := c.prop(r, "CodeUri")
		if err != nil {
			return "", "", err
		}
		if n == nil {
			return "", "", t.errorf(r.node, path, "CodeUri: missing")
		}
		if n.Kind == yaml.MappingNode {
			return "", "code in S3 (CodeUri Bucket/Key)", nil
		}
		s, err := t.evalString(n, p)
		if err != nil {
			return "", "", err
		}
		if strings.HasPrefix(s, "s3://") {
			return "", "code in S3 (" + s + ")", nil
		}
		return filepath.Join(c.baseDir, filepath.FromSlash(s)), "CodeUri " + s, nil
	}
	// CDK records where an asset's files are, relative to cdk.out.
	if ap := mapGet(r.metadata, "aws:asset:path"); ap != nil {
		dir := filepath.Join(c.baseDir, filepath.FromSlash(ap.Value))
		return dir, "asset " + ap.Value, nil
	}
	code, err := t.field(r.props, "Code", path)
	if err != nil {
		return "", "", err
	}
	switch {
	case code == nil:
		return "", "", t.errorf(r.node, path, "Code: missing")
	case code.Kind == yaml.ScalarNode: // a local path, as `aws cloudformation package` takes it
		return filepath.Join(c.baseDir, filepath.FromSlash(code.Value)), "Code " + code.Value, nil
	case mapGet(code, "ZipFile") != nil:
		return "", "inline code (Code.ZipFile)", nil
	case mapGet(code, "ImageUri") != nil:
		return "", "a container image (Code.ImageUri)", nil
	}
	return "", "code in S3 (Code.S3Bucket/S3Key) and no CDK asset path in its Metadata", nil
}

// hasGoMain reports whether dir holds a Go main package.
func hasGoMain(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err == nil && packageMain.Match(data) {
			return true
		}
	}
	return false
}

var packageMain = regexp.MustCompile(`(?m)^package main\b`)

// environment merges Globals' and the function's Environment.Variables.
func (c *cfn) environment(r *resource) (map[string]string, error) {
	t := c.t
	env := map[string]string{}
	collect := func(owner *yaml.Node, path string) error {
		e, err := t.field(owner, "Environment", path)
		if err != nil || e == nil {
			return err
		}
		vars, err := t.field(e, "Variables", path+".Environment")
		if err != nil || vars == nil {
			return err
		}
		v, err := t.eval(vars, path+".Environment.Variables")
		if err != nil {
			return err
		}
		mm, ok := v.(map[string]any)
		if !ok {
			return t.errorf(vars, path+".Environment.Variables", "want a mapping of names to values")
		}
		for k, val := range mm {
			s, ok := val.(string)
			if !ok {
				if val != nil {
					return t.errorf(vars, path+".Environment.Variables."+k, "want a string, got a %s", goKind(val))
				}
			}
			env[k] = ferryValue(s)
		}
		return nil
	}
	if r.typ == "AWS::Serverless::Function" {
		if err := collect(c.globals, "Globals.Function"); err != nil {
			return nil, err
		}
	}
	if err := collect(r.props, "Resources."+r.id+".Properties"); err != nil {
		return nil, err
	}
	if len(env) == 0 {
		return nil, nil
	}
	return env, nil
}

// basicPolicies only let a function write its logs.
var basicPolicies = []string{"AWSLambdaBasicExecutionRole", "AWSLambdaExecute", "CloudWatchLogsFullAccess", "AWSXrayWriteOnlyAccess"}

// policies reports IAM policies beyond writing logs: ferry does not
// enforce them, so the function needs credentials of its own.
func (c *cfn) policies(r *resource) error {
	n, _, err := c.prop(r, "Policies")
	if err != nil || n == nil {
		return err
	}
	var names []string
	for _, p := range listOf(n) {
		switch {
		case p.Kind == yaml.ScalarNode:
			names = append(names, p.Value)
		case p.Kind == yaml.MappingNode && len(p.Content) >= 2 && p.Content[0].Value != "Statement":
			names = append(names, p.Content[0].Value) // a SAM policy template
		default:
			names = append(names, "an inline policy statement")
		}
	}
	var other []string
	for _, name := range names {
		if !slices.ContainsFunc(basicPolicies, func(b string) bool { return strings.HasSuffix(name, b) }) {
			other = append(other, name)
		}
	}
	if len(other) == 0 {
		return nil
	}
	c.add(Item{Resource: r.id, Type: "Policies", Status: Attention, Line: n.Line,
		Detail: "IAM policies are not enforced by ferry: " + strings.Join(other, ", "),
		Action: "give the function credentials for what they allowed (environment: AWS_ACCESS_KEY_ID: ${AWS_ACCESS_KEY_ID}, … or IRSA) and allowedOutboundHosts: [https://*.amazonaws.com]"})
	return nil
}

// listOf is a list's items, or a single value as a list of one.
func listOf(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, c := range n.Content {
			out = append(out, deref(c))
		}
		return out
	}
	return []*yaml.Node{n}
}

// functionNamed returns the ferry function a value names (a function name or
// ARN, or a placeholder) or "".
func (c *cfn) functionNamed(v string) string {
	if m := functionARN.FindStringSubmatch(v); m != nil {
		v = m[1]
	}
	for _, fn := range c.cfg.Functions {
		if fn.Name == v {
			return v
		}
	}
	return ""
}

var functionARN = regexp.MustCompile(`:function:([A-Za-z0-9_-]+)`)

// functionIn finds the function resource a node refers to (by Ref,
// Fn::GetAtt or ${X} in Fn::Sub), without evaluating it; "" when none.
func (c *cfn) functionIn(n *yaml.Node) string {
	for _, id := range refsIn(n) {
		if _, ok := c.fn[id]; ok {
			return id
		}
	}
	return ""
}

// refsIn lists the names a node refers to, in order, visiting each node
// once (aliases can share or nest nodes).
func refsIn(n *yaml.Node) []string {
	var out []string
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = deref(n)
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		fn, arg := intrinsic(n)
		switch fn {
		case "Ref":
			out = append(out, arg.Value)
			return
		case "Fn::GetAtt":
			if arg.Kind == yaml.ScalarNode {
				id, _, _ := strings.Cut(arg.Value, ".")
				out = append(out, id)
			} else if len(arg.Content) > 0 {
				out = append(out, arg.Content[0].Value)
			}
			return
		case "Fn::Sub":
			s := arg
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				s = arg.Content[0]
			}
			for _, m := range subVar.FindAllStringSubmatch(s.Value, -1) {
				id, _, _ := strings.Cut(m[1], ".")
				out = append(out, id)
			}
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 1 {
				walk(arg.Content[1])
			}
			return
		}
		for _, ch := range n.Content {
			walk(ch)
		}
	}
	walk(n)
	return out
}

// functionOf is the ferry function converted from a function resource.
func (c *cfn) functionOf(id string) *config.Function { return &c.cfg.Functions[c.fn[id]] }

// functionURL turns a function URL into function-url routes under the
// function's name.
func (c *cfn) functionURL(id string, n *yaml.Node, path string) error {
	t := c.t
	fn := c.functionOf(id)
	item := Item{Resource: id + "/FunctionUrl", Type: "FunctionUrlConfig", Status: Ported, Line: n.Line}
	if auth, err := t.field(n, "AuthType", path); err != nil {
		return err
	} else if auth != nil {
		s, err := t.evalString(auth, path+".AuthType")
		if err != nil {
			return err
		}
		if s == "AWS_IAM" {
			item.Status = Attention
			item.Action = "AuthType AWS_IAM is not checked by ferry: put the route behind your own authentication"
		}
	}
	if mode, err := t.field(n, "InvokeMode", path); err != nil {
		return err
	} else if mode != nil && mode.Value == "RESPONSE_STREAM" {
		item.Status = Attention
		item.Action = "InvokeMode RESPONSE_STREAM: ferry buffers the response (it does not stream it)"
	}
	var cors *events.CORS
	if cn, err := t.field(n, "Cors", path); err != nil {
		return err
	} else if cn != nil {
		cors, err = c.httpCORS(cn, path+".Cors")
		if err != nil {
			return err
		}
	}
	base := "/" + fn.Name
	fn.HTTP = append(fn.HTTP,
		config.HTTPRoute{Path: base, Format: events.FormatFunctionURL, CORS: cors},
		config.HTTPRoute{Path: base + "/{proxy+}", Format: events.FormatFunctionURL, CORS: cors})
	item.Detail = fmt.Sprintf("function-url routes %s and %s/{proxy+} (a function URL has its own host on AWS; here its paths start with %s)", base, base, base)
	c.add(item)
	return nil
}

// httpCORS reads an HTTP API's CorsConfiguration or a function URL's
// Cors, which share their keys up to the case of the first letter.
func (c *cfn) httpCORS(n *yaml.Node, path string) (*events.CORS, error) {
	v, err := c.t.eval(n, path)
	if err != nil {
		return nil, err
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, c.t.errorf(n, path, "want a mapping")
	}
	get := func(key string) any {
		if v, ok := mm[key]; ok {
			return v
		}
		return mm[strings.ToLower(key[:1])+key[1:]]
	}
	strs := func(key string) []string {
		var out []string
		items, _ := get(key).([]any)
		for _, it := range items {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	cors := &events.CORS{AllowOrigins: strs("AllowOrigins"), AllowMethods: strs("AllowMethods"),
		AllowHeaders: strs("AllowHeaders"), ExposeHeaders: strs("ExposeHeaders")}
	if s, ok := get("MaxAge").(string); ok {
		cors.MaxAge, _ = strconv.Atoi(s)
	}
	if s, ok := get("AllowCredentials").(string); ok {
		cors.AllowCredentials = s == "true"
	}
	return cors, nil
}

// restCORS reads a SAM Api's Cors: a quoted origin, or a mapping of
// quoted header values.
func (c *cfn) restCORS(n *yaml.Node, path string) (*events.CORS, error) {
	v, err := c.t.eval(n, path)
	if err != nil {
		return nil, err
	}
	unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "'") }
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(unquote(s), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	switch v := v.(type) {
	case string:
		return &events.CORS{AllowOrigins: split(v)}, nil
	case map[string]any:
		s := func(k string) string { x, _ := v[k].(string); return x }
		cors := &events.CORS{AllowOrigins: split(s("AllowOrigin")), AllowMethods: split(s("AllowMethods")), AllowHeaders: split(s("AllowHeaders"))}
		cors.MaxAge, _ = strconv.Atoi(unquote(s("MaxAge")))
		cors.AllowCredentials = s("AllowCredentials") == "true"
		return cors, nil
	}
	return nil, c.t.errorf(n, path, "want a quoted origin or a mapping")
}

// eventInvokeConfig turns Lambda's asynchronous invocation settings into
// the function's async: block.
func (c *cfn) eventInvokeConfig(id string, n *yaml.Node, path string) error {
	t := c.t
	fn := c.functionOf(id)
	a := &fn.AsyncConfig
	var parts []string
	if rn, err := t.field(n, "MaximumRetryAttempts", path); err != nil {
		return err
	} else if rn != nil {
		v, err := t.evalInt(rn, path+".MaximumRetryAttempts")
		if err != nil {
			return err
		}
		if v < 0 || v > 2 {
			return t.errorf(rn, path+".MaximumRetryAttempts", "%d is not 0 to 2", v)
		}
		a.RetryDelays = append([]time.Duration{}, lambdaspec.DefaultRetryDelays[:v]...)
		parts = append(parts, fmt.Sprintf("maxRetries %d", v))
	}
	if an, err := t.field(n, "MaximumEventAgeInSeconds", path); err != nil {
		return err
	} else if an != nil {
		v, err := t.evalInt(an, path+".MaximumEventAgeInSeconds")
		if err != nil {
			return err
		}
		a.MaxEventAge = time.Duration(v) * time.Second
		parts = append(parts, fmt.Sprintf("maxEventAge %ds", v))
	}
	dc, err := t.field(n, "DestinationConfig", path)
	if err != nil {
		return err
	}
	for _, cond := range []string{"OnSuccess", "OnFailure"} {
		dn, err := t.field(dc, cond, path+".DestinationConfig")
		if err != nil {
			return err
		}
		if dn == nil {
			continue
		}
		dpath := path + ".DestinationConfig." + cond
		typ := ""
		if tn, err := t.field(dn, "Type", dpath); err != nil {
			return err
		} else if tn != nil {
			typ, _ = t.evalString(tn, dpath+".Type")
		}
		target := ""
		destNode, err := t.field(dn, "Destination", dpath)
		if err != nil {
			return err
		}
		if destNode != nil {
			if target, err = t.evalString(destNode, dpath+".Destination"); err != nil {
				return err
			}
		}
		var d config.Destination
		if name := c.functionNamed(target); name != "" && (typ == "" || typ == "Lambda") {
			d.Function = name
			parts = append(parts, strings.ToLower(cond[:1])+cond[1:]+" → function "+name)
		} else {
			file := ".ferry/" + fn.Name + "-" + strings.ToLower(cond) + ".jsonl"
			d.File = file
			what := typ
			if what == "" {
				what = "destination " + strings.NewReplacer(phOpen, "", phClose, "").Replace(target)
			}
			c.add(Item{Resource: id + "/" + cond, Type: "DestinationConfig", Status: Attention, Line: dn.Line,
				Detail: fmt.Sprintf("%s destination (%s) is not run by ferry: records go to the file %s", cond, what, file),
				Action: "read the destination records from that file, or send them to a function of the app instead"})
		}
		if cond == "OnSuccess" {
			a.OnSuccess = d
		} else {
			a.OnFailure = d
		}
	}
	c.add(Item{Resource: id + "/EventInvokeConfig", Type: "EventInvokeConfig", Status: Ported, Line: n.Line,
		Detail: "async: " + strings.Join(parts, ", ")})
	return nil
}

// notRunYet says what to do for each event source ferry does not run.
var notRunYet = map[string]string{
	"S3":              "ferry does not receive S3 notifications: invoke the function with an S3 event through the Invoke API (ferry generate-event s3 put)",
	"SNS":             "ferry does not subscribe to SNS topics: invoke the function with an SNS event through the Invoke API",
	"SQS":             "add the queue to the function's eventSources: in ferry.yaml (sqs: {queue: …}), or invoke the function with an SQS event through the Invoke API",
	"DynamoDB":        "ferry does not read DynamoDB streams: invoke the function with a DynamoDB event through the Invoke API",
	"Kinesis":         "ferry does not read Kinesis streams: invoke the function with a Kinesis event through the Invoke API",
	"DocumentDB":      "ferry does not read DocumentDB change streams: keep this trigger on AWS",
	"CloudWatchEvent": "ferry runs schedules, not event patterns: invoke the function through the Invoke API",
	"EventBridgeRule": "ferry runs schedules, not event patterns: invoke the function through the Invoke API",
	"CloudWatchLogs":  "ferry does not subscribe to log groups: keep this trigger on AWS",
	"IoTRule":         "ferry does not run IoT rules: keep this trigger on AWS",
	"AlexaSkill":      "ferry does not receive Alexa requests: keep this trigger on AWS",
	"Cognito":         "ferry does not receive Cognito triggers: keep this trigger on AWS",
}

// samEvent converts one event of a SAM function.
func (c *cfn) samEvent(r *resource, name string, n *yaml.Node, path string) error {
	t := c.t
	typ := ""
	if tn := mapGet(n, "Type"); tn != nil {
		typ = tn.Value
	}
	props, err := t.field(n, "Properties", path)
	if err != nil {
		return err
	}
	ppath := path + ".Properties"
	fn := c.functionOf(r.id)
	item := Item{Resource: r.id + "/" + name, Type: typ, Status: Ported, Line: n.Line}
	str := func(key string) (string, error) {
		v, err := t.field(props, key, ppath)
		if v == nil || err != nil {
			return "", err
		}
		return t.evalString(v, ppath+"."+key)
	}
	switch typ {
	case "Api":
		route := config.HTTPRoute{Format: events.FormatREST, Stage: "Prod"}
		if err := c.pathMethod(props, ppath, &route); err != nil {
			return err
		}
		if api, err := t.field(props, "RestApiId", ppath); err != nil {
			return err
		} else if api != nil {
			if err := c.restAPI(api, ppath+".RestApiId", &route, &item); err != nil {
				return err
			}
		} else if err := c.implicitAPI("Api", &route, &item); err != nil {
			return err
		}
		c.eventAuth(props, ppath, &item)
		fn.HTTP = append(fn.HTTP, route)
		item.Detail = fmt.Sprintf("rest route %s %s, stage %s", methodsText(route.Methods), route.Path, route.Stage)
	case "HttpApi":
		route := config.HTTPRoute{Format: events.FormatHTTPAPI}
		if err := c.pathMethod(props, ppath, &route); err != nil {
			return err
		}
		if route.Path == "" {
			route.Path = "/{proxy+}" // the $default route
		}
		if v, err := str("PayloadFormatVersion"); err != nil {
			return err
		} else if v == "1.0" {
			route.Format = events.FormatREST
		}
		if api, err := t.field(props, "ApiId", ppath); err != nil {
			return err
		} else if api != nil {
			if err := c.httpAPI(api, ppath+".ApiId", &route, &item); err != nil {
				return err
			}
		} else if err := c.implicitAPI("HttpApi", &route, &item); err != nil {
			return err
		}
		c.eventAuth(props, ppath, &item)
		fn.HTTP = append(fn.HTTP, route)
		item.Detail = fmt.Sprintf("%s route %s %s", route.Format, methodsText(route.Methods), route.Path)
	case "Schedule", "ScheduleV2":
		exprKey, enabled := "Schedule", true
		if typ == "ScheduleV2" {
			exprKey = "ScheduleExpression"
		}
		expr, err := str(exprKey)
		if err != nil {
			return err
		}
		if expr == "" {
			return t.errorf(n, ppath, "%s: missing", exprKey)
		}
		if strings.HasPrefix(expr, "at(") {
			item.Status, item.Detail = NotSupported, "a one-time schedule "+expr
			item.Action = "invoke the function through the Invoke API at that time"
			c.add(item)
			return nil
		}
		if v, err := str("Enabled"); err != nil {
			return err
		} else if v == "false" {
			enabled = false
		}
		if v, err := str("State"); err != nil {
			return err
		} else if v == "DISABLED" {
			enabled = false
		}
		s := config.ScheduleTrigger{Name: ruleName(fn.Name, name), Expression: expr, Enabled: enabled}
		if v, err := str("Name"); err != nil {
			return err
		} else if v != "" && validRule.MatchString(v) {
			s.Name = v
		}
		if in, err := str("Input"); err != nil {
			return err
		} else if in != "" {
			if !json.Valid([]byte(in)) {
				return t.errorf(n, ppath+".Input", "not JSON: %s", in)
			}
			var buf bytes.Buffer
			_ = json.Compact(&buf, []byte(in))
			s.Input = buf.Bytes()
		}
		if tz, err := str("ScheduleExpressionTimezone"); err != nil {
			return err
		} else if tz != "" && tz != "UTC" && tz != "Etc/UTC" {
			item.Status = Attention
			item.Action = "ferry evaluates schedules in UTC: rewrite the cron expression for UTC (it was in " + tz + ")"
		}
		fn.Schedules = append(fn.Schedules, s)
		item.Detail = fmt.Sprintf("schedule %s: %s", s.Name, expr)
		if !enabled {
			item.Detail += " (disabled)"
		}
	case "SQS", "MSK", "SelfManagedKafka", "MQ":
		if err := c.queueEvent(typ, n, props, ppath, fn, &item); err != nil {
			return err
		}
	default:
		item.Status, item.Detail = NotSupported, typ+" events are not run by ferry"
		item.Action = cmp.Or(notRunYet[typ], "invoke the function through the Invoke API, or keep this trigger on AWS")
	}
	c.add(item)
	return nil
}

var validRule = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ruleName names a schedule after its function and event, within the
// 64 characters EventBridge allows.
func ruleName(fn, event string) string {
	s := fn + "-" + event
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// methodsText writes a route's methods for the report.
func methodsText(m []string) string {
	if m == nil {
		return "ANY"
	}
	return strings.Join(m, ",")
}

// pathMethod reads an Api or HttpApi event's Path and Method.
func (c *cfn) pathMethod(props *yaml.Node, path string, route *config.HTTPRoute) error {
	t := c.t
	if pn, err := t.field(props, "Path", path); err != nil {
		return err
	} else if pn != nil {
		if route.Path, err = t.evalString(pn, path+".Path"); err != nil {
			return err
		}
	}
	if mn, err := t.field(props, "Method", path); err != nil {
		return err
	} else if mn != nil {
		m, err := t.evalString(mn, path+".Method")
		if err != nil {
			return err
		}
		if m = strings.ToUpper(m); m != "ANY" && m != "" {
			route.Methods = []string{m}
		}
	}
	return nil
}

// eventAuth reports an event's authorizer or API key, which ferry does
// not check.
func (c *cfn) eventAuth(props *yaml.Node, path string, item *Item) {
	auth := mapGet(props, "Auth")
	if auth == nil {
		return
	}
	if a := mapGet(auth, "Authorizer"); a != nil && a.Value != "NONE" {
		item.Status = Attention
		item.Action = "authorizer " + a.Value + " is not run by ferry: check credentials in the handler or in front of ferry"
	}
	if k := mapGet(auth, "ApiKeyRequired"); k != nil && k.Value == "true" {
		item.Status = Attention
		item.Action = "API keys are not checked by ferry: check them in the handler or in front of ferry"
	}
}

// implicitAPI applies Globals.Api or Globals.HttpApi to a route of SAM's
// implicit API.
func (c *cfn) implicitAPI(kind string, route *config.HTTPRoute, item *Item) error {
	g := mapGet(c.globalsRoot, kind)
	if g == nil {
		return nil
	}
	r := &resource{id: "Globals." + kind, props: g, typ: "AWS::Serverless::" + kind}
	if kind == "Api" {
		return c.restSettings(r, "Globals.Api", route, item)
	}
	return c.httpSettings(r, "Globals.HttpApi", route, item)
}

// restAPI applies an AWS::Serverless::Api's settings to a route.
func (c *cfn) restAPI(api *yaml.Node, path string, route *config.HTTPRoute, item *Item) error {
	t := c.t
	refs := refsIn(api)
	if len(refs) == 0 {
		return t.errorf(api, path, "want a Ref to an AWS::Serverless::Api")
	}
	r, ok := t.resources[refs[0]]
	if !ok {
		return t.errorf(api, path, "no resource is named %s", refs[0])
	}
	return c.restSettings(r, "Resources."+r.id+".Properties", route, item)
}

// restSettings applies an API's (or Globals.Api's) stage, binary media
// types, CORS and authorizers to a route.
func (c *cfn) restSettings(r *resource, rp string, route *config.HTTPRoute, item *Item) error {
	t := c.t
	if sn, err := t.field(r.props, "StageName", rp); err != nil {
		return err
	} else if sn != nil {
		if route.Stage, err = t.evalString(sn, rp+".StageName"); err != nil {
			return err
		}
	}
	if bn, err := t.field(r.props, "BinaryMediaTypes", rp); err != nil {
		return err
	} else if bn != nil {
		v, err := t.eval(bn, rp+".BinaryMediaTypes")
		if err != nil {
			return err
		}
		items, _ := v.([]any)
		for _, it := range items {
			if s, ok := it.(string); ok {
				route.BinaryMediaTypes = append(route.BinaryMediaTypes, strings.ReplaceAll(s, "~1", "/"))
			}
		}
	}
	if cn, err := t.field(r.props, "Cors", rp); err != nil {
		return err
	} else if cn != nil {
		if route.CORS, err = c.restCORS(cn, rp+".Cors"); err != nil {
			return err
		}
	}
	c.apiAuth(r, item)
	return nil
}

// httpAPI applies an AWS::Serverless::HttpApi's settings to a route.
func (c *cfn) httpAPI(api *yaml.Node, path string, route *config.HTTPRoute, item *Item) error {
	t := c.t
	refs := refsIn(api)
	if len(refs) == 0 {
		return t.errorf(api, path, "want a Ref to an AWS::Serverless::HttpApi")
	}
	r, ok := t.resources[refs[0]]
	if !ok {
		return t.errorf(api, path, "no resource is named %s", refs[0])
	}
	return c.httpSettings(r, "Resources."+r.id+".Properties", route, item)
}

// httpSettings applies an HTTP API's (or Globals.HttpApi's) stage, CORS
// and authorizers to a route.
func (c *cfn) httpSettings(r *resource, rp string, route *config.HTTPRoute, item *Item) error {
	t := c.t
	if sn, err := t.field(r.props, "StageName", rp); err != nil {
		return err
	} else if sn != nil {
		s, err := t.evalString(sn, rp+".StageName")
		if err != nil {
			return err
		}
		if s != "$default" {
			route.Stage = s
		}
	}
	if cn, err := t.field(r.props, "CorsConfiguration", rp); err != nil {
		return err
	} else if cn != nil && cn.Kind == yaml.MappingNode {
		if route.CORS, err = c.httpCORS(cn, rp+".CorsConfiguration"); err != nil {
			return err
		}
	}
	c.apiAuth(r, item)
	return nil
}

// apiAuth reports an API's default authorizer.
func (c *cfn) apiAuth(api *resource, item *Item) {
	auth := mapGet(api.props, "Auth")
	if auth == nil {
		return
	}
	if d := mapGet(auth, "DefaultAuthorizer"); d != nil && d.Value != "NONE" {
		item.Status = Attention
		item.Action = "authorizer " + d.Value + " of " + api.id + " is not run by ferry: check credentials in the handler or in front of ferry"
	}
}

// checkPlaceholders reports each value ferry cannot know that ended up in
// an environment, now a ${NAME} reference to ferry's environment.
func (c *cfn) checkPlaceholders() error {
	used := map[string][]string{}
	for _, fn := range c.cfg.Functions {
		for k, v := range fn.Environment {
			for _, ph := range c.t.placeholders {
				if strings.Contains(v, "${"+ph.name+"}") {
					used[ph.name] = append(used[ph.name], fn.Name+"."+k)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, ph := range c.t.placeholders {
		if used[ph.name] == nil || seen[ph.name] {
			continue
		}
		seen[ph.name] = true
		users := used[ph.name]
		slices.Sort(users)
		c.add(Item{Resource: ph.path, Type: "reference", Status: Attention, Line: ph.line,
			Detail: fmt.Sprintf("%s is not known outside AWS: ferry.yaml reads it from ferry's environment as ${%s} (used by %s)", ph.what, ph.name, strings.Join(users, ", ")),
			Action: fmt.Sprintf("set %s in ferry's environment before ferry serve, or write the value into ferry.yaml", ph.name)})
	}
	return nil
}
