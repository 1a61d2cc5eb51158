// Package events translates between triggers (HTTP requests, schedules, queue messages) and Lambda / Azure payloads.
package events

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Generator describes one sample event `ferry generate-event` can print, the
// same SERVICE EVENT pairs `sam local generate-event` uses, so that commands
// and muscle memory carry over.
type Generator struct {
	Service     string
	Event       string
	Description string
	// Flags are the flag names (without dashes) this event accepts.
	Flags []string
}

// flagDef is a flag an event accepts and its default, which follows SAM's
// default where SAM has the flag.
type flagDef struct {
	name, def string
	// mayBeEmpty is true for free text (bodies, messages); names and ids
	// that end up in ARNs must not be empty.
	mayBeEmpty bool
}

type generator struct {
	Generator
	flags []flagDef
	build func(v values) (any, error)
}

// values holds the flag values after defaults are applied.
type values map[string]string

// sampleTime is the fixed instant every sample carries, so generated events
// are byte-for-byte reproducible (fixtures can be diffed and committed).
var sampleTime = time.Date(2024, time.January, 15, 12, 0, 0, 0, time.UTC)

const (
	defaultRegion  = "us-east-1"
	defaultAccount = "123456789012"
	// restTimeLayout is API Gateway's requestContext time format.
	restTimeLayout = "02/Jan/2006:15:04:05 -0700"
)

var common = []flagDef{{name: "region", def: defaultRegion}, {name: "account", def: defaultAccount}}

var generators = []generator{
	{
		Generator: Generator{Service: "alb", Event: "request", Description: "Application Load Balancer request to a Lambda target group"},
		flags:     []flagDef{{name: "method", def: "GET"}, {name: "path", def: "/lambda"}, {name: "body", mayBeEmpty: true}},
		build:     buildALBRequest,
	},
	{
		Generator: Generator{Service: "apigateway", Event: "aws-proxy", Description: "API Gateway REST API proxy request (payload 1.0)"},
		flags: []flagDef{
			{name: "method", def: "POST"}, {name: "path", def: "/examplepath"},
			{name: "body", def: `{"message": "hello world"}`, mayBeEmpty: true},
			{name: "stage", def: "prod"}, {name: "resource", def: "/{proxy+}"},
		},
		build: buildAPIGatewayProxy,
	},
	{
		Generator: Generator{Service: "apigateway", Event: "http-api-proxy", Description: "API Gateway HTTP API proxy request (payload 2.0)"},
		flags: []flagDef{
			{name: "method", def: "POST"}, {name: "path", def: "/examplepath"},
			{name: "body", def: `{"message": "hello world"}`, mayBeEmpty: true},
			{name: "stage", def: "$default"},
		},
		build: buildHTTPAPIProxy,
	},
	{
		Generator: Generator{Service: "cloudwatch", Event: "scheduled-event", Description: "EventBridge (CloudWatch Events) scheduled rule"},
		flags:     []flagDef{{name: "rule", def: "ExampleRule"}},
		build:     buildScheduledEvent,
	},
	{
		Generator: Generator{Service: "dynamodb", Event: "update", Description: "DynamoDB Streams MODIFY record"},
		flags:     []flagDef{{name: "table", def: "ExampleTableWithStream"}},
		build:     buildDynamoDBUpdate,
	},
	{
		Generator: Generator{Service: "kinesis", Event: "get-records", Description: "Kinesis Data Streams record batch"},
		flags:     []flagDef{{name: "stream", def: "example-stream"}, {name: "data", def: "Hello, this is a test 123.", mayBeEmpty: true}},
		build:     buildKinesisGetRecords,
	},
	{
		Generator: Generator{Service: "lambda", Event: "function-url", Description: "Lambda function URL request"},
		flags: []flagDef{
			{name: "method", def: "POST"}, {name: "path", def: "/examplepath"},
			{name: "body", def: `{"message": "hello world"}`, mayBeEmpty: true},
		},
		build: buildFunctionURL,
	},
	{
		Generator: Generator{Service: "s3", Event: "delete", Description: "S3 ObjectRemoved:Delete notification"},
		flags:     []flagDef{{name: "bucket", def: "example-bucket"}, {name: "key", def: "test/key"}, {name: "partition", def: "aws"}},
		build:     func(v values) (any, error) { return buildS3(v, "ObjectRemoved:Delete") },
	},
	{
		Generator: Generator{Service: "s3", Event: "put", Description: "S3 ObjectCreated:Put notification"},
		flags:     []flagDef{{name: "bucket", def: "example-bucket"}, {name: "key", def: "test/key"}, {name: "partition", def: "aws"}},
		build:     func(v values) (any, error) { return buildS3(v, "ObjectCreated:Put") },
	},
	{
		Generator: Generator{Service: "sns", Event: "notification", Description: "SNS notification delivered to a subscribed function"},
		flags: []flagDef{
			{name: "topic", def: "ExampleTopic"},
			{name: "message", def: "example message", mayBeEmpty: true},
			{name: "subject", def: "example subject", mayBeEmpty: true},
		},
		build: buildSNSNotification,
	},
	{
		Generator: Generator{Service: "sqs", Event: "receive-message", Description: "SQS message batch from an event source mapping"},
		flags:     []flagDef{{name: "queue-name", def: "MyQueue"}, {name: "body", def: "Hello from SQS!", mayBeEmpty: true}},
		build:     buildSQSReceiveMessage,
	},
}

