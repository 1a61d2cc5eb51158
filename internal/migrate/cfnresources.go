package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/config"
	"gopkg.in/yaml.v3"
)

// quiet are resource types that only wire up what ferry.yaml already
// says (a function's permissions, an API's deployment), or that
// CloudFormation tooling adds: nothing to report.
var quiet = map[string]bool{
	"AWS::Serverless::Function": true, "AWS::Lambda::Function": true, "AWS::Lambda::Permission": true,
	"AWS::ApiGateway::RestApi": true, "AWS::ApiGateway::Deployment": true, "AWS::ApiGateway::Stage": true,
	"AWS::ApiGateway::Resource": true, "AWS::ApiGateway::Account": true,
	"AWS::ApiGatewayV2::Api": true, "AWS::ApiGatewayV2::Stage": true, "AWS::ApiGatewayV2::Integration": true,
	"AWS::ApiGatewayV2::Deployment": true, "AWS::CDK::Metadata": true, "AWS::Logs::LogGroup": true,
	"AWS::Lambda::Version": true, "AWS::Lambda::Alias": true,
}

// other converts the resources other than functions that can name one.
func (c *cfn) other(r *resource) error {
	path := "Resources." + r.id + ".Properties"
	switch r.typ {
	case "AWS::Lambda::Url":
		id := c.functionIn(mapGet(r.props, "TargetFunctionArn"))
		if id == "" {
			return c.unknownTarget(r, "TargetFunctionArn")
		}
		return c.functionURL(id, r.props, path)
	case "AWS::Lambda::EventInvokeConfig":
		id := c.functionIn(mapGet(r.props, "FunctionName"))
		if id == "" {
			return c.unknownTarget(r, "FunctionName")
		}
		return c.eventInvokeConfig(id, r.props, path)
	case "AWS::Events::Rule":
		return c.rule(r, path)
	case "AWS::ApiGatewayV2::Route":
		return c.v2Route(r, path)
	case "AWS::ApiGateway::Method":
		return c.restMethod(r, path)
	case "AWS::Serverless::Api", "AWS::Serverless::HttpApi":
		if mapGet(r.props, "DefinitionUri") != nil {
			c.add(Item{Resource: r.id, Type: r.typ, Status: Attention, Line: r.line,
				Detail: "an OpenAPI definition in a separate file (DefinitionUri): ferry takes routes from the functions' events",
				Action: "check that every path of the definition is an Api/HttpApi event of its function, or add it under the function's http: in ferry.yaml"})
			return nil
		}
		if body := mapGet(r.props, "DefinitionBody"); body != nil {
			return c.openAPI(r, body)
		}
		c.add(Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line, Detail: "its settings apply to the routes of the events that name it"})
		return nil
	case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
		c.add(Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line,
			Detail: "IAM is not enforced by ferry: a function has the AWS credentials its environment gives it, if any"})
		return nil
	}
	if quiet[r.typ] {
		return nil
	}
	c.add(Item{Resource: r.id, Type: r.typ, Status: NotSupported, Line: r.line,
		Detail: "ferry runs functions and their triggers; it does not create " + r.typ,
		Action: "create it on AWS (or use an existing one) and give the functions its name in their environment"})
	return nil
}

// unknownTarget reports a resource that points at no function of the
// template.
func (c *cfn) unknownTarget(r *resource, key string) error {
	c.add(Item{Resource: r.id, Type: r.typ, Status: NotSupported, Line: r.line,
		Detail: key + " names no function of this template", Action: "nothing ferry can serve; remove it or point it at a function of the template"})
	return nil
}

