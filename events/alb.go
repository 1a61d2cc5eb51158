package events

import (
	"net/http"
	"strconv"
	"strings"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// albEvent is the Application Load Balancer event. The query fields
// shadow aws-lambda-go's so that "no query string" is sent as {} (as ALB
// does, see its health check event) rather than left out: a pointer to an
// empty map encodes as {}, a nil pointer is omitted (the other mode's
// field).
type albEvent struct {
	lambdaevents.ALBTargetGroupRequest
	QueryStringParameters           *map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters *map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
}

func newALBEvent(in *incoming) albEvent {
	// ALB neither decodes the path nor the query string: "If the query
	// parameters are URL-encoded, the load balancer does not decode them."
	query := rawQuery(in.r.URL.RawQuery)
	body, isBase64 := encodedBody(in.body, !isTextContent(in.r.Header.Get("Content-Type"), false))
	ev := albEvent{ALBTargetGroupRequest: lambdaevents.ALBTargetGroupRequest{
		HTTPMethod: in.r.Method,
		Path:       in.escapedPath(),
		RequestContext: lambdaevents.ALBTargetGroupRequestContext{ELB: lambdaevents.ELBContext{
			TargetGroupArn: in.targetGroupARN(),
		}},
		IsBase64Encoded: isBase64,
		Body:            body,
	}}
	headers := lowercaseHeaders(in.header)
	if in.route.MultiValueHeaders {
		ev.MultiValueHeaders = headers
		ev.MultiValueQueryStringParameters = &query
	} else {
		// Without multi-value headers ALB keeps the last value it received.
		single := lastValues(headers)
		if single == nil {
			single = map[string]string{}
		}
		ev.Headers = single
		last := lastValues(query)
		if last == nil {
			last = map[string]string{}
		}
		ev.QueryStringParameters = &last
	}
	return ev
}

// targetGroupARN is the configured ARN or one shaped like a real target
// group's, named after the function.
func (in *incoming) targetGroupARN() string {
	if in.route.TargetGroupARN != "" {
		return in.route.TargetGroupARN
	}
	return "arn:aws:elasticloadbalancing:" + in.route.region() + ":" + in.route.account() +
		":targetgroup/" + targetGroupName(in.route.function()) + "/" + hashHex("tg:"+in.route.function(), 16)
}

// targetGroupName fits a function name to target group naming rules: at
// most 32 alphanumerics and hyphens, not starting or ending with a hyphen.
func targetGroupName(fn string) string {
	b := []byte(fn)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	name := strings.Trim(string(b), "-")
	if len(name) > 32 {
		name = strings.Trim(name[:32], "-")
	}
	if name == "" {
		return "function"
	}
	return name
}

// lowercaseHeaders is ALB's header form: lowercased names, every value
// kept in arrival order.
func lowercaseHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for _, k := range sortedKeys(h) {
		name := strings.ToLower(k)
		out[name] = append(out[name], h[k]...)
	}
	return out
}

// rawQuery splits a query string into parameters without decoding names
// or values, in order; "a" alone is a parameter with an empty value.
func rawQuery(q string) map[string][]string {
	out := map[string][]string{}
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out[k] = append(out[k], v)
	}
	return out
}

// parseALBResponse reads an ALB target response: the REST proxy shape
// (ALB answers 502 without an integer statusCode) plus statusDescription,
// which is ignored: net/http cannot send a custom reason phrase, and ALB
// itself tolerates its absence. Only one of headers and multiValueHeaders
// is read by ALB, depending on the target group's mode, which the response
// writer does not know; a function answers with the one its mode uses, so
// merging both is the same in practice. Unlike API Gateway, ALB adds no
// default Content-Type.
func parseALBResponse(result []byte) (*httpResponse, error) {
	return parseProxyResponse(result)
}

// albReasons are the reason phrases of ALB's error pages (nginx's, which
// differ from net/http's for 503 and 504).
var albReasons = map[int]string{
	http.StatusServiceUnavailable: "Service Temporarily Unavailable",
	http.StatusGatewayTimeout:     "Gateway Time-out",
}

// writeALBError writes ALB's own error page: a small HTML document served
// as text/html by "awselb/2.0", CRLF line endings included.
func writeALBError(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusForbidden, http.StatusNotFound:
		status = http.StatusNotFound
	case http.StatusInternalServerError:
		// A target that failed is a bad gateway to the client.
		status = http.StatusBadGateway
	}
	reason, ok := albReasons[status]
	if !ok {
		reason = http.StatusText(status)
	}
	title := strconv.Itoa(status) + " " + reason
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n</body>\r\n</html>\r\n"
	h := w.Header()
	h.Set("Server", "awselb/2.0")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
