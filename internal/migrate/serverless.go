package migrate

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// sls converts a Serverless Framework service.
type sls struct {
	*migration
	file string
	doc  map[string]any
	// lines locates the functions and their events, for the report.
	lines map[string]int
	stage string
	// placeholders are ${env:X} and other values ferry reads from its
	// environment, by name, with the variable written.
	placeholders map[string]string
	depth        int
}

// serverless converts a serverless.yml: its variables are resolved, then
// each function of the aws provider is converted in file order.
func (m *migration) serverless(input string) error {
	root, err := readYAML(input)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := root.Decode(&doc); err != nil {
		return &badInput{fmt.Sprintf("%s: %v", input, err)}
	}
	s := &sls{migration: m, file: input, doc: doc, lines: map[string]int{}, placeholders: map[string]string{}}
	if fns := mapGet(root, "functions"); fns != nil {
		for _, kv := range pairs(fns) {
			s.lines[kv[0].Value] = kv[0].Line
		}
	}
	if p, _ := doc["provider"].(map[string]any); p != nil {
		if name, _ := p["name"].(string); name != "" && name != "aws" {
			return &badInput{fmt.Sprintf("%s: provider %s: ferry migrates AWS services only", input, name)}
		}
	}
	s.stage = "dev"
	if v, ok := m.opts.Overrides["stage"]; ok {
		s.stage = v
	} else if st, err := s.lookup("provider.stage", "provider.stage"); err == nil {
		if str, ok := st.(string); ok && str != "" {
			s.stage = str
		}
	} else {
		return err
	}
	provider, err := s.resolve(doc["provider"], "provider")
	if err != nil {
		return err
	}
	prov, _ := provider.(map[string]any)
	functions, _ := doc["functions"].(map[string]any)
	keys := make([]string, 0, len(functions))
	for k := range functions {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return s.lines[a] - s.lines[b] })
	for _, key := range keys {
		v, err := s.resolve(functions[key], "functions."+key)
		if err != nil {
			return err
		}
		spec, ok := v.(map[string]any)
		if !ok {
			return &badInput{fmt.Sprintf("%s:%d: functions.%s: want a mapping", input, s.lines[key], key)}
		}
		if err := s.function(key, spec, prov); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(s.placeholders))
	for n := range s.placeholders {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		m.add(Item{Resource: s.placeholders[n], Type: "variable", Status: Ported, File: input,
			Detail: fmt.Sprintf("read from ferry's environment as ${%s} when ferry serve starts (it must be set then)", n)})
	}
	return nil
}

var slsVar = regexp.MustCompile(`\$\{([^${}]*)\}`)