func init() {
	for i := range generators {
		g := &generators[i]
		g.flags = append(append([]flagDef(nil), common...), g.flags...)
		for _, f := range g.flags {
			g.Flags = append(g.Flags, f.name)
		}
	}
}

// Generators lists every SERVICE EVENT pair, sorted, for help text and for
// validating command lines before calling Generate.
func Generators() []Generator {
	out := make([]Generator, len(generators))
	for i, g := range generators {
		out[i] = g.Generator
		out[i].Flags = append([]string(nil), g.Flags...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Event < out[j].Event
	})
	return out
}

// Generate returns the sample payload for service and event as indented
// JSON, built from the aws-lambda-go type Lambda would deliver, so a handler
// that decodes it also decodes the real thing. flags overrides defaults by
// flag name (no dashes); a name the event does not take is an error.
func Generate(service, event string, flags map[string]string) ([]byte, error) {
	g, err := lookup(service, event)
	if err != nil {
		return nil, err
	}
	v := values{}
	for _, f := range g.flags {
		v[f.name] = f.def
	}
	for name, val := range flags {
		f, ok := g.flag(name)
		if !ok {
			return nil, fmt.Errorf("%s %s does not take flag %q; valid flags: %s", service, event, name, strings.Join(g.Flags, ", "))
		}
		if val == "" && !f.mayBeEmpty {
			return nil, fmt.Errorf("flag %q must not be empty", name)
		}
		v[name] = val
	}
	if err := v.validateCommon(); err != nil {
		return nil, err
	}
	payload, err := g.build(v)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(payload, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func lookup(service, event string) (*generator, error) {
	var services, events []string
	seen := map[string]bool{}
	for i := range generators {
		g := &generators[i]
		if g.Service == service && g.Event == event {
			return g, nil
		}
		if g.Service == service {
			events = append(events, g.Event)
		}
		if !seen[g.Service] {
			seen[g.Service] = true
			services = append(services, g.Service)
		}
	}
	if len(events) == 0 {
		sort.Strings(services)
		return nil, fmt.Errorf("unknown service %q; valid services: %s", service, strings.Join(services, ", "))
	}
	sort.Strings(events)
	return nil, fmt.Errorf("unknown event %q for service %s; valid events: %s", event, service, strings.Join(events, ", "))
}

func (g *generator) flag(name string) (flagDef, bool) {
	for _, f := range g.flags {
		if f.name == name {
			return f, true
		}
	}
	return flagDef{}, false
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	accountPattern = regexp.MustCompile(`^\d{12}$`)
)

// validateCommon rejects a region or account AWS itself would reject, since
// both end up inside ARNs a handler may parse.
func (v values) validateCommon() error {
	if !regionPattern.MatchString(v["region"]) {
		return fmt.Errorf("invalid region %q: want a region name like us-east-1", v["region"])
	}
	if !accountPattern.MatchString(v["account"]) {
		return fmt.Errorf("invalid account %q: want a 12-digit AWS account ID", v["account"])
	}
	return nil
}

// arn returns name unchanged when it already is an ARN, so flags accept
// either a bare name or a full ARN (SAM's --topic takes the ARN).
func arn(name, prefix string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return prefix + name
}

// httpRequest is the part of an HTTP-shaped event the flags decide.
type httpRequest struct {
	method, path, rawQuery string
	query                  url.Values
	body                   string
}

var httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// parseHTTP reads method, path (which may carry ?query) and body.
func parseHTTP(v values) (httpRequest, error) {
	r := httpRequest{method: strings.ToUpper(v["method"]), body: v["body"]}
	if !httpMethods[r.method] {
		return r, fmt.Errorf("invalid method %q: want one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT", v["method"])
	}
	p, q, _ := strings.Cut(v["path"], "?")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	query, err := url.ParseQuery(q)
	if err != nil {
		return r, fmt.Errorf("invalid query string in path %q: %v", v["path"], err)
	}
	r.path, r.rawQuery, r.query = p, q, query
	return r, nil
}

// singleQuery is the last value of each parameter, as payload 1.0 and ALB
// report it; nil when there is no query string (the services send null).
func (r httpRequest) singleQuery() map[string]string {
	if len(r.query) == 0 {
		return nil
	}
	m := map[string]string{}
	for k, vs := range r.query {
		m[k] = vs[len(vs)-1]
	}
	return m
}

func (r httpRequest) multiQuery() map[string][]string {
	if len(r.query) == 0 {
		return nil
	}
	return r.query
}

// joinedQuery is payload 2.0's form: repeated parameters joined by commas.
func (r httpRequest) joinedQuery() map[string]string {
	if len(r.query) == 0 {
		return nil
	}
	m := map[string]string{}
	for k, vs := range r.query {
		m[k] = strings.Join(vs, ",")
	}
	return m
}

const (
	sampleSourceIP  = "127.0.0.1"
	sampleUserAgent = "Custom User Agent String"
)

func sampleHeaders(host string, body string) map[string]string {
	h := map[string]string{
		"Accept":            "*/*",
		"Host":              host,
		"User-Agent":        sampleUserAgent,
		"X-Forwarded-For":   sampleSourceIP,
		"X-Forwarded-Port":  "443",
		"X-Forwarded-Proto": "https",
	}
	switch {
	case body == "":
	case json.Valid([]byte(body)):
		h["Content-Type"] = "application/json"
	default:
		h["Content-Type"] = "text/plain"
	}
	return h
}

func multiHeaders(h map[string]string) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, v := range h {
		m[k] = []string{v}
	}
	return m
}

func lowerHeaders(h map[string]string) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[strings.ToLower(k)] = v
	}
	return m
}

