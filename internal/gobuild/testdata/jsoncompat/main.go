// Command jsoncompat prints what encoding/json does, natively, with every
// file of aws-lambda-go's events/testdata (decoded into its event type and
// encoded again) and with malformed, mistyped and edge-case inputs and
// values: outputs, and error types and messages as aws-lambda-go reports
// them. TestJSONv2 builds it without and with GOEXPERIMENT=jsonv2 and
// compares what the two print, case by case.
//
// Usage: jsoncompat EVENTS_TESTDATA_DIR
//
// Each case prints "=== name" and then its lines.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// eventTypes maps each file of events/testdata to the type aws-lambda-go's
// own tests decode it into. A file missing here fails the run, so that a
// new aws-lambda-go's new fixtures are compared too.
var eventTypes = map[string]func() any{
	"activemq-event.json":                                   func() any { return new(events.ActiveMQEvent) },
	"alb-lambda-target-request-headers-only.json":           func() any { return new(events.ALBTargetGroupRequest) },
	"alb-lambda-target-request-multivalue-headers.json":     func() any { return new(events.ALBTargetGroupRequest) },
	"alb-lambda-target-response.json":                       func() any { return new(events.ALBTargetGroupResponse) },
	"apigw-custom-auth-request-type-request.json":           func() any { return new(events.APIGatewayCustomAuthorizerRequestTypeRequest) },
	"apigw-custom-auth-request.json":                        func() any { return new(events.APIGatewayCustomAuthorizerRequest) },
	"apigw-custom-auth-response.json":                       func() any { return new(events.APIGatewayCustomAuthorizerResponse) },
	"apigw-request.json":                                    func() any { return new(events.APIGatewayProxyRequest) },
	"apigw-response.json":                                   func() any { return new(events.APIGatewayProxyResponse) },
	"apigw-restapi-openapi-request.json":                    func() any { return new(events.APIGatewayProxyRequest) },
	"apigw-v2-custom-authorizer-v1-request.json":            func() any { return new(events.APIGatewayV2CustomAuthorizerV1Request) },
	"apigw-v2-custom-authorizer-v2-request.json":            func() any { return new(events.APIGatewayV2CustomAuthorizerV2Request) },
	"apigw-v2-request-iam.json":                             func() any { return new(events.APIGatewayV2HTTPRequest) },
	"apigw-v2-request-jwt-authorizer.json":                  func() any { return new(events.APIGatewayV2HTTPRequest) },
	"apigw-v2-request-lambda-authorizer.json":               func() any { return new(events.APIGatewayV2HTTPRequest) },
	"apigw-v2-request-no-authorizer.json":                   func() any { return new(events.APIGatewayV2HTTPRequest) },
	"apigw-websocket-request-disconnect.json":               func() any { return new(events.APIGatewayWebsocketProxyRequest) },
	"apigw-websocket-request-send-message.json":             func() any { return new(events.APIGatewayWebsocketProxyRequest) },
	"apigw-websocket-request.json":                          func() any { return new(events.APIGatewayWebsocketProxyRequest) },
	"appsync-identity-cognito.json":                         func() any { return new(events.AppSyncCognitoIdentity) },
	"appsync-identity-iam.json":                             func() any { return new(events.AppSyncIAMIdentity) },
	"appsync-lambda-auth-request.json":                      func() any { return new(events.AppSyncLambdaAuthorizerRequest) },
	"appsync-lambda-auth-response.json":                     func() any { return new(events.AppSyncLambdaAuthorizerResponse) },
	"autoscaling-event-launch-successful.json":              func() any { return new(events.AutoScalingEvent) },
	"autoscaling-event-launch-unsuccessful.json":            func() any { return new(events.AutoScalingEvent) },
	"autoscaling-event-lifecycle-action.json":               func() any { return new(events.AutoScalingEvent) },
	"autoscaling-event-terminate-action.json":               func() any { return new(events.AutoScalingEvent) },
	"autoscaling-event-terminate-successful.json":           func() any { return new(events.AutoScalingEvent) },
	"autoscaling-event-terminate-unsuccessful.json":         func() any { return new(events.AutoScalingEvent) },
	"clientvpn-connectionhandler-request.json":              func() any { return new(events.ClientVPNConnectionHandlerRequest) },
	"cloudwatch-alarm-sns-payload-multiple-metrics.json":    func() any { return new(events.SNSEvent) },
	"cloudwatch-alarm-sns-payload-single-metric.json":       func() any { return new(events.SNSEvent) },
	"cloudwatch-logs-event.json":                            func() any { return new(events.CloudwatchLogsEvent) },
	"code-commit-event.json":                                func() any { return new(events.CodeCommitEvent) },
	"codebuild-phase-change.json":                           func() any { return new(events.CodeBuildEvent) },
	"codebuild-state-change.json":                           func() any { return new(events.CodeBuildEvent) },
	"codedeploy-deployment-event.json":                      func() any { return new(events.CodeDeployEvent) },
	"codedeploy-instance-event.json":                        func() any { return new(events.CodeDeployEvent) },
	"codepipeline-action-execution-stage-change-event.json": func() any { return new(events.CodePipelineCloudWatchEvent) },
	"codepipeline-execution-stage-change-event.json":        func() any { return new(events.CodePipelineCloudWatchEvent) },
	"codepipeline-execution-state-change-event.json":        func() any { return new(events.CodePipelineCloudWatchEvent) },
	"codepipeline-job-event.json":                           func() any { return new(events.CodePipelineJobEvent) },
	"cognito-event-userpools-create-auth-challenge.json":    func() any { return new(events.CognitoEventUserPoolsCreateAuthChallenge) },
	"cognito-event-userpools-custommessage.json":            func() any { return new(events.CognitoEventUserPoolsCustomMessage) },
	"cognito-event-userpools-define-auth-challenge.json":    func() any { return new(events.CognitoEventUserPoolsDefineAuthChallenge) },
	"cognito-event-userpools-inbound-federation-oidc.json":  func() any { return new(events.CognitoEventUserPoolsInboundFederation) },
	"cognito-event-userpools-inbound-federation-saml.json":  func() any { return new(events.CognitoEventUserPoolsInboundFederation) },
	"cognito-event-userpools-migrateuser.json":              func() any { return new(events.CognitoEventUserPoolsMigrateUser) },
	"cognito-event-userpools-postauthentication.json":       func() any { return new(events.CognitoEventUserPoolsPostAuthentication) },
	"cognito-event-userpools-postconfirmation.json":         func() any { return new(events.CognitoEventUserPoolsPostConfirmation) },
	"cognito-event-userpools-preauthentication.json":        func() any { return new(events.CognitoEventUserPoolsPreAuthentication) },
	"cognito-event-userpools-presignup.json":                func() any { return new(events.CognitoEventUserPoolsPreSignup) },
	"cognito-event-userpools-pretokengen-v2.json":           func() any { return new(events.CognitoEventUserPoolsPreTokenGenV2) },
	"cognito-event-userpools-pretokengen-v2_0.json":         func() any { return new(events.CognitoEventUserPoolsPreTokenGenV2_0) },
	"cognito-event-userpools-pretokengen.json":              func() any { return new(events.CognitoEventUserPoolsPreTokenGen) },
	"cognito-event-userpools-verify-auth-challenge.json":    func() any { return new(events.CognitoEventUserPoolsVerifyAuthChallenge) },
	"cognito-event.json":                                    func() any { return new(events.CognitoEvent) },
	"config-event.json":                                     func() any { return new(events.ConfigEvent) },
	"connect-event.json":                                    func() any { return new(events.ConnectEvent) },
	"dynamodb-event-malformed.2.json":                       func() any { return new(events.DynamoDBEvent) },
	"dynamodb-event.json":                                   func() any { return new(events.DynamoDBEvent) },
	"dynamodb-time-window-event.json":                       func() any { return new(events.DynamoDBTimeWindowEvent) },
	"ecr-image-push-event.json":                             func() any { return new(events.ECRImageActionEvent) },
	"ecr-image-scan-event.json":                             func() any { return new(events.ECRScanEvent) },
	"ecs-container-instance-state-change.json":              func() any { return new(events.ECSContainerInstanceEvent) },
	"iot-1-click-event.json":                                func() any { return new(events.IoTOneClickEvent) },
	"iot-button-event.json":                                 func() any { return new(events.IoTButtonEvent) },
	"iot-custom-auth-request.json":                          func() any { return new(events.IoTCoreCustomAuthorizerRequest) },
	"iot-custom-auth-response.json":                         func() any { return new(events.IoTCoreCustomAuthorizerResponse) },
	"iot-preprovision-hook-request.json":                    func() any { return new(events.IoTPreProvisionHookRequest) },
	"iot-preprovision-hook-response.json":                   func() any { return new(events.IoTPreProvisionHookResponse) },
	"kafka-event.json":                                      func() any { return new(events.KafkaEvent) },
	"kinesis-analytics-output-delivery-event.json":          func() any { return new(events.KinesisAnalyticsOutputDeliveryEvent) },
	"kinesis-analytics-output-delivery-response.json":       func() any { return new(events.KinesisAnalyticsOutputDeliveryResponse) },
	"kinesis-event.json":                                    func() any { return new(events.KinesisEvent) },
	"kinesis-firehose-event.json":                           func() any { return new(events.KinesisFirehoseEvent) },
	"kinesis-firehose-response.json":                        func() any { return new(events.KinesisFirehoseResponse) },
	"kinesis-time-window-event.json":                        func() any { return new(events.KinesisTimeWindowEvent) },
	"lambda-urls-request.json":                              func() any { return new(events.LambdaFunctionURLRequest) },
	"lambda-urls-response.json":                             func() any { return new(events.LambdaFunctionURLResponse) },
	"lex-event.json":                                        func() any { return new(events.LexEvent) },
	"lex-response.json":                                     func() any { return new(events.LexResponse) },
	"rabbitmq-event.json":                                   func() any { return new(events.RabbitMQEvent) },
	"s3-batch-job-event-request-1.0.json":                   func() any { return new(events.S3BatchJobEvent) },
	"s3-batch-job-event-request-2.0.json":                   func() any { return new(events.S3BatchJobEventV2) },
	"s3-batch-job-event-response.json":                      func() any { return new(events.S3BatchJobResponse) },
	"s3-event-with-decoded.json":                            func() any { return new(events.S3Event) },
	"s3-event.json":                                         func() any { return new(events.S3Event) },
	"s3-glacier-event.json":                                 func() any { return new(events.S3Event) },
	"s3-intelligenttier-event.json":                         func() any { return new(events.S3Event) },
	"s3-lifecycle-event.json":                               func() any { return new(events.S3Event) },
	"s3-object-lambda-event-get-object-assumed-role.json":   func() any { return new(events.S3ObjectLambdaEvent) },
	"s3-object-lambda-event-get-object-iam.json":            func() any { return new(events.S3ObjectLambdaEvent) },
	"s3-object-lambda-event-head-object-iam.json":           func() any { return new(events.S3ObjectLambdaEvent) },
	"s3-object-lambda-event-list-objects-iam.json":          func() any { return new(events.S3ObjectLambdaEvent) },
	"s3-object-lambda-event-list-objects-v2-iam.json":       func() any { return new(events.S3ObjectLambdaEvent) },
	"s3-replication-event.json":                             func() any { return new(events.S3Event) },
	"s3-restore-event.json":                                 func() any { return new(events.S3Event) },
	"secretsmanager-secret-rotation-event.json":             func() any { return new(events.SecretsManagerSecretRotationEvent) },
	"ses-lambda-event.json":                                 func() any { return new(events.SimpleEmailEvent) },
	"ses-s3-event.json":                                     func() any { return new(events.SimpleEmailEvent) },
	"ses-sns-event.json":                                    func() any { return new(events.SimpleEmailEvent) },
	"sns-event.json":                                        func() any { return new(events.SNSEvent) },
	"sqs-event.json":                                        func() any { return new(events.SQSEvent) },
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: jsoncompat EVENTS_TESTDATA_DIR")
		os.Exit(2)
	}
	if err := fixtures(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "jsoncompat:", err)
		os.Exit(1)
	}
	for _, c := range cases() {
		fmt.Printf("=== %s\n", c.name)
		c.run()
	}
}

