package events

import (
	"net/http"
	"net/url"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// restEvent is the REST API proxy event (payload 1.0). The two shadowing
// fields fix where aws-lambda-go's struct differs from what API Gateway
// sends: body is null, not "", for a request without one, and
// isBase64Encoded is always present.
type restEvent struct {
	lambdaevents.APIGatewayProxyRequest
	Body            *string `json:"body"`
	IsBase64Encoded bool    `json:"isBase64Encoded"`
}

// defaultRESTStage is what `sam local start-api` calls the stage, so
// handlers that build URLs from requestContext.stage see the same value.
const defaultRESTStage = "Prod"

func newRESTEvent(in *incoming) restEvent {
	stage := in.route.Stage
	if stage == "" {
		stage = defaultRESTStage
	}
	path := in.escapedPath()
	resource := in.route.Resource
	if resource == "" {
		resource = path
	}
	domain, prefix := in.domain()
	query, _ := url.ParseQuery(in.r.URL.RawQuery)

	ev := restEvent{APIGatewayProxyRequest: lambdaevents.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            path,
		HTTPMethod:                      in.r.Method,
		Headers:                         lastValues(in.header),
		MultiValueHeaders:               in.header,
		QueryStringParameters:           lastValues(query),
		MultiValueQueryStringParameters: nilIfEmpty(query),
		PathParameters:                  pathParameters(in.route.PathParameters),
		StageVariables:                  nil,
		RequestContext: lambdaevents.APIGatewayProxyRequestContext{
			AccountID:         in.route.account(),
			ResourceID:        hashBase36("resource:"+resource, 6),
			Stage:             stage,
			DomainName:        domain,
			DomainPrefix:      prefix,
			RequestID:         in.requestID,
			ExtendedRequestID: extendedRequestID(in.requestID),
			Protocol:          in.r.Proto,
			Identity: lambdaevents.APIGatewayRequestIdentity{
				SourceIP:  in.sourceIP,
				UserAgent: in.r.UserAgent(),
			},
			ResourcePath:     resource,
			Path:             "/" + stage + path,
			HTTPMethod:       in.r.Method,
			RequestTime:      in.requestTime(),
			RequestTimeEpoch: in.now.UnixMilli(),
			APIID:            in.apiID(),
		},
	}}
	binary := matchesMediaType(in.r.Header.Get("Content-Type"), in.route.BinaryMediaTypes)
	if body, isBase64 := encodedBody(in.body, binary); body != "" {
		ev.Body, ev.IsBase64Encoded = &body, isBase64
	}
	return ev
}

// lastValues is the single-value form of headers or query parameters in
// payload 1.0 and ALB: the last value of each name. nil (JSON null) when
// there are none, as API Gateway sends it.
func lastValues(m map[string][]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}

func nilIfEmpty(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// pathParameters copies the router's values; none is null in the event.
func pathParameters(p map[string]string) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// parseRESTResponse accepts only what a REST API accepts from a proxy
// integration: a JSON object with an integer statusCode. Anything else is
// API Gateway's "Malformed Lambda proxy response" (502).
func parseRESTResponse(result []byte) (*httpResponse, error) {
	resp, err := parseProxyResponse(result)
	if err == nil && resp.header.Get("Content-Type") == "" {
		// API Gateway's default for a proxy response without one.
		resp.header.Set("Content-Type", "application/json")
	}
	return resp, err
}

// parseProxyResponse reads the payload 1.0 proxy response shape that REST
// APIs and ALB share.
func parseProxyResponse(result []byte) (*httpResponse, error) {
	var v lambdaevents.APIGatewayProxyResponse
	keys, err := decodeObject(result, &v)
	if err != nil {
		return nil, err
	}
	if _, ok := keys["statusCode"]; !ok {
		return nil, malformed("statusCode missing")
	}
	if err := validStatus(v.StatusCode); err != nil {
		return nil, err
	}
	body, err := decodeBody(v.Body, v.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	return &httpResponse{status: v.StatusCode, header: responseHeaders(v.Headers, v.MultiValueHeaders), body: body}, nil
}

// writeRESTError writes a REST API gateway response: JSON
// {"message": ...} and, for the common ones, the x-amzn-ErrorType header
// API Gateway sets.
func writeRESTError(w http.ResponseWriter, status int) {
	message, errorType := http.StatusText(status), ""
	switch status {
	case http.StatusForbidden, http.StatusNotFound:
		// A REST API answers a route it does not have like a request that
		// lacks a SigV4 signature.
		status, message, errorType = http.StatusForbidden, "Missing Authentication Token", "MissingAuthenticationTokenException"
	case http.StatusRequestEntityTooLarge:
		message = "Request Entity Too Large"
	case http.StatusTooManyRequests:
		message = "Too Many Requests"
	case http.StatusInternalServerError, http.StatusBadGateway:
		status, message, errorType = http.StatusBadGateway, "Internal server error", "InternalServerErrorException"
	case http.StatusGatewayTimeout:
		message = "Endpoint request timed out"
	}
	if errorType != "" {
		// Set directly to keep API Gateway's spelling on the wire.
		w.Header()["x-amzn-ErrorType"] = []string{errorType}
	}
	writeJSONMessage(w, status, message)
}