func buildAPIGatewayProxy(v values) (any, error) {
	r, err := parseHTTP(v)
	if err != nil {
		return nil, err
	}
	resource := v["resource"]
	if !strings.HasPrefix(resource, "/") {
		resource = "/" + resource
	}
	var pathParams map[string]string
	if strings.Contains(resource, "{proxy+}") {
		pathParams = map[string]string{"proxy": strings.TrimPrefix(r.path, strings.TrimSuffix(resource, "{proxy+}"))}
	}
	const apiID = "1234567890"
	host := apiID + ".execute-api." + v["region"] + ".amazonaws.com"
	headers := sampleHeaders(host, r.body)
	return lambdaevents.APIGatewayProxyRequest{
		Resource:                        resource,
		Path:                            r.path,
		HTTPMethod:                      r.method,
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders(headers),
		QueryStringParameters:           r.singleQuery(),
		MultiValueQueryStringParameters: r.multiQuery(),
		PathParameters:                  pathParams,
		StageVariables:                  nil,
		Body:                            r.body,
		RequestContext: lambdaevents.APIGatewayProxyRequestContext{
			AccountID:         v["account"],
			ResourceID:        "123456",
			Stage:             v["stage"],
			DomainName:        host,
			DomainPrefix:      apiID,
			RequestID:         "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			ExtendedRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			Protocol:          "HTTP/1.1",
			Identity:          lambdaevents.APIGatewayRequestIdentity{SourceIP: sampleSourceIP, UserAgent: sampleUserAgent},
			ResourcePath:      resource,
			Path:              "/" + v["stage"] + r.path,
			HTTPMethod:        r.method,
			RequestTime:       sampleTime.Format(restTimeLayout),
			RequestTimeEpoch:  sampleTime.UnixMilli(),
			APIID:             apiID,
		},
	}, nil
}

