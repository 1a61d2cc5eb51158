package jsonencode

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/eventfixtures"
)

// edge is a type with every kind Encoder knows.
type edge struct {
	I8       int8                `json:"i8"`
	I16      int16               `json:"i16"`
	I32      int32               `json:"i32"`
	I        int                 `json:"i"`
	U8       uint8               `json:"u8"`
	U16      uint16              `json:"u16"`
	U32      uint32              `json:"u32"`
	U        uint64              `json:"u"`
	UP       uintptr             `json:"up"`
	F32      float32             `json:"f32"`
	F        float64             `json:"f"`
	B        bool                `json:"b"`
	S        string              `json:"s"`
	Named    named               `json:"named"`
	Bytes    []byte              `json:"bytes"`
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
	HTML    string `json:"<a&b>"`
	Unicode string `json:"héllo"`
	//lint:ignore U1000 an unexported field, which encoding/json does not write
	hidden string

	OI8   int8                `json:"oi8,omitempty"`
	OI    int                 `json:"oi,omitempty"`
	OU16  uint16              `json:"ou16,omitempty"`
	OF32  float32             `json:"of32,omitempty"`
	OF    float64             `json:"of,omitempty"`
	OB    bool                `json:"ob,omitempty"`
	OS    string              `json:"os,omitempty"`
	OAny  any                 `json:"oany,omitempty"`
	OP    *int                `json:"op,omitempty"`
	OStrs []string            `json:"ostrs,omitempty"`
	OBs   []byte              `json:"obs,omitempty"`
	OSM   map[string]string   `json:"osm,omitempty"`
	OIM   map[string]int      `json:"oim,omitempty"`
	OAM   map[string]any      `json:"oam,omitempty"`
	OLM   map[string][]string `json:"olm,omitempty"`
	OSt   inner               `json:"ost,omitempty"`
	OPSt  *inner              `json:"opst,omitempty"`
}

type named string

type inner struct {
	A string `json:"a"`
}

// onePointer is pointer-shaped: an interface holds it in its data word.
type onePointer struct {
	P *inner `json:"p"`
}

type nothing struct{}

var edgeType = reflect.TypeFor[edge]()

// compare writes v with encoding/json's Encoder, as aws-lambda-go does,
// and with enc, and fails tb if enc wrote other bytes or wrote where
// encoding/json fails. It reports whether enc wrote.
func compare(tb testing.TB, enc *Encoder, v any, escapeHTML bool) bool {
	tb.Helper()
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(escapeHTML)
	wantErr := je.Encode(v)
	got, ok := enc.Append([]byte("prefix"), v, escapeHTML)
	if !ok {
		return false
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		tb.Errorf("%T: Append lost what b held: %q", v, got)
	}
	got = got[len("prefix"):]
	if wantErr != nil {
		tb.Errorf("%T (escapeHTML %v): wrote %q where encoding/json fails: %v", v, escapeHTML, got, wantErr)
	} else if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
		tb.Errorf("%T (escapeHTML %v): wrote\n%s\nencoding/json wrote\n%s", v, escapeHTML, got, want)
	}
	return true
}

// compareAll compares v as it is, through a pointer, and in an empty
// interface, with and without escapeHTML; it reports whether enc wrote
// the value itself both ways.
func compareAll(tb testing.TB, v any) bool {
	tb.Helper()
	t := reflect.TypeOf(v)
	enc := For(t)
	if enc == nil {
		tb.Fatalf("For(%v) = nil", t)
	}
	p := reflect.New(t)
	p.Elem().Set(reflect.ValueOf(v))
	ptrEnc, anyEnc := For(p.Type()), For(reflect.TypeFor[any]())
	wrote := true
	for _, escapeHTML := range []bool{false, true} {
		wrote = compare(tb, enc, v, escapeHTML) && wrote
		compare(tb, ptrEnc, p.Interface(), escapeHTML)
		compare(tb, anyEnc, v, escapeHTML)
	}
	return wrote
}

// responseTypes are what the handlers behind ferry's gateway and queues
// return: Append must write each itself, or it buys nothing.
var responseTypes = map[string]reflect.Type{
	"apigw-response.json":             reflect.TypeFor[events.APIGatewayProxyResponse](),
	"apigw-v2-response.json":          reflect.TypeFor[events.APIGatewayV2HTTPResponse](),
	"alb-lambda-target-response.json": reflect.TypeFor[events.ALBTargetGroupResponse](),
	"lambda-urls-response.json":       reflect.TypeFor[events.LambdaFunctionURLResponse](),
	"sqs-event-response.json":         reflect.TypeFor[events.SQSEventResponse](),
}

