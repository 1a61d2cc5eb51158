// Command http-api is an API Gateway HTTP API (payload 2.0) handler, as
// written for aws-lambda-go: it reads the path, query string, cookies and
// headers, and answers JSON with a cookie of its own.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type reply struct {
	RouteKey  string            `json:"routeKey"`
	Method    string            `json:"method"`
	RawPath   string            `json:"rawPath"`
	RawQuery  string            `json:"rawQueryString"`
	Query     map[string]string `json:"query"`
	Path      map[string]string `json:"pathParameters"`
	Cookies   []string          `json:"cookies"`
	UserAgent string            `json:"userAgent"`
	Accept    string            `json:"accept"`
	Body      string            `json:"body"`
	Greeting  string            `json:"greeting"`
	// Caller and Scopes come from a JWT authorizer, when the route has one.
	Caller string   `json:"caller,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

func handler(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	name := req.QueryStringParameters["name"]
	if name == "" {
		name = "world"
	}
	r := reply{
		RouteKey:  req.RouteKey,
		Method:    req.RequestContext.HTTP.Method,
		RawPath:   req.RawPath,
		RawQuery:  req.RawQueryString,
		Query:     req.QueryStringParameters,
		Path:      req.PathParameters,
		Cookies:   req.Cookies,
		UserAgent: req.RequestContext.HTTP.UserAgent,
		Accept:    req.Headers["accept"],
		Body:      req.Body,
		Greeting:  "hello, " + name,
	}
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		r.Caller, r.Scopes = a.JWT.Claims["sub"], a.JWT.Scopes
	}
	body, err := json.Marshal(r)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Cookies:    []string{"visited=yes; Path=/; HttpOnly"},
		Body:       string(body),
	}, nil
}

func main() {
	lambda.Start(handler)
}