func buildHTTPAPIProxy(v values) (any, error) {
	r, err := parseHTTP(v)
	if err != nil {
		return nil, err
	}
	const apiID = "api-id"
	host := apiID + ".execute-api." + v["region"] + ".amazonaws.com"
	routeKey := "$default"
	return lambdaevents.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.path,
		RawQueryString:        r.rawQuery,
		Headers:               lowerHeaders(sampleHeaders(host, r.body)),
		QueryStringParameters: r.joinedQuery(),
		Body:                  r.body,
		RequestContext: lambdaevents.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    v["account"],
			Stage:        v["stage"],
			RequestID:    "JKJaXmPLvHcESHA=",
			APIID:        apiID,
			DomainName:   host,
			DomainPrefix: apiID,
			Time:         sampleTime.Format(restTimeLayout),
			TimeEpoch:    sampleTime.UnixMilli(),
			HTTP: lambdaevents.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: sampleSourceIP, UserAgent: sampleUserAgent,
			},
		},
	}, nil
}

func buildFunctionURL(v values) (any, error) {
	r, err := parseHTTP(v)
	if err != nil {
		return nil, err
	}
	const urlID = "abcdefghijklmnopqrstuvwxyz0123456"
	host := urlID + ".lambda-url." + v["region"] + ".on.aws"
	return lambdaevents.LambdaFunctionURLRequest{
		Version:               "2.0",
		RawPath:               r.path,
		RawQueryString:        r.rawQuery,
		Headers:               lowerHeaders(sampleHeaders(host, r.body)),
		QueryStringParameters: r.joinedQuery(),
		Body:                  r.body,
		RequestContext: lambdaevents.LambdaFunctionURLRequestContext{
			AccountID:    v["account"],
			RequestID:    "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			APIID:        urlID,
			DomainName:   host,
			DomainPrefix: urlID,
			Time:         sampleTime.Format(restTimeLayout),
			TimeEpoch:    sampleTime.UnixMilli(),
			HTTP: lambdaevents.LambdaFunctionURLRequestContextHTTPDescription{
				Method: r.method, Path: r.path, Protocol: "HTTP/1.1", SourceIP: sampleSourceIP, UserAgent: sampleUserAgent,
			},
		},
	}, nil
}

func buildALBRequest(v values) (any, error) {
	r, err := parseHTTP(v)
	if err != nil {
		return nil, err
	}
	headers := lowerHeaders(sampleHeaders("lambda-alb-123578498."+v["region"]+".elb.amazonaws.com", r.body))
	return lambdaevents.ALBTargetGroupRequest{
		HTTPMethod:            r.method,
		Path:                  r.path,
		QueryStringParameters: r.singleQuery(),
		Headers:               headers,
		Body:                  r.body,
		RequestContext: lambdaevents.ALBTargetGroupRequestContext{ELB: lambdaevents.ELBContext{
			TargetGroupArn: "arn:aws:elasticloadbalancing:" + v["region"] + ":" + v["account"] + ":targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a",
		}},
	}, nil
}

func buildS3(v values, eventName string) (any, error) {
	decoded, err := url.QueryUnescape(v["key"])
	if err != nil {
		return nil, fmt.Errorf("invalid key %q: S3 event keys are URL-encoded: %v", v["key"], err)
	}
	object := lambdaevents.S3Object{Key: v["key"], URLDecodedKey: decoded, Sequencer: "0A1B2C3D4E5F678901"}
	if eventName == "ObjectCreated:Put" {
		object.Size = 1024
		object.ETag = "0123456789abcdef0123456789abcdef"
	}
	return lambdaevents.S3Event{Records: []lambdaevents.S3EventRecord{{
		EventVersion:      "2.1",
		EventSource:       "aws:s3",
		AWSRegion:         v["region"],
		EventTime:         sampleTime,
		EventName:         eventName,
		PrincipalID:       lambdaevents.S3UserIdentity{PrincipalID: "EXAMPLE"},
		RequestParameters: lambdaevents.S3RequestParameters{SourceIPAddress: sampleSourceIP},
		ResponseElements: map[string]string{
			"x-amz-request-id": "EXAMPLE123456789",
			"x-amz-id-2":       "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
		},
		S3: lambdaevents.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "testConfigRule",
			Bucket: lambdaevents.S3Bucket{
				Name:          v["bucket"],
				OwnerIdentity: lambdaevents.S3UserIdentity{PrincipalID: "EXAMPLE"},
				Arn:           "arn:" + v["partition"] + ":s3:::" + v["bucket"],
			},
			Object: object,
		},
	}}}, nil
}