// TestMatchesEncodingJSON decodes every file of aws-lambda-go's
// events/testdata into every event type that can hold it, and into an
// empty interface, and writes each value with encoding/json and with
// Encoder, with and without escapeHTML, as it is, through a pointer and
// in an interface.
func TestMatchesEncodingJSON(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	files := eventfixtures.Files(t)
	compared, wrote, encoders := 0, 0, 0
	for _, typ := range append(eventfixtures.Types, reflect.TypeFor[any](), reflect.TypeFor[events.APIGatewayV2HTTPResponse](), reflect.TypeFor[events.SQSEventResponse]()) {
		enc := For(typ)
		if enc == nil {
			continue
		}
		encoders++
		for _, data := range files {
			v := reflect.New(typ)
			if json.Unmarshal(data, v.Interface()) != nil {
				continue
			}
			for _, escapeHTML := range []bool{false, true} {
				compared += 2
				if compare(t, enc, v.Elem().Interface(), escapeHTML) {
					wrote++
				}
				if compare(t, For(v.Type()), v.Interface(), escapeHTML) {
					wrote++
				}
			}
		}
	}
	for name, typ := range responseTypes {
		data, ok := files[name]
		if !ok {
			// Not every response has a file: write a filled-in one.
			data = []byte(`{"statusCode":201,"headers":{"b":"2","a":"<1>"},"multiValueHeaders":{"set-cookie":["x=1","y=2"]},"body":"{\"k\":\"v\"}","cookies":["c=1"],"batchItemFailures":[{"itemIdentifier":"id-1"}]}`)
		}
		v := reflect.New(typ)
		if err := json.Unmarshal(data, v.Interface()); err != nil {
			t.Fatalf("%s into %v: %v", name, typ, err)
		}
		if !compareAll(t, v.Elem().Interface()) {
			t.Errorf("%v: left to encoding/json", typ)
		}
	}
	t.Logf("%d of %d types have an Encoder; %d of %d values written by Append", encoders, len(eventfixtures.Types)+3, wrote, compared)
	if wrote < compared/2 {
		t.Errorf("Append wrote only %d of %d values", wrote, compared)
	}
}

// edgeValues are values of edge, each meant to find one way Append could
// differ from encoding/json.
func edgeValues() []edge {
	s, i := "pointed", 7
	pi := &i
	var allBytes strings.Builder
	for c := range 256 {
		allBytes.WriteByte(byte(c))
	}
	strs := []string{
		"", "plain", `"quoted" \back\slash/`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<script>&amp;</script>",
		"é世😀", "\u2028\u2029", "a\xffb", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", allBytes.String(),
		strings.Repeat("long and \"escaped\" ", 100),
	}
	floats := []float64{0, math.MaxFloat32, -math.SmallestNonzeroFloat32, 1e-45, 3.4028235e38 * 2, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e20, 1e21, 1.7976931348623157e308, 5e-324, 123456789.125, 0.1}
	var out []edge
	for _, str := range strs {
		out = append(out, edge{S: str, Named: named(str), Any: str, SM: map[string]string{str: str}, HTML: str, OS: str,
			Strs: []string{str, str}, Bytes: []byte(str), AM: map[string]any{str: []any{str}}})
	}
	for _, f := range floats {
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) {
			f32 = math.MaxFloat32
		}
		out = append(out, edge{F: f, F32: f32, OF: f, OF32: f32, Any: f, AM: map[string]any{"f": f, "-f": -f}})
	}
	out = append(out,
		edge{},
		edge{I8: math.MinInt8, I16: math.MaxInt16, I32: math.MinInt32, I: math.MinInt, U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U: math.MaxUint64, UP: 1 << 40},
		edge{OI8: -1, OI: 1, OU16: 2, OF32: 0.5, OF: -2, OB: true, OS: "x", OAny: 0, OP: new(int), OStrs: []string{}, OBs: []byte{},
			OSM: map[string]string{}, OIM: map[string]int{}, OAM: map[string]any{}, OLM: map[string][]string{}, OPSt: &inner{}},
		edge{OStrs: []string{""}, OBs: []byte{0}, OSM: map[string]string{"": ""}, OIM: map[string]int{"a": 0}, OAM: map[string]any{"n": nil}, OLM: map[string][]string{"l": nil}},
		edge{B: true, PS: &s, PPI: &pi, Bytes: []byte{}, Strs: []string{}, Nested: [][]int{{1}, {}, nil, {2, 3}}, Structs: []edge{{}, {S: "in a list"}}},
		edge{SM: map[string]string{}, IM: map[string]int{"b": 2, "a": -1, "c": 0}, AM: map[string]any{}, NM: map[named][]string{"z": {"1"}, "y": nil, "x": {}}, LM: map[string][]string{"b": {"x", "y"}, "a": nil, "c": {}}},
		edge{SM: map[string]string{"k9": "v", "k10": "w", "K": "x", "é": "y", "": "z", "a\x00": "0", "<": ">", "k1": "", "k2": "", "k3": "", "k4": "", "k5": "", "k6": ""}},
		edge{Any: map[string]any{"nested": map[string]any{"list": []any{1.5, "x", true, nil, map[string]any{}}}}},
		edge{Any: []any{}, AM: map[string]any{"int": 1, "str": named("n"), "strs": []string{"a"}, "inner": inner{"<&>"}, "ptr": &inner{"p"}, "nilptr": (*inner)(nil), "bytes": []byte("b"), "one": onePointer{&inner{"x"}}}},
		edge{Self: &edge{Self: &edge{S: "deep", Structs: []edge{{I: 1}}}}},
		edge{Untagged: "u", Dash: "d", DashName: "dn", Invalid: "inv", Unicode: "ü", hidden: "h"},
	)
	return out
}