// rule turns an EventBridge rule's schedule into schedules of the
// functions it targets.
func (c *cfn) rule(r *resource, path string) error {
	t := c.t
	exprNode, err := t.field(r.props, "ScheduleExpression", path)
	if err != nil {
		return err
	}
	if exprNode == nil {
		c.add(Item{Resource: r.id, Type: r.typ, Status: NotSupported, Line: r.line,
			Detail: "an event pattern rule: ferry runs schedules, not event patterns",
			Action: "invoke the target function through the Invoke API"})
		return nil
	}
	expr, err := t.evalString(exprNode, path+".ScheduleExpression")
	if err != nil {
		return err
	}
	enabled := true
	if sn, err := t.field(r.props, "State", path); err != nil {
		return err
	} else if sn != nil && sn.Value == "DISABLED" {
		enabled = false
	}
	name := r.id
	if nn, err := t.field(r.props, "Name", path); err != nil {
		return err
	} else if nn != nil {
		if s, err := t.evalString(nn, path+".Name"); err == nil && validRule.MatchString(s) {
			name = s
		}
	}
	targets, err := t.field(r.props, "Targets", path)
	if err != nil {
		return err
	}
	list := listOf(targets)
	for i, tg := range list {
		tpath := fmt.Sprintf("%s.Targets[%d]", path, i)
		id := c.functionIn(mapGet(tg, "Arn"))
		if id == "" {
			c.add(Item{Resource: r.id, Type: r.typ, Status: NotSupported, Line: tg.Line,
				Detail: fmt.Sprintf("target %d is not a function of this template", i+1), Action: "keep this target on AWS"})
			continue
		}
		fn := c.functionOf(id)
		s := config.ScheduleTrigger{Name: name, Expression: expr, Enabled: enabled}
		if len(list) > 1 {
			s.Name = ruleName(name, fmt.Sprint(i+1))
		}
		in, err := t.field(tg, "Input", tpath)
		if err != nil {
			return err
		}
		if in != nil {
			text, err := t.evalString(in, tpath+".Input")
			if err != nil {
				return err
			}
			if !json.Valid([]byte(text)) {
				return t.errorf(in, tpath+".Input", "not JSON: %s", text)
			}
			var buf bytes.Buffer
			_ = json.Compact(&buf, []byte(text))
			s.Input = buf.Bytes()
		}
		fn.Schedules = append(fn.Schedules, s)
		c.add(Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line,
			Detail: fmt.Sprintf("schedule %s of function %s: %s", s.Name, fn.Name, expr)})
	}
	return nil
}

// v2Route turns an API Gateway v2 route whose integration is a function
// into a route.
func (c *cfn) v2Route(r *resource, path string) error {
	t := c.t
	keyNode, err := t.field(r.props, "RouteKey", path)
	if err != nil {
		return err
	}
	if keyNode == nil {
		return t.errorf(r.node, path, "RouteKey: missing")
	}
	key, err := t.evalString(keyNode, path+".RouteKey")
	if err != nil {
		return err
	}
	item := Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line}
	if api := c.resourceIn(mapGet(r.props, "ApiId"), "AWS::ApiGatewayV2::Api"); api != nil {
		if p := mapGet(api.props, "ProtocolType"); p != nil && p.Value == "WEBSOCKET" {
			item.Status, item.Detail = NotSupported, "a WebSocket API route"
			item.Action = "keep WebSocket APIs on AWS"
			c.add(item)
			return nil
		}
	}
	integ := c.resourceIn(mapGet(r.props, "Target"), "AWS::ApiGatewayV2::Integration")
	if integ == nil {
		item.Status, item.Detail = NotSupported, "its Target is not an integration of this template"
		c.add(item)
		return nil
	}
	id := c.functionIn(mapGet(integ.props, "IntegrationUri"))
	if id == "" {
		item.Status, item.Detail = NotSupported, "its integration "+integ.id+" does not call a function of this template"
		item.Action = "ferry routes only to functions"
		c.add(item)
		return nil
	}
	route := config.HTTPRoute{Format: events.FormatHTTPAPI}
	if v := mapGet(integ.props, "PayloadFormatVersion"); v != nil && v.Value == "1.0" {
		route.Format = events.FormatREST
	}
	if key == "$default" {
		route.Path = "/{proxy+}"
	} else {
		method, p, ok := strings.Cut(key, " ")
		if !ok {
			return t.errorf(keyNode, path+".RouteKey", "%q is not METHOD /path or $default", key)
		}
		route.Path = p
		if method = strings.ToUpper(method); method != "ANY" {
			route.Methods = []string{method}
		}
	}
	if a := mapGet(r.props, "AuthorizationType"); a != nil && a.Value != "NONE" {
		item.Status = Attention
		item.Action = "authorization " + a.Value + " is not checked by ferry: check credentials in the handler or in front of ferry"
	}
	fn := c.functionOf(id)
	fn.HTTP = append(fn.HTTP, route)
	item.Detail = fmt.Sprintf("%s route %s %s of function %s", route.Format, methodsText(route.Methods), route.Path, fn.Name)
	c.add(item)
	return nil
}