func buildSQSReceiveMessage(v values) (any, error) {
	sum := md5.Sum([]byte(v["body"]))
	sent := fmt.Sprint(sampleTime.UnixMilli())
	return lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{{
		MessageId:     "19dd0b57-b21e-4ac1-bd88-01bbb068cb78",
		ReceiptHandle: "MessageReceiptHandle",
		Body:          v["body"],
		Md5OfBody:     hex.EncodeToString(sum[:]),
		Attributes: map[string]string{
			"ApproximateReceiveCount":          "1",
			"SentTimestamp":                    sent,
			"SenderId":                         v["account"],
			"ApproximateFirstReceiveTimestamp": sent,
		},
		MessageAttributes: map[string]lambdaevents.SQSMessageAttribute{},
		EventSourceARN:    "arn:aws:sqs:" + v["region"] + ":" + v["account"] + ":" + v["queue-name"],
		EventSource:       "aws:sqs",
		AWSRegion:         v["region"],
	}}}, nil
}

func buildSNSNotification(v values) (any, error) {
	topic := arn(v["topic"], "arn:aws:sns:"+v["region"]+":"+v["account"]+":")
	endpoint := "https://sns." + v["region"] + ".amazonaws.com"
	subscription := topic + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
	return lambdaevents.SNSEvent{Records: []lambdaevents.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSubscriptionArn: subscription,
		EventSource:          "aws:sns",
		SNS: lambdaevents.SNSEntity{
			Signature:         "EXAMPLE",
			MessageID:         "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
			Type:              "Notification",
			TopicArn:          topic,
			MessageAttributes: map[string]any{},
			SignatureVersion:  "1",
			Timestamp:         sampleTime,
			SigningCertURL:    endpoint + "/SimpleNotificationService-0000000000000000000000.pem",
			Message:           v["message"],
			UnsubscribeURL:    endpoint + "/?Action=Unsubscribe&SubscriptionArn=" + subscription,
			Subject:           v["subject"],
		},
	}}}, nil
}

func buildDynamoDBUpdate(v values) (any, error) {
	id := lambdaevents.NewNumberAttribute("101")
	return lambdaevents.DynamoDBEvent{Records: []lambdaevents.DynamoDBEventRecord{{
		AWSRegion: v["region"],
		Change: lambdaevents.DynamoDBStreamRecord{
			ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: sampleTime},
			Keys:                        map[string]lambdaevents.DynamoDBAttributeValue{"Id": id},
			NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"Id": id, "Message": lambdaevents.NewStringAttribute("This item has changed"),
			},
			OldImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"Id": id, "Message": lambdaevents.NewStringAttribute("New item!"),
			},
			SequenceNumber: "222",
			SizeBytes:      59,
			StreamViewType: string(lambdaevents.DynamoDBStreamViewTypeNewAndOldImages),
		},
		EventID:        "c81e728d9d4c2f636f067f89cc14862c",
		EventName:      string(lambdaevents.DynamoDBOperationTypeModify),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: "arn:aws:dynamodb:" + v["region"] + ":" + v["account"] + ":table/" + v["table"] + "/stream/2015-06-27T00:48:05.899",
	}}}, nil
}

func buildKinesisGetRecords(v values) (any, error) {
	const seq = "49590338271490256608559692538361571095921575989136588898"
	return lambdaevents.KinesisEvent{Records: []lambdaevents.KinesisEventRecord{{
		AwsRegion:         v["region"],
		EventID:           "shardId-000000000006:" + seq,
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    arn(v["stream"], "arn:aws:kinesis:"+v["region"]+":"+v["account"]+":stream/"),
		EventVersion:      "1.0",
		InvokeIdentityArn: "arn:aws:iam::" + v["account"] + ":role/lambda-role",
		Kinesis: lambdaevents.KinesisRecord{
			ApproximateArrivalTimestamp: lambdaevents.SecondsEpochTime{Time: sampleTime},
			// []byte: encoding/json writes it base64, as Kinesis delivers it.
			Data:                 []byte(v["data"]),
			PartitionKey:         "1",
			SequenceNumber:       seq,
			KinesisSchemaVersion: "1.0",
		},
	}}}, nil
}

func buildScheduledEvent(v values) (any, error) {
	return lambdaevents.EventBridgeEvent{
		Version:    "0",
		ID:         "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  v["account"],
		Time:       sampleTime,
		Region:     v["region"],
		Resources:  []string{arn(v["rule"], "arn:aws:events:"+v["region"]+":"+v["account"]+":rule/")},
		Detail:     json.RawMessage(`{}`),
	}, nil
}