func TestEdgeCases(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	for _, v := range edgeValues() {
		if !compareAll(t, v) {
			t.Errorf("left to encoding/json: %+v", v)
		}
	}
	// Values of other shapes, each alone.
	for _, v := range []any{
		"top-level <string>", 42, int8(-3), uint16(7), 2.5, float32(0.1), true, []byte("raw"), []byte(nil),
		[]string(nil), []string{"a", "b"}, map[string]string(nil), map[string]any{"a": nil}, []any{nil, 1.0, "x"},
		map[named]int{"b": 1, "a": 2}, map[string]*inner{"x": {"1"}, "y": nil}, []*inner{nil, {"z"}}, [][]string{{"a"}, nil},
		inner{"i"}, &inner{"p"}, (*inner)(nil), onePointer{}, onePointer{&inner{"direct"}}, &onePointer{&inner{"q"}},
		nothing{}, &nothing{}, []nothing{{}, {}}, map[string]nothing{"e": {}},
		map[string]map[string][]string{"o": {"k": {"v"}}}, map[string][]any{"l": {1.0, nil}},
	} {
		if !compareAll(t, v) {
			t.Errorf("%T %v: left to encoding/json", v, v)
		}
	}
}

// TestLeftToEncodingJSON lists what Append writes with encoding/json's
// errors: each value must be refused, never written.
func TestLeftToEncodingJSON(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	type node struct {
		Next *node `json:"next"`
	}
	deep := &node{}
	for n, i := deep, 0; i < 1500; i++ {
		n.Next = &node{}
		n = n.Next
	}
	cycle := &node{}
	cycle.Next = cycle
	loop := map[string]any{}
	loop["self"] = loop
	for _, v := range []any{
		math.NaN(), math.Inf(1), float32(math.Inf(-1)), edge{F: math.NaN()}, edge{Any: math.Inf(-1)}, edge{AM: map[string]any{"x": math.NaN()}},
		map[string]any{"t": time.Time{}}, edge{Any: make(chan int)}, []any{make(chan int)}, deep, cycle, loop,
	} {
		enc := For(reflect.TypeOf(v))
		if enc == nil {
			t.Fatalf("For(%T) = nil", v)
		}
		for _, escapeHTML := range []bool{false, true} {
			if b, ok := enc.Append(nil, v, escapeHTML); ok {
				t.Errorf("%T: wrote %.100q", v, b)
			}
		}
		if v == deep {
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("encoding/json refused the deep list: %v", err)
			}
		}
	}
	// A value of another type than the Encoder's.
	if _, ok := For(reflect.TypeFor[inner]()).Append(nil, edge{}, false); ok {
		t.Error("wrote a value of another type")
	}
}

type valueMarshaler struct{}

func (valueMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"m"`), nil }

type pointerMarshaler struct{}

func (*pointerMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"p"`), nil }

type textMarshaler int

func (textMarshaler) MarshalText() ([]byte, error) { return []byte("t"), nil }

type markedByte byte

func (markedByte) MarshalText() ([]byte, error) { return []byte("b"), nil }

