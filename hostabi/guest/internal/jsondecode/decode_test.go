package jsondecode

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/eventfixtures"
)

// edge is a type with every kind Decode knows.
type edge struct {
	I8       int8                `json:"i8"`
	I16      int16               `json:"i16"`
	I32      int32               `json:"i32"`
	I        int                 `json:"i"`
	U8       uint8               `json:"u8"`
	U16      uint16              `json:"u16"`
	U32      uint32              `json:"u32"`
	U        uint64              `json:"u"`
	F32      float32             `json:"f32"`
	F        float64             `json:"f"`
	B        bool                `json:"b"`
	S        string              `json:"s"`
	Named    named               `json:"named"`
	Bytes    []byte              `json:"bytes"`
	Raw      json.RawMessage     `json:"raw"`
	Time     time.Time           `json:"time"`
	PTime    *time.Time          `json:"ptime"`
	Any      any                 `json:"any"`
	PS       *string             `json:"ps"`
	PPI      **int               `json:"ppi"`
	Strs     []string            `json:"strs"`
	Nested   [][]int             `json:"nested"`
	SM       map[string]string   `json:"sm"`
	IM       map[string]int      `json:"im"`
	AM       map[string]any      `json:"am"`
	NM       map[named][]string  `json:"nm"`
	LM       map[string][]string `json:"lm"`
	Self     *edge               `json:"self"`
	Structs  []edge              `json:"structs,omitempty"`
	Untagged string
	Dash     string `json:"-"`
	//lint:ignore SA5008 a field named "-", as encoding/json reads this tag
	DashName string `json:"-,"`
	//lint:ignore SA5008 an invalid name, which encoding/json ignores
	Invalid string `json:"a\\b"`
	Punct   string `json:"x-y.z"`
	//lint:ignore U1000 an unexported field, which neither decoder may set
	hidden string
}

type named string

var edgeType = reflect.TypeFor[edge]()

// edgeCases are inputs for edge, each meant to find one way Decode
// could differ from encoding/json: Decode must either refuse them or
// decode them alike.
var edgeCases = []string{
	`{}`, ` {} `, `null`, `{"i8":127,"i16":-32768,"i32":2147483647,"i":-9223372036854775808}`,
	`{"i8":128}`, `{"i8":-129}`, `{"u8":255,"u16":65535,"u32":4294967295,"u":18446744073709551615}`,
	`{"u8":256}`, `{"u":-1}`, `{"i":1.0}`, `{"i":1e2}`, `{"i":"1"}`, `{"i":01}`, `{"i":-}`, `{"i":-0}`,
	`{"f32":3.4e38,"f":1.7976931348623157e308}`, `{"f32":3.5e38}`, `{"f":1e400}`, `{"f":-0.0}`, `{"f":1.5E-7}`, `{"f":.5}`, `{"f":1.}`, `{"f":+1}`,
	`{"b":true}`, `{"b":false}`, `{"b":null}`, `{"b":"true"}`, `{"b":tru}`, `{"b":truex}`,
	`{"s":"plain"}`, `{"s":"\"\\\/\b\f\n\r\t"}`, `{"s":"\u00e9\u4e16\u0000"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\ud83d"}`,
	`{"s":"é世😀"}`, "{\"s\":\"\xff\"}", "{\"s\":\"a\tb\"}", `{"s":"\x"}`, `{"s":"\'"}`, `{"s":"\u12"}`, `{"s":1}`, `{"s":null}`, `{"s":"a"`,
	`{"named":"n"}`, `{"bytes":"aGVsbG8="}`, `{"bytes":"aGVs\nbG8="}`, `{"bytes":"!"}`, `{"bytes":""}`, `{"bytes":null}`, `{"bytes":[1,2]}`,
	`{"raw":{"a":[1, 2]}}`, `{"raw":null}`, `{"raw":"x"}`,
	`{"time":"2020-01-02T03:04:05Z"}`, `{"time":"yesterday"}`, `{"time":null}`, `{"ptime":"2020-01-02T03:04:05.5+01:00"}`, `{"ptime":null}`,
	`{"any":{"a":[1,"x",true,null,{"b":2.5}]}}`, `{"any":[]}`, `{"any":{}}`, `{"any":1e400}`, `{"any":-12}`,
	`{"ps":"p"}`, `{"ps":null}`, `{"ppi":5}`, `{"ppi":null}`,
	`{"strs":["a","b"]}`, `{"strs":[]}`, `{"strs":null}`, `{"strs":["a",]}`, `{"strs":[,]}`, `{"nested":[[1],[],[2,3]]}`,
	`{"sm":{"a":"1","b":null}}`, `{"sm":{"a":"1","a":"2"}}`, `{"sm":{}}`, `{"sm":{"a":1}}`,
	`{"im":{"a":1,"b":-2}}`, `{"am":{"a":{"b":[1]}}}`, `{"nm":{"k":["v"]}}`, `{"am":{"a":1,"a":[2],"b":null}}`, `{"am":null}`, `{"am":[]}`,
	`{"lm":{"a":["x",null],"b":null,"c":[],"a":["y"]}}`, `{"lm":{"a":"x"}}`, `{"lm":{"a":[1]}}`, `{"lm":null}`, `{"lm":{}}`, `{"strs":["a",null,"\u00e9"]}`, `{"strs":[1]}`, `{"strs":{}}`,
	`{"self":{"self":{"s":"deep"}}}`, `{"structs":[{"s":"a"},{"i":1}]}`, `{"structs":[]}`,
	`{"Untagged":"u"}`, `{"untagged":"u"}`, `{"UNTAGGED":"u"}`, `{"Dash":"d"}`, `{"-":"d"}`, `{"a\\b":"x"}`, `{"Invalid":"x"}`, `{"x-y.z":"p"}`,
	`{"hidden":"h"}`, `{"S":"fold"}`, `{"s":"a","s":"b"}`, `{"unknown":{"a":[1,{"b":null}]},"s":"k"}`, `{"unknown":"\u00zz"}`,
	`{"unknown":"` + "\xff" + `"}`, `{"\u0073":"escaped key"}`, `{"ſ":"long s"}`, `{"s":"x"} `, `{"s":"x"} {}`, `{"s":"x"}x`,
	`{"s":"x";"b":true}`, `{"strs":["a";"b"]}`, `{"nested":[[1];[2]]}`, `{"any":[1;2]}`, `{"any":{"a":1;"b":2}}`, `{"sm":{"a":"1";"b":"2"}}`,
	`{"unknown":[1;2],"s":"x"}`, `{"unknown":{"a":1;"b":2},"s":"x"}`, `{"s" : "x" , "b" : true }`, "{\n\t\"s\":\r\"x\"}", `{"s":"x",}`, `{,}`, `{"s"}`, `{"s":}`, `{"s" "x"}`, ``, ` `, `[]`, `"s"`, `{"s":"x"`,
	`{"i8":1,"i16":2,"i32":3,"i":4,"u8":5,"u16":6,"u32":7,"u":8,"f32":9.5,"f":10.25,"b":true,"s":"s","named":"n","bytes":"AA==","raw":[],` +
		`"time":"2021-01-01T00:00:00Z","ptime":"2021-01-01T00:00:00Z","any":"a","ps":"p","ppi":1,"strs":["x"],"nested":[[1]],"sm":{"a":"b"},` +
		`"im":{"a":1},"am":{"a":null},"nm":{"a":[]},"self":{},"structs":[{}],"Untagged":"u","-":"d","x-y.z":"p"}`,
}

