package config

// A function's http: routes and their CORS.

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ferrywasm/ferry/events"
)

var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

func (p *parser) route(n *yaml.Node, where, fnName string, x *crossRefs) (HTTPRoute, bool) {
	r := HTTPRoute{Line: n.Line, Format: events.FormatHTTPAPI}
	m, ok := p.fields(n, where, routeKeys...)
	if !ok {
		return r, false
	}
	at := func(key string) string { return where + ": " + key }
	pathOK := false
	if v := m["path"]; v == nil {
		p.fail(n, where, "path: missing")
	} else if s, ok := p.str(v, at("path")); ok {
		r.Path = s
		if err := checkPath(s); err != nil {
			p.fail(v, at("path"), "%q %v", s, err)
		} else {
			pathOK = true
		}
	}
	if v := m["methods"]; v != nil {
		if items, ok := p.strs(v, at("methods")); ok {
			if len(items) == 0 {
				p.fail(v, at("methods"), "the list is empty; leave methods out to accept any method")
			}
			anyMethod, dup := false, map[string]bool{}
			for _, s := range items {
				u := strings.ToUpper(s)
				switch {
				case u == "ANY":
					anyMethod = true
				case !httpMethods[u]:
					p.fail(v, at("methods"), "%q is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or ANY)", s)
				case dup[u]:
					p.fail(v, at("methods"), "%s is listed twice", u)
				default:
					dup[u] = true
					r.Methods = append(r.Methods, u)
				}
			}
			if anyMethod && len(items) > 1 {
				p.fail(v, at("methods"), "ANY already means every method; list it alone")
			}
			if anyMethod {
				r.Methods = nil
			}
		}
	}
	formatNode := m["format"]
	if formatNode != nil {
		if s, ok := p.str(formatNode, at("format")); ok {
			valid := false
			names := make([]string, 0, len(events.HTTPFormats))
			for _, f := range events.HTTPFormats {
				valid = valid || s == string(f)
				names = append(names, string(f))
			}
			if !valid {
				p.fail(formatNode, at("format"), "%q is not one of %s", s, strings.Join(names, ", "))
			}
			r.Format = events.HTTPFormat(s)
		}
	}
	if v := m["stage"]; v != nil {
		if s, ok := p.nonEmpty(v, at("stage")); ok {
			r.Stage = s
		}
	}
	if v := m["binaryMediaTypes"]; v != nil {
		if items, ok := p.strs(v, at("binaryMediaTypes")); ok {
			for _, s := range items {
				if typ, sub, ok := strings.Cut(s, "/"); !ok || typ == "" || sub == "" || strings.Contains(sub, "/") {
					p.fail(v, at("binaryMediaTypes"), "%q is not a media type like image/png or image/*", s)
				}
			}
			r.BinaryMediaTypes = items
		}
	}
	if v := m["multiValueHeaders"]; v != nil {
		if b, ok := p.boolean(v, at("multiValueHeaders")); ok {
			if r.Format != events.FormatALB {
				p.fail(v, at("multiValueHeaders"), "only applies to format alb, and this route's format is %s", r.Format)
			}
			r.MultiValueHeaders = b
		}
	}
	if v := m["apiKeyRequired"]; v != nil {
		if b, ok := p.boolean(v, at("apiKeyRequired")); ok {
			if r.Format != events.FormatREST {
				p.fail(v, at("apiKeyRequired"), "only applies to format rest (a REST API's API keys), and this route's format is %s", r.Format)
			}
			r.APIKeyRequired = b
		}
	}
	if v := m["authorizer"]; v != nil {
		if r.Format != events.FormatHTTPAPI {
			p.fail(v, at("authorizer"), "only applies to format http-api (an HTTP API's JWT authorizer), and this route's format is %s", r.Format)
		}
		r.JWT = p.jwtAuthorizer(v, at("authorizer"))
	}
	if v := m["cors"]; v != nil {
		if r.Format == events.FormatALB {
			p.fail(v, at("cors"), "format alb has no CORS configuration (an ALB passes preflight requests to the function)")
		}
		r.CORS = p.cors(v, at("cors"))
	}
	if pathOK {
		methods := r.Methods
		if methods == nil {
			methods = []string{"ANY"}
		}
		owner := fmt.Sprintf("function %s (line %d)", fnName, n.Line)
		for _, method := range methods {
			key := method + " " + routeKey(r.Path)
			if first, dup := x.routes[key]; dup {
				p.fail(n, where, "%s %s is already routed to %s", method, r.Path, first.owner)
				continue
			}
			x.routes[key] = seen{line: n.Line, owner: owner}
		}
	}
	return r, true
}