// fixtures round-trips every file of dir: decoded into its event type
// as aws-lambda-go decodes events (json.Decoder) and with json.Unmarshal,
// encoded as it encodes responses (json.Encoder, HTML not escaped) and
// with json.Marshal; and decoded into any and encoded again (map key
// order, float64 formatting).
func fixtures(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var missing []string
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		newEvent, ok := eventTypes[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Printf("=== fixture/%s\n", name)
		ev := newEvent()
		printErr("decode", json.NewDecoder(bytes.NewReader(data)).Decode(ev))
		encode(ev)
		ev = newEvent()
		printErr("unmarshal", json.Unmarshal(data, ev))
		marshal(ev)
		var v any
		printErr("unmarshal any", json.Unmarshal(data, &v))
		marshal(v)
		if sns, ok := ev.(*events.SNSEvent); ok && strings.HasPrefix(name, "cloudwatch-alarm") {
			var alarm events.CloudWatchAlarmSNSPayload
			printErr("unmarshal alarm", json.Unmarshal([]byte(sns.Records[0].SNS.Message), &alarm))
			marshal(alarm)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no event type for %s in eventTypes", strings.Join(missing, ", "))
	}
	return nil
}

// printErr prints err as a user sees it: aws-lambda-go's errorType (the
// error's type name) and errorMessage.
func printErr(op string, err error) {
	if err == nil {
		fmt.Printf("%s: ok\n", op)
		return
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fmt.Printf("%s: %s: %s\n", op, t.Name(), err)
}

func marshal(v any) {
	b, err := json.Marshal(v)
	printErr("marshal", err)
	fmt.Printf("%s\n", b)
}

// encode encodes v as aws-lambda-go encodes a handler's response.
func encode(v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	printErr("encode", enc.Encode(v))
	fmt.Print(buf.String())
}

type testCase struct {
	name string
	run  func()
}

// decodeInto decodes data into a new value of what newV returns, with
// json.Unmarshal and with json.Decoder (as aws-lambda-go does, and once
// more with DisallowUnknownFields), printing the errors and the values.
func decodeInto(data string, newV func() any) func() {
	return func() {
		v := newV()
		printErr("unmarshal", json.Unmarshal([]byte(data), v))
		fmt.Println(dump(reflect.ValueOf(v).Elem()))
		v = newV()
		dec := json.NewDecoder(strings.NewReader(data))
		printErr("decode", dec.Decode(v))
		fmt.Printf("%s offset %d\n", dump(reflect.ValueOf(v).Elem()), dec.InputOffset())
		v = newV()
		dec = json.NewDecoder(strings.NewReader(data))
		dec.DisallowUnknownFields()
		printErr("decode strict", dec.Decode(v))
	}
}

// dump prints v without addresses (which %#v prints for pointers and
// time.Time's location), so that two runs can be compared.
func dump(v reflect.Value) string {
	if !v.IsValid() {
		return "invalid"
	}
	if v.Type() == reflect.TypeFor[time.Time]() && v.CanInterface() {
		t := v.Interface().(time.Time)
		return t.Format(time.RFC3339Nano) + " " + t.Location().String()
	}
	var b strings.Builder
	list := func(open, close string, n int, elem func(int) string) string {
		b.WriteString(open)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(elem(i))
		}
		b.WriteString(close)
		return b.String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
		return "&" + dump(v.Elem())
	case reflect.Struct:
		return list(v.Type().String()+"{", "}", v.NumField(), func(i int) string { return v.Type().Field(i).Name + ": " + dump(v.Field(i)) })
	case reflect.Map:
		if v.IsNil() {
			return "map(nil)"
		}
		var entries []string
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, dump(it.Key())+": "+dump(it.Value()))
		}
		slices.Sort(entries)
		return list("map{", "}", len(entries), func(i int) string { return entries[i] })
	case reflect.Slice:
		if v.IsNil() {
			return "slice(nil)"
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Sprintf("%q", v.Bytes())
		}
		return list("[", "]", v.Len(), func(i int) string { return dump(v.Index(i)) })
	case reflect.Array:
		return list("[", "]", v.Len(), func(i int) string { return dump(v.Index(i)) })
	case reflect.Func, reflect.Chan:
		if v.IsNil() {
			return "nil"
		}
		return v.Kind().String()
	}
	return fmt.Sprintf("%#v", v)
}