var allOptions = []Options{{}, {UseNumber: true}, {DisallowUnknownFields: true}}

// compare decodes data into a new t with encoding/json's Decoder, as
// aws-lambda-go does, and with dec, and fails t if dec reports a decoding
// that differs or one encoding/json fails. It reports whether dec decoded.
func compare(tb testing.TB, dec *Decoder, typ reflect.Type, data []byte, opts Options) bool {
	tb.Helper()
	want := reflect.New(typ)
	jd := json.NewDecoder(bytes.NewReader(data))
	if opts.UseNumber {
		jd.UseNumber()
	}
	if opts.DisallowUnknownFields {
		jd.DisallowUnknownFields()
	}
	wantErr := jd.Decode(want.Interface())
	got := reflect.New(typ)
	if !dec.Decode(data, got.Interface(), opts) {
		return false
	}
	if wantErr != nil {
		tb.Errorf("%s %+v %q: decoded where encoding/json fails: %v", typ, opts, data, wantErr)
	} else if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		tb.Errorf("%s %+v %q: decoded\n%#v\nencoding/json decoded\n%#v", typ, opts, data, got.Elem(), want.Elem())
	}
	return true
}

// fastFixtures are the events ferry's gateway and queues send (with
// their types): Decode must decode each itself, or it buys nothing.
var fastFixtures = map[string]reflect.Type{
	"apigw-request.json":                                reflect.TypeFor[events.APIGatewayProxyRequest](),
	"apigw-v2-request-iam.json":                         reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	"apigw-v2-request-jwt-authorizer.json":              reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	"apigw-v2-request-lambda-authorizer.json":           reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	"apigw-v2-request-no-authorizer.json":               reflect.TypeFor[events.APIGatewayV2HTTPRequest](),
	"alb-lambda-target-request-headers-only.json":       reflect.TypeFor[events.ALBTargetGroupRequest](),
	"alb-lambda-target-request-multivalue-headers.json": reflect.TypeFor[events.ALBTargetGroupRequest](),
	"lambda-urls-request.json":                          reflect.TypeFor[events.LambdaFunctionURLRequest](),
	"sqs-event.json":                                    reflect.TypeFor[events.SQSEvent](),
	"s3-event.json":                                     reflect.TypeFor[events.S3Event](),
}

