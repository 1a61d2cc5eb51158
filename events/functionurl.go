package events

import (
	"net/http"
	"strconv"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// functionURLEvent is the Lambda function URL event: payload 2.0 without
// the API Gateway parts. aws-lambda-go's struct lacks the placeholders
// Lambda fills in ("$default" routeKey and stage), so they are added here.
type functionURLEvent struct {
	lambdaevents.LambdaFunctionURLRequest
	RouteKey       string                    `json:"routeKey"`
	RequestContext functionURLRequestContext `json:"requestContext"`
}

type functionURLRequestContext struct {
	lambdaevents.LambdaFunctionURLRequestContext
	RouteKey string `json:"routeKey"`
	Stage    string `json:"stage"`
}

func newFunctionURLEvent(in *incoming) functionURLEvent {
	// Function URLs keep the path's percent-encoding, unlike HTTP APIs.
	path := in.escapedPath()
	// The URL id is 32 characters derived from the function, as Lambda
	// derives it from the account and function; the domain is the one a
	// deployed URL has, whatever Host the local request used.
	urlID := hashBase36("url:"+in.route.account()+":"+in.route.region()+":"+in.route.function(), 32)
	headers, cookies := v2Headers(in.header)
	binary := !isTextContent(in.r.Header.Get("Content-Type"), true) ||
		matchesMediaType(in.r.Header.Get("Content-Type"), in.route.BinaryMediaTypes)
	body, isBase64 := encodedBody(in.body, binary)

	return functionURLEvent{
		LambdaFunctionURLRequest: lambdaevents.LambdaFunctionURLRequest{
			Version:               "2.0",
			RawPath:               path,
			RawQueryString:        in.r.URL.RawQuery,
			Cookies:               cookies,
			Headers:               headers,
			QueryStringParameters: joinedQuery(in.r.URL.RawQuery),
			Body:                  body,
			IsBase64Encoded:       isBase64,
		},
		RouteKey: defaultRouteKey,
		RequestContext: functionURLRequestContext{
			LambdaFunctionURLRequestContext: lambdaevents.LambdaFunctionURLRequestContext{
				AccountID:    in.route.account(),
				RequestID:    in.requestID,
				APIID:        urlID,
				DomainName:   urlID + ".lambda-url." + in.route.region() + ".on.aws",
				DomainPrefix: urlID,
				Time:         in.requestTime(),
				TimeEpoch:    in.now.UnixMilli(),
				HTTP: lambdaevents.LambdaFunctionURLRequestContextHTTPDescription{
					Method:    in.r.Method,
					Path:      path,
					Protocol:  in.r.Proto,
					SourceIP:  in.sourceIP,
					UserAgent: in.r.UserAgent(),
				},
			},
			RouteKey: defaultRouteKey,
			Stage:    defaultRouteKey,
		},
	}
}

// parseFunctionURLResponse reads a function URL result: the payload 2.0
// rules, including the inferred 200 application/json response for any
// JSON that is not an object with statusCode.
func parseFunctionURLResponse(result []byte) (*httpResponse, error) {
	var v lambdaevents.LambdaFunctionURLResponse
	if inferred, err := decodeV2Response(result, &v); inferred != nil || err != nil {
		return inferred, err
	}
	return v2Response(v.StatusCode, v.Headers, v.Cookies, v.Body, v.IsBase64Encoded)
}

// writeFunctionURLError writes the Lambda front end's error. A function
// that fails, returns garbage or times out is a 502 "Internal Server
// Error" to a function URL client; other conditions use API Gateway's
// {"message": ...} shape.
func writeFunctionURLError(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		const body = "Internal Server Error"
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(body))
	case http.StatusForbidden, http.StatusNotFound:
		writeJSONMessage(w, http.StatusNotFound, "Not Found")
	default:
		writeJSONMessage(w, status, http.StatusText(status))
	}
}