// checkPath checks an API Gateway style route path.
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return errors.New(`does not start with "/"`)
	}
	if path == "/" {
		return nil
	}
	segments := strings.Split(path[1:], "/")
	params := map[string]bool{}
	for i, seg := range segments {
		if seg == "" {
			return errors.New("has an empty segment (// or a trailing /)")
		}
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			return fmt.Errorf("has %q: a path parameter must be a whole segment, like /{id}", seg)
		}
		name := seg[1 : len(seg)-1]
		greedy := strings.HasSuffix(name, "+")
		name = strings.TrimSuffix(name, "+")
		if !paramNamePattern.MatchString(name) {
			return fmt.Errorf("has %q: a parameter name is letters, digits, ., - and _", seg)
		}
		if greedy && i != len(segments)-1 {
			return fmt.Errorf("has %q before the end: a greedy parameter must be the last segment", seg)
		}
		if params[name] {
			return fmt.Errorf("names parameter %s twice", name)
		}
		params[name] = true
	}
	return nil
}

// routeKey is path with parameter names erased: /a/{id} and /a/{name}
// are the same route.
func routeKey(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		switch {
		case strings.HasSuffix(seg, "+}"):
			segments[i] = "{+}"
		case strings.HasPrefix(seg, "{"):
			segments[i] = "{}"
		}
	}
	return strings.Join(segments, "/")
}

// jwtAuthorizer reads a route's authorizer: {jwt: {...}, authorizationScopes}.
func (p *parser) jwtAuthorizer(n *yaml.Node, where string) *JWTAuthorizer {
	m, ok := p.fields(n, where, authorizerKeys...)
	if !ok {
		return nil
	}
	a := &JWTAuthorizer{}
	if v := m["authorizationScopes"]; v != nil {
		a.Scopes, _ = p.strs(v, where+": authorizationScopes")
	}
	jn := m["jwt"]
	if jn == nil {
		p.fail(n, where, "needs jwt: {issuer, audience, jwksUri or jwks}")
		return a
	}
	where += ": jwt"
	j, ok := p.fields(jn, where, jwtKeys...)
	if !ok {
		return a
	}
	at := func(key string) string { return where + ": " + key }
	if v := j["issuer"]; v != nil {
		a.Issuer, _ = p.nonEmpty(v, at("issuer"))
	} else {
		p.fail(jn, where, "needs issuer (the tokens' iss)")
	}
	if v := j["audience"]; v != nil {
		if auds, ok := p.strs(v, at("audience")); ok {
			if len(auds) == 0 || slices.Contains(auds, "") {
				p.fail(v, at("audience"), "needs at least one non-empty audience (the tokens' aud or client_id)")
			}
			a.Audience = auds
		}
	} else {
		p.fail(jn, where, "needs audience (a list of the tokens' aud or client_id values)")
	}
	uri, file := j["jwksUri"], j["jwks"]
	switch {
	case uri != nil && file != nil:
		p.fail(jn, where, "has both jwksUri and jwks: give one")
	case uri != nil:
		if s, ok := p.nonEmpty(uri, at("jwksUri")); ok {
			if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				p.fail(uri, at("jwksUri"), "%q is not an http(s) URL", s)
			}
			a.JWKSURI = s
		}
	case file != nil:
		if s, ok := p.nonEmpty(file, at("jwks")); ok {
			a.JWKSFile = p.resolve(s)
		}
	default:
		p.fail(jn, where, "needs jwksUri (the issuer's JWKS URL) or jwks (a JWKS file)")
	}
	return a
}

func (p *parser) cors(n *yaml.Node, where string) *events.CORS {
	m, ok := p.fields(n, where, corsKeys...)
	if !ok {
		return nil
	}
	c := &events.CORS{}
	at := func(key string) string { return where + ": " + key }
	lists := []struct {
		key string
		dst *[]string
	}{{"allowOrigins", &c.AllowOrigins}, {"allowMethods", &c.AllowMethods}, {"allowHeaders", &c.AllowHeaders}, {"exposeHeaders", &c.ExposeHeaders}}
	for _, l := range lists {
		if v := m[l.key]; v != nil {
			if items, ok := p.strs(v, at(l.key)); ok {
				for _, s := range items {
					if s == "" {
						p.fail(v, at(l.key), "has an empty string")
					}
				}
				*l.dst = items
			}
		}
	}
	if v := m["allowMethods"]; v != nil {
		for _, s := range c.AllowMethods {
			if u := strings.ToUpper(s); u != "*" && !httpMethods[u] {
				p.fail(v, at("allowMethods"), "%q is not an HTTP method or *", s)
			}
		}
	}
	if v := m["maxAge"]; v != nil {
		if age, ok := p.integer(v, at("maxAge")); ok {
			if age < 0 || age > 86400 {
				p.fail(v, at("maxAge"), "%d is not between 0 and 86400 seconds", age)
			}
			c.MaxAge = age
		}
	}
	if v := m["allowCredentials"]; v != nil {
		if b, ok := p.boolean(v, at("allowCredentials")); ok {
			c.AllowCredentials = b
			for _, o := range c.AllowOrigins {
				if b && o == "*" {
					p.fail(v, at("allowCredentials"), `true cannot be combined with allowOrigins "*"; list the origins`)
				}
			}
		}
	}
	return c
}