// resolve replaces the Serverless variables in v.
func (s *sls) resolve(v any, path string) (any, error) {
	switch v := v.(type) {
	case string:
		return s.resolveString(v, path)
	case []any:
		out := make([]any, len(v))
		for i, it := range v {
			r, err := s.resolve(it, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := map[string]any{}
		for k, it := range v {
			r, err := s.resolve(it, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// resolveString resolves the variables of one string, innermost first; a
// string that is one variable keeps the variable's type.
func (s *sls) resolveString(str, path string) (any, error) {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > 20 {
		return nil, &badInput{fmt.Sprintf("%s: %s: the variables refer to each other in a loop", s.file, path)}
	}
	for {
		loc := slsVar.FindStringSubmatchIndex(str)
		if loc == nil {
			return str, nil
		}
		expr := str[loc[2]:loc[3]]
		val, err := s.variable(expr, path)
		if err != nil {
			return nil, err
		}
		if loc[0] == 0 && loc[1] == len(str) {
			if _, isStr := val.(string); !isStr {
				return val, nil // a whole value: keep its type
			}
		}
		str = str[:loc[0]] + scalarText(val) + str[loc[1]:]
	}
}

// scalarText writes a resolved value as text.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case []any, map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}

// variable resolves one ${...}: sources separated by commas, the first
// that has a value wins.
func (s *sls) variable(expr, path string) (any, error) {
	for _, src := range strings.Split(expr, ",") {
		src = strings.TrimSpace(src)
		if src == "" {
			continue
		}
		if len(src) >= 2 && (src[0] == '\'' || src[0] == '"') && src[len(src)-1] == src[0] {
			return src[1 : len(src)-1], nil
		}
		if n, err := strconv.ParseFloat(src, 64); err == nil {
			return n, nil
		}
		kind, arg, _ := strings.Cut(src, ":")
		switch kind {
		case "self":
			v, err := s.lookup(arg, path)
			if err != nil {
				return nil, err
			}
			if v != nil {
				return s.resolve(v, arg)
			}
		case "opt":
			if v, ok := s.opts.Overrides[arg]; ok {
				return v, nil
			}
			if arg == "region" {
				return s.opts.Region, nil
			}
		case "sls":
			switch arg {
			case "stage":
				return s.stage, nil
			case "instanceId":
				return "ferry", nil
			}
		case "aws":
			switch arg {
			case "region":
				return s.opts.Region, nil
			case "accountId":
				return s.opts.AccountID, nil
			}
		case "env":
			name := envName(arg)
			s.placeholders[name] = path
			return phOpen + name + phClose, nil
		case "ssm", "cf", "s3", "file", "param":
			name := envName(strings.Trim(arg, "/"))
			s.placeholders[name] = path + " (" + kind + ":" + arg + ")"
			return phOpen + name + phClose, nil
		default:
			return nil, &badInput{fmt.Sprintf("%s: %s: ${%s}: unknown variable source %s", s.file, path, expr, kind)}
		}
	}
	return nil, &badInput{fmt.Sprintf("%s: %s: ${%s} has no value: pass --parameter-overrides for it or give it a default", s.file, path, expr)}
}

// lookup follows a dotted path in the document; nil when absent.
func (s *sls) lookup(dotted, path string) (any, error) {
	var cur any = s.doc
	for _, k := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = m[k]
	}
	if str, ok := cur.(string); ok {
		return s.resolveString(str, dotted)
	}
	return cur, nil
}

// function converts one function, with the provider's defaults.
func (s *sls) function(key string, spec, prov map[string]any) error {
	line := s.lines[key]
	item := Item{Resource: key, Type: "function", Status: Ported, File: s.file, Line: line}
	get := func(k string) any {
		if v, ok := spec[k]; ok {
			return v
		}
		return prov[k]
	}
	if spec["image"] != nil {
		item.Status, item.Detail = NotSupported, "a container image function (image:)"
		item.Action = "ferry runs Go handlers compiled to WebAssembly: give the function a Go handler package"
		s.add(item)
		return nil
	}
	rt, _ := get("runtime").(string)
	if !goRuntime(rt) {
		item.Status, item.Detail = NotSupported, "runtime "+rt+": ferry runs Go handlers only, not yet "+runtimeFamily(rt)
		item.Action = "rewrite the handler in Go, or keep this function on AWS Lambda"
		s.add(item)
		return nil
	}
	handlerPath, _ := spec["handler"].(string)
	dir := s.sourceDir(key, handlerPath, spec)
	if dir == "" {
		item.Status, item.Detail = NotSupported, fmt.Sprintf("no Go main package found for handler %q", handlerPath)
		item.Action = "put the handler's Go main package in a folder named after the function (or the handler's binary), or add the function to ferry.yaml by hand"
		s.add(item)
		return nil
	}
	fn := config.Function{Name: key, Source: s.rel(dir)}
	if n, ok := spec["name"].(string); ok && validName.MatchString(n) {
		fn.Name = n
	}
	var err error
	if fn.Memory, err = s.intValue(get("memorySize"), key, "memorySize"); err != nil {
		return err
	}
	t, err := s.intValue(get("timeout"), key, "timeout")
	if err != nil {
		return err
	}
	fn.Timeout = time.Duration(t) * time.Second
	if fn.Concurrency, err = s.intValue(spec["reservedConcurrency"], key, "reservedConcurrency"); err != nil {
		return err
	}
	if fn.MinInstances, err = s.intValue(spec["provisionedConcurrency"], key, "provisionedConcurrency"); err != nil {
		return err
	}
	if fn.EphemeralStorage, err = s.intValue(get("ephemeralStorageSize"), key, "ephemeralStorageSize"); err != nil {
		return err
	}
	env := map[string]string{}
	for _, src := range []any{prov["environment"], spec["environment"]} {
		m, _ := src.(map[string]any)
		for k, v := range m {
			env[k] = ferryValue(scalarText(v))
		}
	}
	if len(env) > 0 {
		fn.Environment = env
	}
	for _, k := range []string{"layers", "vpc", "onError"} {
		if get(k) != nil {
			s.add(Item{Resource: key, Type: k, Status: Attention, File: s.file, Line: line,
				Detail: k + " is not supported by ferry", Action: "remove the dependency on it, or keep this function on AWS Lambda"})
		}
	}
	if ps, _ := prov["iam"].(map[string]any); ps != nil {
		if role, _ := ps["role"].(map[string]any); role != nil && role["statements"] != nil {
			s.add(Item{Resource: key, Type: "iam", Status: Attention, File: s.file, Line: line,
				Detail: "IAM statements are not enforced by ferry",
				Action: "give the function credentials for what they allowed (environment) and allowedOutboundHosts: [https://*.amazonaws.com]"})
		}
	}
	item.Detail = fmt.Sprintf("function %s, source %s", fn.Name, fn.Source)
	s.add(item)
	s.asyncSettings(key, spec, &fn)
	evs, _ := spec["events"].([]any)
	for i, ev := range evs {
		if err := s.event(key, i, ev, prov, &fn); err != nil {
			return err
		}
	}
	if u := spec["url"]; u != nil && u != false {
		base := "/" + fn.Name
		fn.HTTP = append(fn.HTTP, config.HTTPRoute{Path: base, Format: events.FormatFunctionURL},
			config.HTTPRoute{Path: base + "/{proxy+}", Format: events.FormatFunctionURL})
		s.add(Item{Resource: key + "/url", Type: "url", Status: Ported, File: s.file, Line: line,
			Detail: fmt.Sprintf("function-url routes %s and %s/{proxy+} (a function URL has its own host on AWS; here its paths start with %s)", base, base, base)})
	}
	s.cfg.Functions = append(s.cfg.Functions, fn)
	s.handlers = append(s.handlers, handler{dir: dir, function: fn.Name})
	return nil
}

// asyncSettings reads a function's retries, event age and destinations.
func (s *sls) asyncSettings(key string, spec map[string]any, fn *config.Function) {
	a := &fn.AsyncConfig
	if v, ok := spec["maximumRetryAttempts"]; ok {
		if n, err := strconv.Atoi(scalarText(v)); err == nil && n >= 0 && n <= 2 {
			a.RetryDelays = append([]time.Duration{}, lambdaspec.DefaultRetryDelays[:n]...)
		}
	}
	if v, ok := spec["maximumEventAge"]; ok {
		if n, err := strconv.Atoi(scalarText(v)); err == nil {
			a.MaxEventAge = time.Duration(n) * time.Second
		}
	}
	dest, _ := spec["destinations"].(map[string]any)
	for _, cond := range []string{"onSuccess", "onFailure"} {
		target, ok := dest[cond]
		if !ok {
			continue
		}
		name := scalarText(target)
		if m := functionARN.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		var d config.Destination
		if f, ok := s.doc["functions"].(map[string]any); ok && f[name] != nil {
			d.Function = name
		} else {
			d.File = ".ferry/" + fn.Name + "-" + strings.ToLower(cond) + ".jsonl"
			s.add(Item{Resource: key + "/" + cond, Type: "destinations", Status: Attention, File: s.file, Line: s.lines[key],
				Detail: fmt.Sprintf("destination %s is not run by ferry: records go to the file %s", name, d.File),
				Action: "read the destination records from that file, or send them to a function of the service instead"})
		}
		if cond == "onSuccess" {
			a.OnSuccess = d
		} else {
			a.OnFailure = d
		}
	}
}

// intValue reads a whole number setting of a function.
func (s *sls) intValue(v any, key, field string) (int, error) {
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(scalarText(v))
	if err != nil {
		return 0, &badInput{fmt.Sprintf("%s:%d: functions.%s.%s: %q is not a whole number", s.file, s.lines[key], key, field, scalarText(v))}
	}
	return n, nil
}

// sourceDir finds the Go main package a function's handler is built
// from: Go services name the binary (bin/hello) after the package's
// folder (hello, cmd/hello, functions/hello).
func (s *sls) sourceDir(key, handlerPath string, spec map[string]any) string {
	var names []string
	if handlerPath != "" {
		names = append(names, handlerPath, filepath.Dir(handlerPath))
		if b := filepath.Base(handlerPath); b != "bootstrap" {
			names = append(names, b)
		}
	}
	if pkg, _ := spec["package"].(map[string]any); pkg != nil {
		if a, _ := pkg["artifact"].(string); a != "" {
			names = append(names, strings.TrimSuffix(filepath.Base(a), filepath.Ext(a)))
		}
	}
	names = append(names, key)
	for _, n := range names {
		for _, prefix := range []string{"", "cmd", "functions", "src"} {
			d := filepath.Join(s.baseDir, prefix, filepath.FromSlash(n))
			if hasGoMain(d) {
				return d
			}
		}
	}
	return ""
}

// event converts one of a function's events.
func (s *sls) event(key string, i int, ev any, prov map[string]any, fn *config.Function) error {
	evm, ok := ev.(map[string]any)
	if !ok || len(evm) != 1 {
		return &badInput{fmt.Sprintf("%s:%d: functions.%s.events[%d]: want a mapping with one event type", s.file, s.lines[key], key, i)}
	}
	var typ string
	var spec any
	for k, v := range evm {
		typ, spec = k, v
	}
	item := Item{Resource: fmt.Sprintf("%s/events[%d]", key, i), Type: typ, Status: Ported, File: s.file, Line: s.lines[key]}
	switch typ {
	case "http", "httpApi":
		route := config.HTTPRoute{Format: events.FormatHTTPAPI}
		if typ == "http" {
			route.Format, route.Stage = events.FormatREST, s.stage
		}
		var method, path string
		switch v := spec.(type) {
		case string:
			if v == "*" {
				path = "/{proxy+}"
			} else {
				method, path, _ = strings.Cut(v, " ")
			}
		case map[string]any:
			method, path = scalarText(v["method"]), scalarText(v["path"])
			if v["authorizer"] != nil || v["private"] == true {
				item.Status = Attention
				item.Action = "authorizers and API keys are not checked by ferry: check credentials in the handler or in front of ferry"
			}
			if v["cors"] != nil && v["cors"] != false {
				route.CORS = &events.CORS{AllowOrigins: []string{"*"}}
			}
		}
		if path == "" {
			path = "/{proxy+}"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		route.Path = path
		if m := strings.ToUpper(method); m != "" && m != "ANY" && m != "*" {
			route.Methods = []string{m}
		}
		if typ == "httpApi" {
			if hc, _ := prov["httpApi"].(map[string]any); hc != nil && hc["cors"] == true {
				route.CORS = &events.CORS{AllowOrigins: []string{"*"}}
			}
		}
		fn.HTTP = append(fn.HTTP, route)
		item.Detail = fmt.Sprintf("%s route %s %s", route.Format, methodsText(route.Methods), route.Path)
	case "schedule":
		var rates []string
		enabled := true
		var input any
		name := ""
		switch v := spec.(type) {
		case string:
			rates = []string{v}
		case map[string]any:
			switch r := v["rate"].(type) {
			case string:
				rates = []string{r}
			case []any:
				for _, x := range r {
					rates = append(rates, scalarText(x))
				}
			}
			if v["enabled"] == false {
				enabled = false
			}
			input = v["input"]
			name, _ = v["name"].(string)
		}
		for j, r := range rates {
			st := config.ScheduleTrigger{Name: ruleName(fn.Name, fmt.Sprintf("schedule-%d", i+1)), Expression: r, Enabled: enabled}
			if len(rates) > 1 {
				st.Name = ruleName(fn.Name, fmt.Sprintf("schedule-%d-%d", i+1, j+1))
			}
			if name != "" && validRule.MatchString(name) && len(rates) == 1 {
				st.Name = name
			}
			if input != nil {
				var b []byte
				if str, ok := input.(string); ok && json.Valid([]byte(str)) {
					b = []byte(str)
				} else {
					b, _ = json.Marshal(input)
				}
				st.Input = b
			}
			fn.Schedules = append(fn.Schedules, st)
		}
		item.Detail = "schedule " + strings.Join(rates, ", ")
	case "sqs":
		s.sqsEvent(spec, fn, &item)
	default:
		item.Status = NotSupported
		item.Detail = typ + " events are not run by ferry"
		switch typ {
		case "s3":
			item.Action = notRunYet["S3"]
		case "sns":
			item.Action = notRunYet["SNS"]
		case "stream":
			item.Action = "ferry does not read DynamoDB or Kinesis streams: invoke the function with such an event through the Invoke API"
		default:
			item.Action = "invoke the function through the Invoke API, or keep this trigger on AWS"
		}
	}
	s.add(item)
	return nil
}

// sqsEvent converts an sqs event (an ARN, or {arn, batchSize,
// maximumBatchingWindow, functionResponseType, filterPatterns, enabled})
// into an SQS event source.
func (s *sls) sqsEvent(spec any, fn *config.Function, item *Item) {
	c := &eventsource.SQS{}
	var arn any = spec
	if m, ok := spec.(map[string]any); ok {
		arn = m["arn"]
		if m["enabled"] == false {
			item.Status, item.Detail = NotSupported, "sqs event is disabled in serverless.yml"
			item.Action = "left out; add it to eventSources: in ferry.yaml to run it"
			return
		}
		c.BatchSize, _ = m["batchSize"].(int)
		if w, ok := m["maximumBatchingWindow"].(int); ok {
			c.MaximumBatchingWindow = eventsource.Window(time.Duration(w) * time.Second)
		}
		if m["functionResponseType"] == "ReportBatchItemFailures" {
			c.FunctionResponseTypes = []string{"ReportBatchItemFailures"}
		}
		if fps, ok := m["filterPatterns"].([]any); ok {
			for _, fp := range fps {
				b, err := json.Marshal(fp)
				if err == nil {
					c.FilterCriteria.Filters = append(c.FilterCriteria.Filters, eventsource.Filter{Pattern: string(b)})
				}
			}
		}
	}
	if a, ok := arn.(string); ok && strings.HasPrefix(a, "arn:") {
		c.Queue = a
	} else {
		// A queue of the stack (Fn::GetAtt): its ARN is known once deployed.
		name := strings.ToUpper(envName(fn.Name)) + "_SQS_QUEUE"
		c.Queue = "${" + name + "}"
		item.Status, item.Action = Attention, "set "+name+" to the queue's URL"
	}
	fn.EventSources = append(fn.EventSources, config.EventSource{SQS: c})
	item.Detail = "sqs event source " + c.Queue
}