// resourceIn returns the first resource of type typ a node refers to.
func (c *cfn) resourceIn(n *yaml.Node, typ string) *resource {
	for _, id := range refsIn(n) {
		if r, ok := c.t.resources[id]; ok && r.typ == typ {
			return r
		}
	}
	return nil
}

// restMethod turns an API Gateway (REST) method with a Lambda proxy
// integration into a route, its path from the chain of Resources.
func (c *cfn) restMethod(r *resource, path string) error {
	item := Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line}
	method := "ANY"
	if m := mapGet(r.props, "HttpMethod"); m != nil {
		method = strings.ToUpper(m.Value)
	}
	integ := mapGet(r.props, "Integration")
	typ := ""
	if tn := mapGet(integ, "Type"); tn != nil {
		typ = tn.Value
	}
	id := c.functionIn(mapGet(integ, "Uri"))
	if typ != "AWS_PROXY" || id == "" {
		item.Status = NotSupported
		item.Detail = fmt.Sprintf("%s method with a %s integration", method, typ)
		item.Action = "ferry routes to functions through Lambda proxy integrations only"
		if method == "OPTIONS" && typ == "MOCK" {
			item.Detail = "a CORS preflight (OPTIONS, MOCK integration)"
			item.Action = "give the routes a cors: setting in ferry.yaml if browsers call them"
		}
		c.add(item)
		return nil
	}
	p, err := c.resourcePath(mapGet(r.props, "ResourceId"), path+".ResourceId", 0)
	if err != nil {
		return err
	}
	route := config.HTTPRoute{Path: p, Format: events.FormatREST}
	if method != "ANY" {
		route.Methods = []string{method}
	}
	if api := c.resourceIn(mapGet(r.props, "RestApiId"), "AWS::ApiGateway::RestApi"); api != nil {
		route.Stage = c.restStage(api.id)
		if b := mapGet(api.props, "BinaryMediaTypes"); b != nil {
			for _, s := range listOf(b) {
				route.BinaryMediaTypes = append(route.BinaryMediaTypes, strings.ReplaceAll(s.Value, "~1", "/"))
			}
		}
	}
	if a := mapGet(r.props, "AuthorizationType"); a != nil && a.Value != "NONE" {
		item.Status = Attention
		item.Action = "authorization " + a.Value + " is not checked by ferry: check credentials in the handler or in front of ferry"
	}
	if k := mapGet(r.props, "ApiKeyRequired"); k != nil && k.Value == "true" {
		item.Status = Attention
		item.Action = "API keys are not checked by ferry: check them in the handler or in front of ferry"
	}
	fn := c.functionOf(id)
	fn.HTTP = append(fn.HTTP, route)
	item.Detail = fmt.Sprintf("rest route %s %s of function %s", methodsText(route.Methods), route.Path, fn.Name)
	c.add(item)
	return nil
}

// resourcePath follows an API Gateway resource's ParentId chain up to the
// API's root.
func (c *cfn) resourcePath(n *yaml.Node, path string, depth int) (string, error) {
	t := c.t
	if depth > 50 {
		return "", t.errorf(n, path, "the chain of ParentId does not end")
	}
	if fn, arg := intrinsic(n); fn == "Fn::GetAtt" {
		if strings.HasSuffix(flatText(arg), "RootResourceId") {
			return "/", nil
		}
	}
	r := c.resourceIn(n, "AWS::ApiGateway::Resource")
	if r == nil {
		// A Ref to the RestApi itself stands for the root in some tools.
		if c.resourceIn(n, "AWS::ApiGateway::RestApi") != nil {
			return "/", nil
		}
		return "", t.errorf(n, path, "not an AWS::ApiGateway::Resource of this template nor the API's RootResourceId")
	}
	part, err := t.evalString(mapGet(r.props, "PathPart"), "Resources."+r.id+".Properties.PathPart")
	if err != nil {
		return "", err
	}
	parent, err := c.resourcePath(mapGet(r.props, "ParentId"), "Resources."+r.id+".Properties.ParentId", depth+1)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(parent, "/") + "/" + part, nil
}