func marshalOf(v any) func() {
	return func() {
		marshal(v)
		encode(v)
		b, err := json.MarshalIndent(v, ">", "\t")
		printErr("indent", err)
		fmt.Printf("%s\n", b)
	}
}

type (
	small struct {
		N int `json:"n"`
	}
	mixed struct {
		S   string            `json:"s"`
		I   int               `json:"i"`
		I8  int8              `json:"i8"`
		U   uint              `json:"u"`
		F32 float32           `json:"f32"`
		F   float64           `json:"f"`
		B   bool              `json:"b"`
		L   []int             `json:"l"`
		A   [2]int            `json:"a"`
		M   map[string]int    `json:"m"`
		MI  map[int]string    `json:"mi"`
		P   *small            `json:"p"`
		In  small             `json:"in"`
		Any any               `json:"any"`
		Raw json.RawMessage   `json:"raw"`
		Num json.Number       `json:"num"`
		By  []byte            `json:"by"`
		T   time.Time         `json:"t"`
		Sl  []small           `json:"sl"`
		MS  map[string]small  `json:"ms"`
		Str map[string]string `json:"str"`
	}
	stringOpt struct {
		I int     `json:"i,string"`
		F float64 `json:"f,string"`
		B bool    `json:"b,string"`
		S string  `json:"s,string"`
		P *int    `json:"p,string"`
	}
	Base struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	Extra struct {
		Name string `json:"name"`
		Tag  string `json:"tag"`
	}
	embedded struct {
		Base
		*Extra
		Own string `json:"own"`
	}
	inner              struct{ X int }
	embeddedUnexported struct {
		*inner
		Y int
	}
	omit struct {
		S  string         `json:"s,omitempty"`
		L  []int          `json:"l,omitempty"`
		M  map[string]int `json:"m,omitempty"`
		P  *int           `json:"p,omitempty"`
		T  time.Time      `json:"t,omitempty"`
		St small          `json:"st,omitempty"`
		Z  float64        `json:"z,omitempty"`
	}
	nils struct {
		L  []int
		EL []int
		M  map[string]int
		EM map[string]int
		P  *int
		I  any
		B  []byte
		R  json.RawMessage
	}
	failingMarshaler struct{}
	invalidMarshaler struct{}
	failingUnmarshal struct{ v string }
	ptrMarshaler     struct{ V int }
	textKey          struct{ A, B string }
	failingTextKey   struct{}
	unexportedFields struct{ a, B int }
	node             struct{ Next *node }
	caseFields       struct{ FooBar int }
	conflict         struct {
		A int `json:"x"`
		B int `json:"x"`
	}
	tagged struct {
		Dash  int `json:"-"`
		Comma int `json:"-,"`
		Weird int `json:"a b"`
		Bad   int `json:"\x00"`
	}
)

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("marshal refused") }
func (invalidMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"a":`), nil }
func (f *failingUnmarshal) UnmarshalJSON(b []byte) error {
	if string(b) == `"bad"` {
		return errors.New("unmarshal refused")
	}
	f.v = string(b)
	return nil
}
func (p *ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"pointer"`), nil }
func (k textKey) MarshalText() ([]byte, error)       { return []byte(k.A + "/" + k.B), nil }
func (k *textKey) UnmarshalText(b []byte) error {
	a, b2, ok := strings.Cut(string(b), "/")
	if !ok {
		return fmt.Errorf("key %q has no /", b)
	}
	k.A, k.B = a, b2
	return nil
}
func (failingTextKey) MarshalText() ([]byte, error) { return nil, errors.New("text refused") }

