// Command apigw-rest is an API Gateway REST API (payload 1.0) handler, as
// written for aws-lambda-go: it answers with what it was asked, and sets a
// single-value and a multi-value response header.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/aws/aws-lambda-go/events"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type reply struct {
	Method      string              `json:"method"`
	Resource    string              `json:"resource"`
	Path        string              `json:"path"`
	PathParams  map[string]string   `json:"pathParameters"`
	Query       map[string][]string `json:"query"`
	HeaderNames []string            `json:"headerNames"`
	Stage       string              `json:"stage"`
	SourceIP    string              `json:"sourceIp"`
	Body        string              `json:"body"`
	Base64      bool                `json:"isBase64Encoded"`
}

func handler(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	r := reply{
		Method:     req.HTTPMethod,
		Resource:   req.Resource,
		Path:       req.Path,
		PathParams: req.PathParameters,
		Query:      req.MultiValueQueryStringParameters,
		Stage:      req.RequestContext.Stage,
		SourceIP:   req.RequestContext.Identity.SourceIP,
		Body:       req.Body,
		Base64:     req.IsBase64Encoded,
	}
	for name := range req.Headers {
		r.HeaderNames = append(r.HeaderNames, name)
	}
	sort.Strings(r.HeaderNames)
	body, err := json.Marshal(r)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{
		StatusCode:        http.StatusOK,
		Headers:           map[string]string{"Content-Type": "application/json"},
		MultiValueHeaders: map[string][]string{"X-Sample": {"apigw-rest", "payload-1.0"}},
		Body:              string(body),
	}, nil
}

func main() {
	lambda.Start(handler)
}