// restStage is the stage of a REST API: its Stage resource's, else its
// Deployment's StageName.
func (c *cfn) restStage(api string) string {
	stage := ""
	for _, r := range c.t.order {
		if r.typ != "AWS::ApiGateway::Stage" && r.typ != "AWS::ApiGateway::Deployment" {
			continue
		}
		if c.resourceIn(mapGet(r.props, "RestApiId"), "AWS::ApiGateway::RestApi") == nil || refsIn(mapGet(r.props, "RestApiId"))[0] != api {
			continue
		}
		if sn := mapGet(r.props, "StageName"); sn != nil {
			s, err := c.t.evalString(sn, "Resources."+r.id+".Properties.StageName")
			if err == nil && (stage == "" || r.typ == "AWS::ApiGateway::Stage") {
				stage = s
			}
		}
	}
	return stage
}

// openAPIMethods are the operations of an OpenAPI path item, and the
// methods they route.
var openAPIMethods = map[string]string{"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
	"head": "HEAD", "patch": "PATCH", "x-amazon-apigateway-any-method": "ANY"}

// openAPI turns the Lambda proxy integrations of an API's inline OpenAPI
// definition into routes, except those the functions' events declare
// already (SAM merges those into the definition).
func (c *cfn) openAPI(r *resource, body *yaml.Node) error {
	kind := "Api"
	if r.typ == "AWS::Serverless::HttpApi" {
		kind = "HttpApi"
	}
	routed := 0
	for _, pv := range pairs(mapGet(body, "paths")) {
		path := pv[0].Value
		for _, ov := range pairs(pv[1]) {
			method, ok := openAPIMethods[strings.ToLower(ov[0].Value)]
			integ := mapGet(ov[1], "x-amazon-apigateway-integration")
			if !ok || integ == nil {
				continue
			}
			item := Item{Resource: r.id + " " + method + " " + path, Type: "OpenAPI operation", Status: Ported, Line: ov[0].Line}
			typ := ""
			if tn := mapGet(integ, "type"); tn != nil {
				typ = strings.ToLower(tn.Value)
			}
			id := c.functionIn(mapGet(integ, "uri"))
			if typ != "aws_proxy" || id == "" {
				item.Status, item.Detail = NotSupported, "its integration is not a Lambda proxy integration of a function of this template"
				item.Action = "ferry routes to functions through Lambda proxy integrations only"
				c.add(item)
				continue
			}
			route := config.HTTPRoute{Path: path, Format: events.FormatREST, Stage: "Prod"}
			if kind == "HttpApi" {
				route.Format, route.Stage = events.FormatHTTPAPI, ""
				if v := mapGet(integ, "payloadFormatVersion"); v != nil && v.Value == "1.0" {
					route.Format = events.FormatREST
				}
			}
			if method != "ANY" {
				route.Methods = []string{method}
			}
			if owner := c.routedTo(route); owner != "" {
				continue // an event of the function declares it
			}
			var err error
			if kind == "Api" {
				err = c.restSettings(r, "Resources."+r.id+".Properties", &route, &item)
			} else {
				err = c.httpSettings(r, "Resources."+r.id+".Properties", &route, &item)
			}
			if err != nil {
				return err
			}
			fn := c.functionOf(id)
			fn.HTTP = append(fn.HTTP, route)
			routed++
			item.Detail = fmt.Sprintf("%s route %s %s of function %s, from the OpenAPI definition", route.Format, methodsText(route.Methods), route.Path, fn.Name)
			c.add(item)
		}
	}
	c.add(Item{Resource: r.id, Type: r.typ, Status: Ported, Line: r.line,
		Detail: fmt.Sprintf("its settings apply to the routes of the events that name it; %d more routes from its OpenAPI definition", routed)})
	return nil
}

// routedTo returns the function that has a route with the same path and
// methods already, or "".
func (c *cfn) routedTo(route config.HTTPRoute) string {
	for _, fn := range c.cfg.Functions {
		for _, r := range fn.HTTP {
			if r.Path == route.Path && slices.Equal(r.Methods, route.Methods) {
				return fn.Name
			}
		}
	}
	return ""
}