// TestMatchesEncodingJSON decodes every file of aws-lambda-go's
// events/testdata into every event type, and every edge case into edge,
// with each of aws-lambda-go's decoding options, and compares with
// encoding/json.
func TestMatchesEncodingJSON(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Decoder")
	}
	files := eventfixtures.Files(t)
	types := append([]reflect.Type{edgeType}, eventfixtures.Types...)
	decoders := map[reflect.Type]*Decoder{}
	for _, typ := range types {
		if dec := For(typ); dec != nil {
			decoders[typ] = dec
		}
	}
	if decoders[edgeType] == nil {
		t.Fatal("For(edge) = nil")
	}
	for name, typ := range fastFixtures {
		if decoders[typ] == nil {
			t.Errorf("For(%s) = nil", typ)
		} else if !compare(t, decoders[typ], typ, files[name], Options{}) {
			t.Errorf("%s into %s: left to encoding/json", name, typ)
		}
	}
	compared, decoded := 0, 0
	for _, typ := range types {
		dec := decoders[typ]
		if dec == nil {
			continue
		}
		for _, data := range files {
			for _, opts := range allOptions {
				compared++
				if compare(t, dec, typ, data, opts) {
					decoded++
				}
			}
		}
	}
	for _, c := range edgeCases {
		for _, opts := range allOptions {
			compared++
			if compare(t, decoders[edgeType], edgeType, []byte(c), opts) {
				decoded++
			}
		}
	}
	t.Logf("%d of %d types have a Decoder; %d of %d decodings made by Decode", len(decoders), len(types), decoded, compared)
}

// TestForRefuses lists what Decode leaves to encoding/json whole.
func TestForRefuses(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Decoder")
	}
	type embedded struct{ edge }
	type quoted struct {
		N int `json:"n,string"`
	}
	type twice struct {
		A string `json:"B"`
		B string
	}
	type nonASCII struct {
		K string `json:"é"`
	}
	type text struct{ IP textIP }
	for _, typ := range []reflect.Type{
		reflect.TypeFor[embedded](),
		reflect.TypeFor[quoted](),
		reflect.TypeFor[twice](),
		reflect.TypeFor[nonASCII](),
		reflect.TypeFor[text](),
		reflect.TypeFor[json.Number](),
		reflect.TypeFor[map[int]string](),
		reflect.TypeFor[[2]string](),
		reflect.TypeFor[error](),
		reflect.TypeFor[chan int](),
	} {
		if For(typ) != nil {
			t.Errorf("For(%s) != nil", typ)
		}
	}
}

type textIP string

func (ip *textIP) UnmarshalText(b []byte) error { *ip = textIP(b); return nil }

// FuzzDecode compares Decode with encoding/json on any input, into edge
// and the event types.
func FuzzDecode(f *testing.F) {
	for _, c := range edgeCases {
		f.Add([]byte(c), uint8(0), uint8(0))
	}
	for name, typ := range fastFixtures {
		for i, et := range eventfixtures.Types {
			if et == typ {
				f.Add(eventfixtures.Files(f)[name], uint8(i+1), uint8(0))
			}
		}
	}
	types := append([]reflect.Type{edgeType}, eventfixtures.Types...)
	decoders := make([]*Decoder, len(types))
	for i, typ := range types {
		decoders[i] = For(typ)
	}
	f.Fuzz(func(t *testing.T, data []byte, typ, opts uint8) {
		i := int(typ) % len(types)
		if decoders[i] != nil {
			compare(t, decoders[i], types[i], data, allOptions[int(opts)%len(allOptions)])
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	event := []byte(`{"version":"2.0","routeKey":"GET /http-api/{proxy+}","rawPath":"/http-api/items/42","rawQueryString":"name=ferry&tag=a&tag=b","headers":{"accept-encoding":"gzip","host":"example.com","user-agent":"Go-http-client/1.1","x-amzn-trace-id":"Root=1-6b162d54-dd0e7ebda5d6dcc9620b9963","x-forwarded-for":"192.0.2.1","x-forwarded-port":"80","x-forwarded-proto":"http"},"queryStringParameters":{"name":"ferry","tag":"a,b"},"pathParameters":{"proxy":"items/42"},"isBase64Encoded":false,"requestContext":{"routeKey":"GET /http-api/{proxy+}","accountId":"123456789012","stage":"$default","requestId":"abc-123","apiId":"lquyhyhlov","domainName":"example.com","domainPrefix":"example","time":"07/Dec/2026:03:51:48 +0000","timeEpoch":1796615508626,"http":{"method":"GET","path":"/http-api/items/42","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"Go-http-client/1.1"}}}`)
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var req events.APIGatewayV2HTTPRequest
			if err := json.NewDecoder(bytes.NewReader(event)).Decode(&req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsondecode", func(b *testing.B) {
		dec := For(reflect.TypeFor[events.APIGatewayV2HTTPRequest]())
		for b.Loop() {
			var req events.APIGatewayV2HTTPRequest
			if !dec.Decode(event, &req, Options{}) {
				b.Fatal("left to encoding/json")
			}
		}
	})
}