func cases() []testCase {
	var cs []testCase
	add := func(name string, run func()) { cs = append(cs, testCase{name, run}) }
	newMixed := func() any { return new(mixed) }
	newAny := func() any { return new(any) }

	// Syntax errors, as Unmarshal and as aws-lambda-go's Decoder see them.
	for i, in := range []string{
		``, ` `, `{`, `[`, `[1,2`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":}`, `{,}`, `{1:2}`,
		`nul`, `tru`, `fals`, `nulx`, `"abc`, `"\x"`, `"\u12"`, `"\ud800"`, "\"a\nb\"", "\"a\tb\"",
		`{'a':1}`, `01`, `1.`, `-`, `1e`, `.5`, `+1`, `0x10`, `NaN`, `Infinity`, `[1,2]]`, `{"a":1}}`,
		`{"a":1}x`, `{"a":1} {"b":2}`, `1 2`, "\xef\xbb\xbf{}", `/* c */ {}`, `{"a":1}` + "\x00",
		`{"s":"x","i":}`, `{"l":[1,2,}`, `{"m":{"a":1,"b"}}`, `[[[[[[[[[[`, `"` + strings.Repeat(`\`, 3) + `"`,
	} {
		add(fmt.Sprintf("syntax/%02d %q", i, in), decodeInto(in, newMixed))
		add(fmt.Sprintf("syntax-any/%02d %q", i, in), decodeInto(in, newAny))
	}
	add("syntax/valid", func() {
		for _, in := range []string{``, `{}`, `{"a":1}x`, "[1,\n2,\n3,\n", `"\ud800"`, "\"\xff\"", `1e999`} {
			fmt.Printf("%q %v\n", in, json.Valid([]byte(in)))
		}
	})
	add("syntax/compact-indent", func() {
		for _, in := range []string{`{ "a" : [ 1 , 2 ] }`, `{"a":`, `[1 2]`, `"<&>"`, " \"\u2028\" "} {
			var c, ind, h bytes.Buffer
			printErr("compact", json.Compact(&c, []byte(in)))
			fmt.Printf("%q\n", c.String())
			printErr("indent", json.Indent(&ind, []byte(in), "#", "  "))
			fmt.Printf("%q\n", ind.String())
			json.HTMLEscape(&h, []byte(in))
			fmt.Printf("%q\n", h.String())
		}
	})

	// Type mismatches into structs, maps, slices, arrays, pointers and
	// values at the top level and nested.
	for i, in := range []string{
		`{"s":1}`, `{"i":"1"}`, `{"i":true}`, `{"i":{}}`, `{"i":[]}`, `{"b":"true"}`, `{"b":1}`, `{"f":"1.5"}`,
		`{"l":{}}`, `{"l":"x"}`, `{"l":[1,"a",3]}`, `{"l":[1,[2]]}`, `{"a":[1,2,3]}`, `{"a":[1]}`, `{"a":{}}`,
		`{"m":[]}`, `{"m":{"k":"v"}}`, `{"m":{"k":{}}}`, `{"mi":{"x":"a"}}`, `{"mi":{"1":2}}`, `{"mi":{"99999999999999999999":"a"}}`,
		`{"p":1}`, `{"p":{"n":"x"}}`, `{"in":[]}`, `{"in":{"n":[1]}}`, `{"sl":[{"n":1},{"n":"2"}]}`, `{"ms":{"a":{"n":true}}}`,
		`{"str":{"a":1}}`, `{"num":"x"}`, `{"num":true}`, `{"num":"12"}`, `{"by":"!!"}`, `{"by":"aGk="}`, `{"by":[1,2]}`, `{"by":1}`,
		`{"raw":{"a":[1, 2]}}`, `{"any":{"a":[1,2.5,"x",null,true]}}`, `{"s":1,"i":"2","b":3}`, `[]`, `"x"`, `1`, `true`, `null`,
		`{"s":null,"i":null,"l":null,"m":null,"p":null,"t":null}`, `{"S":"upper","I":2,"IN":{"N":3}}`, `{"in":{"N":1}}`,
	} {
		add(fmt.Sprintf("type/%02d %s", i, in), decodeInto(in, newMixed))
	}
	for i, tc := range []struct {
		in string
		v  func() any
	}{
		{`"x"`, func() any { return new(int) }},
		{`1`, func() any { return new(string) }},
		{`{}`, func() any { return new([]int) }},
		{`[1]`, func() any { return new(map[string]int) }},
		{`[1]`, func() any { return new(small) }},
		{`{"a":"b"}`, func() any { return new(map[string]int) }},
		{`{"a":"b"}`, func() any { return new(map[bool]string) }},
		{`{"a":"b"}`, func() any { return new(map[textKey]string) }},
		{`{"x/y":"b"}`, func() any { return new(map[textKey]string) }},
		{`[1,"a"]`, func() any { return new([]int) }},
		{`[[1],["a"]]`, func() any { return new([][]int) }},
		{`[{"n":1},{"n":"a"}]`, func() any { return new([]small) }},
		{`{"a":{"n":"x"}}`, func() any { return new(map[string]small) }},
		{`{"n":1}`, func() any { return new(interface{ M() }) }},
		{`{"n":1}`, func() any { return new(chan int) }},
		{`{"n":1}`, func() any { return new(func()) }},
		{`1`, func() any { return new(complex128) }},
		{`1`, func() any { return new(uintptr) }},
		{`"a"`, func() any { return new([]byte) }},
		{`{"a":1,"B":2}`, func() any { return new(unexportedFields) }},
		{`{"foobar":1}`, func() any { return new(caseFields) }},
		{`{"FOOBAR":1}`, func() any { return new(caseFields) }},
		{`{"foo_bar":1}`, func() any { return new(caseFields) }},
		{`{"x":1}`, func() any { return new(conflict) }},
		{`{"Dash":1,"-":2,"a b":3}`, func() any { return new(tagged) }},
	} {
		add(fmt.Sprintf("type-top/%02d %s", i, tc.in), decodeInto(tc.in, tc.v))
	}
	add("type/invalid-target", func() {
		printErr("nil", json.Unmarshal([]byte(`1`), nil))
		printErr("non-pointer", json.Unmarshal([]byte(`1`), small{}))
		printErr("nil pointer", json.Unmarshal([]byte(`1`), (*small)(nil)))
		printErr("decoder nil", json.NewDecoder(strings.NewReader(`1`)).Decode(nil))
	})

	// Big numbers into integers and floats.
	for i, in := range []string{
		`{"i":1e3}`, `{"i":1.5}`, `{"i":-0}`, `{"i":9223372036854775807}`, `{"i":9223372036854775808}`, `{"i":99999999999999999999}`,
		`{"i8":127}`, `{"i8":128}`, `{"i8":-129}`, `{"u":-1}`, `{"u":18446744073709551616}`, `{"f32":1e39}`, `{"f32":3.4e38}`,
		`{"f":1e309}`, `{"f":-1e309}`, `{"f":1e-400}`, `{"f":123456789012345678901234567890}`, `{"any":1e400}`, `{"any":12345678901234567890}`,
		`{"num":1e400}`, `{"num":-0.0}`, `{"i":1E2}`, `{"i":0.0}`, `{"f":4.9e-324}`,
	} {
		add(fmt.Sprintf("number/%02d %s", i, in), decodeInto(in, newMixed))
	}
	add("number/use-number", func() {
		dec := json.NewDecoder(strings.NewReader(`{"a":1.50,"b":[1e400,-0],"c":12345678901234567890}`))
		dec.UseNumber()
		var v any
		printErr("decode", dec.Decode(&v))
		fmt.Printf("%#v\n", v)
		marshal(v)
	})

	// Unknown fields, with DisallowUnknownFields (decodeInto's "decode
	// strict") and as aws-lambda-go's handlers see them.
	for i, in := range []string{
		`{"n":1,"x":2}`, `{"x":{"deep":[1,2]}}`, `{"N":1}`, `{"n":1,"n":2}`, `{"x":1,"x":2}`,
	} {
		add(fmt.Sprintf("unknown/%02d %s", i, in), decodeInto(in, func() any { return new(small) }))
	}
	for i, in := range []string{`{"in":{"n":1,"z":0}}`, `{"sl":[{"n":1},{"q":1}]}`, `{"ms":{"a":{"q":1}}}`, `{"p":{"q":1}}`} {
		add(fmt.Sprintf("unknown-nested/%02d %s", i, in), decodeInto(in, newMixed))
	}

	// Invalid UTF-8 and escapes in input and output.
	for i, in := range []string{
		"\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", "{\"\xff\":1}", `"\ud800"`, `"\udc00\ud800"`, `"\u0000"`, `"\uD834\uDD1E"`,
	} {
		add(fmt.Sprintf("utf8/%02d %q", i, in), func() {
			var s string
			printErr("unmarshal string", json.Unmarshal([]byte(in), &s))
			fmt.Printf("%q\n", s)
			var v any
			printErr("unmarshal any", json.Unmarshal([]byte(in), &v))
			fmt.Printf("%#v\n", v)
			var m map[string]int
			printErr("unmarshal map", json.Unmarshal([]byte(in), &m))
			fmt.Printf("%#v\n", m)
		})
	}
	add("utf8/marshal", marshalOf(map[string]any{"bad": "a\xffb", "\xfekey": 1, "surrogate": "\xed\xa0\x80", "ok": "é😀", "ctl": "\x00\x1f\x7f", "sep": "\u2028\u2029"}))

	// Duplicate keys into structs, maps and any.
	for i, in := range []string{`{"n":1,"n":2}`, `{"n":1,"N":2}`, `{"N":1,"n":2}`} {
		add(fmt.Sprintf("duplicate/%02d %s", i, in), func() {
			var s small
			printErr("struct", json.Unmarshal([]byte(in), &s))
			fmt.Printf("%#v\n", s)
			var m map[string]int
			printErr("map", json.Unmarshal([]byte(in), &m))
			fmt.Printf("%#v\n", m)
			var v any
			printErr("any", json.Unmarshal([]byte(in), &v))
			fmt.Printf("%#v\n", v)
		})
	}
	add("duplicate/events", decodeInto(`{"version":"2.0","rawPath":"/a","rawPath":"/b","headers":{"a":"1","a":"2"}}`, func() any { return new(events.APIGatewayV2HTTPRequest) }))

	// time.Time fields.
	for i, in := range []string{
		`{"t":"2020-01-02T03:04:05Z"}`, `{"t":"2020-01-02T03:04:05.123456789+01:00"}`, `{"t":"2020-01-02T03:04:05.1234567891Z"}`,
		`{"t":"2020-01-02"}`, `{"t":"bad"}`, `{"t":""}`, `{"t":123}`, `{"t":null}`, `{"t":"2020-01-02T03:04:05z"}`,
		`{"t":"2020-01-02 03:04:05Z"}`, `{"t":"2020-13-02T03:04:05Z"}`, `{"t":"0000-01-01T00:00:00Z"}`, `{"t":"2020-01-02T03:04:05+24:00"}`,
	} {
		add(fmt.Sprintf("time/%02d %s", i, in), decodeInto(in, newMixed))
	}
	add("time/marshal", marshalOf([]time.Time{{}, time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600+30*60)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("odd", 17))}))
	add("time/events", decodeInto(`{"Records":[{"eventTime":"not a time"}]}`, func() any { return new(events.S3Event) }))
	add("time/events-epoch", decodeInto(`{"Records":[{"dynamodb":{"ApproximateCreationDateTime":"x"}}]}`, func() any { return new(events.DynamoDBEvent) }))
	add("type/events-sqs", decodeInto(`{"Records":[{"attributes":{},"messageAttributes":{"a":{"dataType":1}}}]}`, func() any { return new(events.SQSEvent) }))

	// Embedded structs.
	add("embedded/unmarshal", decodeInto(`{"id":"1","name":"n","tag":"t","own":"o"}`, func() any { return new(embedded) }))
	add("embedded/marshal", marshalOf([]embedded{{Base: Base{ID: "1", Name: "n"}, Own: "o"}, {Base: Base{ID: "1", Name: "n"}, Extra: &Extra{Name: "e", Tag: "t"}}}))
	add("embedded/unexported-pointer", decodeInto(`{"X":1,"Y":2}`, func() any { return new(embeddedUnexported) }))
	add("embedded/unexported-pointer-marshal", marshalOf(embeddedUnexported{Y: 2}))

	// The string tag option.
	for i, in := range []string{
		`{"i":"12","f":"1.5","b":"true","s":"\"q\"","p":"7"}`, `{"i":12}`, `{"i":"x"}`, `{"i":"1.5"}`, `{"i":" 1"}`, `{"b":"yes"}`,
		`{"s":"q"}`, `{"s":"\"q"}`, `{"p":null}`, `{"p":"null"}`, `{"i":"null"}`, `{"f":"1e400"}`, `{"i":""}`, `{"b":true}`,
	} {
		add(fmt.Sprintf("string-option/%02d %s", i, in), decodeInto(in, func() any { return new(stringOpt) }))
	}
	seven := 7
	add("string-option/marshal", marshalOf(stringOpt{I: 12, F: 1e21, B: true, S: `"q"<`, P: &seven}))

	// MarshalJSON, UnmarshalJSON, MarshalText and UnmarshalText.
	add("methods/marshal-error", marshalOf(map[string]any{"a": failingMarshaler{}}))
	add("methods/marshal-invalid", marshalOf([]any{invalidMarshaler{}}))
	add("methods/marshal-text-key-error", marshalOf(map[failingTextKey]int{{}: 1}))
	add("methods/marshal-text-key", marshalOf(map[textKey]int{{"a", "b"}: 1, {"<", ">"}: 2}))
	add("methods/pointer-receiver", func() {
		marshal(ptrMarshaler{V: 1})
		marshal(&ptrMarshaler{V: 1})
		marshal([]ptrMarshaler{{V: 1}})
		marshal(map[string]ptrMarshaler{"a": {V: 1}})
		marshal(struct{ P ptrMarshaler }{})
		marshal(&struct{ P ptrMarshaler }{})
	})
	add("methods/unmarshal-error", decodeInto(`{"a":"bad"}`, func() any { return new(map[string]failingUnmarshal) }))
	add("methods/unmarshal-ok", decodeInto(`{"a":[1, 2]}`, func() any { return new(map[string]failingUnmarshal) }))
	add("methods/unmarshal-text-key-error", decodeInto(`{"nokey":1}`, func() any { return new(map[textKey]int) }))
	add("methods/events-dynamodb", decodeInto(`{"Records":[{"dynamodb":{"Keys":{"k":{"N":1}}}}]}`, func() any { return new(events.DynamoDBEvent) }))
	add("methods/events-dynamodb-2", decodeInto(`{"Records":[{"dynamodb":{"Keys":{"k":{"X":"1"}}}}]}`, func() any { return new(events.DynamoDBEvent) }))
	add("methods/events-kafka", decodeInto(`{"records":{"t":[{"headers":[{"h":["x"]}]}]}}`, func() any { return new(events.KafkaEvent) }))
	add("methods/events-codebuild", decodeInto(`{"detail":{"additional-information":{"build-start-time":"x"}}}`, func() any { return new(events.CodeBuildEvent) }))

	// Nil and empty maps and slices, pointers and interfaces; omitempty.
	zero := 0
	add("nil/marshal", marshalOf([]any{nils{}, nils{EL: []int{}, EM: map[string]int{}, B: []byte{}, R: json.RawMessage(`{}`)}, omit{}, omit{P: &zero, L: []int{}, M: map[string]int{}}}))
	add("nil/raw-empty", marshalOf(nils{R: json.RawMessage{}}))
	add("nil/raw-invalid", marshalOf(nils{R: json.RawMessage(`{"a"`)}))
	add("nil/unmarshal-null", decodeInto(`{"L":null,"EL":[],"M":null,"EM":{},"P":null,"I":null,"B":null,"R":null}`, func() any { return new(nils) }))
	add("nil/unmarshal-into-set", func() {
		v := nils{L: []int{1, 2, 3}, M: map[string]int{"keep": 1}, P: &zero}
		printErr("unmarshal", json.Unmarshal([]byte(`{"L":[9],"M":{"add":2},"P":null}`), &v))
		fmt.Println(dump(reflect.ValueOf(v)))
		arr := [3]int{1, 2, 3}
		printErr("array", json.Unmarshal([]byte(`[9]`), &arr))
		fmt.Println(arr)
	})

	// HTML escaping and other string escapes.
	add("html/marshal", marshalOf(map[string]any{"h": "<a href=\"x\">&amp;</a>", "k<": "\u2028\u2029", "q": "'\"\\/\b\f\n\r\t"}))
	add("html/events", marshalOf(events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "<b>&</b>", Headers: map[string]string{"content-type": "text/html"}}))

	// Float formatting.
	floats := []float64{0, math.Copysign(0, -1), 0.1, 1.0 / 3, 1e20, 1e21, 1e-6, 1e-7, 123456789, 1.5e300, 5e-324, math.MaxFloat64,
		100, 1e6, 1e7, 12345678.9, -1e-7, 2.5e-8, float64(float32(0.1))}
	add("float/marshal64", marshalOf(floats))
	f32 := make([]float32, len(floats))
	for i, f := range floats {
		f32[i] = float32(f)
	}
	add("float/marshal32", marshalOf(f32))
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		add(fmt.Sprintf("float/unsupported %v", f), marshalOf(map[string]any{"f": f}))
	}
	add("float/number", marshalOf([]json.Number{"1", "1.50", "-0", "1e400", "x", ""}))

	// Other values Marshal rejects or treats specially.
	add("unsupported/chan", marshalOf(map[string]any{"c": make(chan int)}))
	add("unsupported/func", marshalOf(struct{ F func() }{F: func() {}}))
	add("unsupported/complex", marshalOf([]any{complex(1, 2)}))
	add("unsupported/map-key", marshalOf(map[[2]int]int{{1, 2}: 3}))
	loop := &node{}
	loop.Next = loop
	add("unsupported/cycle", marshalOf(loop))
	cyc := map[string]any{}
	cyc["self"] = cyc
	add("unsupported/cycle-map", marshalOf(cyc))
	add("marshal/map-order", marshalOf(map[any]int{}))
	add("marshal/map-keys", marshalOf([]any{map[int]string{10: "a", 9: "b", -1: "c"}, map[uint8]int{255: 1}, map[string]int{"b": 1, "a": 2, "B": 3, "é": 4}}))
	add("marshal/bytes", marshalOf([]any{[]byte("hi\xff"), [2]byte{1, 2}, []uint8(nil)}))
	add("marshal/tags", marshalOf([]any{tagged{Dash: 1, Comma: 2, Weird: 3, Bad: 4}, conflict{A: 1, B: 2}, unexportedFields{a: 1, B: 2}}))
	add("marshal/pointers", marshalOf([]any{(*int)(nil), &zero, new(*int), []*small{nil, {N: 1}}}))

	// Decoder streams, tokens and offsets.
	add("decoder/stream", func() {
		dec := json.NewDecoder(strings.NewReader(` {"n":1} [2] "3" 4 x`))
		for range 6 {
			var v any
			err := dec.Decode(&v)
			printErr("decode", err)
			fmt.Printf("%#v more=%v offset=%d\n", v, dec.More(), dec.InputOffset())
			if err != nil && err != io.EOF {
				break
			}
		}
	})
	add("decoder/tokens", func() {
		dec := json.NewDecoder(strings.NewReader(`{"a":[1,"b",true,null,{"c":1.5}],"d":{}} [}`))
		for range 20 {
			tok, err := dec.Token()
			if err != nil {
				printErr("token", err)
				break
			}
			fmt.Printf("%T %v more=%v offset=%d\n", tok, tok, dec.More(), dec.InputOffset())
		}
	})
	add("decoder/buffered", func() {
		dec := json.NewDecoder(strings.NewReader(`{"n":1}  trailing`))
		var s small
		printErr("decode", dec.Decode(&s))
		rest, _ := io.ReadAll(dec.Buffered())
		fmt.Printf("%q\n", rest)
	})

	// aws-lambda-go's handler path: the event decoded, the response
	// encoded, the error a user sees.
	handlers := map[string]any{
		"http": func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: e.RawPath + "<&>", Headers: e.Headers}, nil
		},
		"sqs": func(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
			var r events.SQSEventResponse
			for _, m := range e.Records {
				r.BatchItemFailures = append(r.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
			return r, nil
		},
		"struct": func(ctx context.Context, e mixed) (mixed, error) { return e, nil },
		"any":    func(ctx context.Context, e any) (any, error) { return e, nil },
		"floats": func(ctx context.Context, e map[string]float64) ([]any, error) {
			return []any{e, math.NaN()}, nil
		},
	}
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		h := lambda.NewHandler(handlers[name])
		for i, in := range []string{
			`{"rawPath":"/x","headers":{"a":"<b>"},"Records":[{"messageId":"m1"}],"s":"x","i":1}`, `{"rawPath":1}`, `{"Records":[{"messageId":5}]}`,
			`{"Records":{}}`, `{"headers":{"a":1}}`, `{`, ``, `[]`, `null`, `"x"`, `{"a":1} trailing`, "{\"rawPath\":\"\xff\"}", `{"requestContext":{"timeEpoch":"x"}}`,
			`{"i":"1"}`, `{"a":1e400}`, `{"a":1.5,"b":1e21}`,
		} {
			add(fmt.Sprintf("handler/%s/%02d %q", name, i, in), func() {
				out, err := h.Invoke(context.Background(), []byte(in))
				printErr("invoke", err)
				fmt.Printf("%s\n", out)
			})
		}
	}
	return cs
}