// TestForRefuses lists the types For leaves to encoding/json whole.
func TestForRefuses(t *testing.T) {
	if v2Linked {
		t.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	type embedded struct{ inner }
	type quoted struct {
		N int `json:"n,string"`
	}
	type omitZero struct {
		T time.Time `json:"t,omitzero"`
	}
	// Two fields of one name, which encoding/json drops both of (built
	// here: vet refuses the struct written out).
	twice := reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
		{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"x"`},
	})
	type array struct{ A [2]int }
	for _, typ := range []reflect.Type{
		reflect.TypeFor[valueMarshaler](), reflect.TypeFor[pointerMarshaler](), reflect.TypeFor[*pointerMarshaler](),
		reflect.TypeFor[textMarshaler](), reflect.TypeFor[[]markedByte](), reflect.TypeFor[json.Number](),
		reflect.TypeFor[json.RawMessage](), reflect.TypeFor[time.Time](), reflect.TypeFor[embedded](),
		reflect.TypeFor[quoted](), reflect.TypeFor[omitZero](), twice, reflect.TypeFor[array](),
		reflect.TypeFor[map[int]string](), reflect.TypeFor[map[textMarshaler]string](), reflect.TypeFor[error](),
		reflect.TypeFor[io.Reader](), reflect.TypeFor[chan int](), reflect.TypeFor[func()](), reflect.TypeFor[complex128](),
		reflect.TypeFor[struct{ M map[string]valueMarshaler }](), reflect.TypeFor[[]*pointerMarshaler](),
	} {
		if For(typ) != nil {
			t.Errorf("For(%v) is not nil", typ)
		}
	}
}

// FuzzAppend decodes each input with encoding/json into edge, into an
// empty interface and into each of aws-lambda-go's event types, and
// compares what Append and encoding/json write of the value.
func FuzzAppend(f *testing.F) {
	if v2Linked {
		f.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	files := eventfixtures.Files(f)
	for _, name := range []string{"apigw-v2-response.json", "apigw-response.json", "alb-lambda-target-response.json", "apigw-v2-request-iam.json", "sqs-event.json"} {
		f.Add(files[name], uint8(0))
	}
	for _, v := range edgeValues() {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(1))
	}
	types := append([]reflect.Type{edgeType, reflect.TypeFor[any]()}, eventfixtures.Types...)
	encoders := make([]*Encoder, len(types))
	for i, typ := range types {
		encoders[i] = For(typ)
	}
	f.Fuzz(func(t *testing.T, data []byte, typ uint8) {
		i := int(typ) % len(types)
		if encoders[i] == nil {
			return
		}
		v := reflect.New(types[i])
		if json.Unmarshal(data, v.Interface()) != nil {
			return
		}
		compare(t, encoders[i], v.Elem().Interface(), typ&0x80 != 0)
	})
}

// FuzzAppendString compares the writing of any string, valid UTF-8 or
// not, with encoding/json's, with and without escapeHTML.
func FuzzAppendString(f *testing.F) {
	if v2Linked {
		f.Skip("GOEXPERIMENT=jsonv2: For gives no Encoder")
	}
	for _, v := range edgeValues() {
		f.Add(v.S)
	}
	f.Add("0123456\"89abcdef\x00<>&\u2028é\xff")
	enc := For(reflect.TypeFor[string]())
	f.Fuzz(func(t *testing.T, s string) {
		compare(t, enc, s, false)
		compare(t, enc, s, true)
	})
}

func BenchmarkAppend(b *testing.B) {
	body := `{"routeKey":"GET /http-api/{proxy+}","method":"GET","rawPath":"/http-api/items/42","rawQueryString":"name=ferry&tag=a&tag=b","query":{"name":"ferry","tag":"a,b"},"pathParameters":{"proxy":"items/42"},"cookies":null,"userAgent":"Go-http-client/1.1","accept":"","body":"","greeting":"hello, ferry"}`
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"content-type": "application/json"},
		Cookies:    []string{"visited=yes; Path=/; HttpOnly"},
		Body:       body,
	}
	b.Run("encoding-json", func(b *testing.B) {
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonencode", func(b *testing.B) {
		enc := For(reflect.TypeOf(resp))
		buf := make([]byte, 0, 1024)
		var v any = resp // as the handler's result reaches it: boxed once
		for b.Loop() {
			var ok bool
			if buf, ok = enc.Append(buf[:0], v, false); !ok {
				b.Fatal("left to encoding/json")
			}
		}
	})
}
