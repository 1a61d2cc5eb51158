package gobuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// What differs with GOEXPERIMENT=jsonv2 (Go 1.26), by kind.
const (
	syntaxWording = "SyntaxError worded differently: a truncated literal or number is \"unexpected end of JSON input\", bad escapes, control characters \"in string\", a BOM, \"after array value\""
	fieldPath     = "UnmarshalTypeError's field path: v2 names the type decoded into and the whole JSON path, map keys and array indexes included (SQSEvent.Records.0.messageId), v1 the innermost struct and the path without them (SQSMessage.Records.messageId); a map or slice at the top is \"Go struct field .a\" instead of \"Go value\""
	errorKind     = "another error type (aws-lambda-go's errorType) and message: the string tag option, json.Number, base64, time.Time from a non-string, embedded pointers to unexported structs, MarshalText of map keys, an invalid json.Number, an unsupported map key type"
	partialValue  = "what a failed decode leaves in the value: v2 keeps map entries decoded before the error and clamps overflowing floats to ±MaxFloat64, v1 leaves them out or zero"
	marshalerType = "MarshalerError names the pointer type (*main.T; *jsontext.Value for json.RawMessage) and drops \"Time.MarshalJSON: \""
	successOutput = "output without an error differs: invalid UTF-8 becomes a raw U+FFFD instead of \\ufffd, a struct tag name v1 ignores as invalid is used, map[any]T is encoded instead of rejected"
)

// knownDifferences are the cases of testdata/jsoncompat whose output
// differs with GOEXPERIMENT=jsonv2, with what differs. Every fixture of
// events/testdata round-trips identically; these edge and error cases do
// not, which is why JSONv2 is opt-in (DESIGN.md, README).
var knownDifferences = map[string]string{
	"syntax/11 \"nul\"":                                 syntaxWording,
	"syntax-any/11 \"nul\"":                             syntaxWording,
	"syntax/12 \"tru\"":                                 syntaxWording,
	"syntax-any/12 \"tru\"":                             syntaxWording,
	"syntax/13 \"fals\"":                                syntaxWording,
	"syntax-any/13 \"fals\"":                            syntaxWording,
	"syntax/16 \"\\\"\\\\x\\\"\"":                       syntaxWording,
	"syntax-any/16 \"\\\"\\\\x\\\"\"":                   syntaxWording,
	"syntax/17 \"\\\"\\\\u12\\\"\"":                     syntaxWording,
	"syntax-any/17 \"\\\"\\\\u12\\\"\"":                 syntaxWording,
	"syntax/19 \"\\\"a\\nb\\\"\"":                       syntaxWording,
	"syntax-any/19 \"\\\"a\\nb\\\"\"":                   syntaxWording,
	"syntax/20 \"\\\"a\\tb\\\"\"":                       syntaxWording,
	"syntax-any/20 \"\\\"a\\tb\\\"\"":                   syntaxWording,
	"syntax/23 \"1.\"":                                  syntaxWording,
	"syntax-any/23 \"1.\"":                              syntaxWording,
	"syntax/24 \"-\"":                                   syntaxWording,
	"syntax-any/24 \"-\"":                               syntaxWording,
	"syntax/25 \"1e\"":                                  syntaxWording,
	"syntax-any/25 \"1e\"":                              syntaxWording,
	"syntax/36 \"\\ufeff{}\"":                           syntaxWording,
	"syntax-any/36 \"\\ufeff{}\"":                       syntaxWording,
	"syntax/compact-indent":                             syntaxWording,
	"type/10 {\"l\":[1,\"a\",3]}":                       fieldPath,
	"type/11 {\"l\":[1,[2]]}":                           fieldPath,
	"type/16 {\"m\":{\"k\":\"v\"}}":                     fieldPath,
	"type/17 {\"m\":{\"k\":{}}}":                        fieldPath,
	"type/18 {\"mi\":{\"x\":\"a\"}}":                    fieldPath,
	"type/19 {\"mi\":{\"1\":2}}":                        fieldPath,
	"type/20 {\"mi\":{\"99999999999999999999\":\"a\"}}": fieldPath,
	"type/22 {\"p\":{\"n\":\"x\"}}":                     fieldPath,
	"type/24 {\"in\":{\"n\":[1]}}":                      fieldPath,
	"type/25 {\"sl\":[{\"n\":1},{\"n\":\"2\"}]}":        fieldPath,
	"type/26 {\"ms\":{\"a\":{\"n\":true}}}":             fieldPath,
	"type/27 {\"str\":{\"a\":1}}":                       fieldPath,
	"type/28 {\"num\":\"x\"}":                           errorKind,
	"type/29 {\"num\":true}":                            fieldPath,
	"type/31 {\"by\":\"!!\"}":                           errorKind,
	"type-top/05 {\"a\":\"b\"}":                         fieldPath,
	"type-top/06 {\"a\":\"b\"}":                         fieldPath + ", " + partialValue,
	"type-top/09 [1,\"a\"]":                             fieldPath,
	"type-top/10 [[1],[\"a\"]]":                         fieldPath,
	"type-top/11 [{\"n\":1},{\"n\":\"a\"}]":             fieldPath,
	"type-top/12 {\"a\":{\"n\":\"x\"}}":                 fieldPath,
	"type-top/18 \"a\"":                                 errorKind,
	"number/11 {\"f32\":1e39}":                          partialValue,
	"number/13 {\"f\":1e309}":                           partialValue,
	"number/14 {\"f\":-1e309}":                          partialValue,
	"number/17 {\"any\":1e400}":                         partialValue,
	"utf8/marshal":                                      successOutput,
	"time/06 {\"t\":123}":                               errorKind,
	"time/marshal":                                      marshalerType,
	"time/events-epoch":                                 fieldPath,
	"type/events-sqs":                                   fieldPath,
	"embedded/unexported-pointer":                       errorKind,
	"string-option/01 {\"i\":12}":                       errorKind,
	"string-option/02 {\"i\":\"x\"}":                    errorKind,
	"string-option/04 {\"i\":\" 1\"}":                   errorKind,
	"string-option/05 {\"b\":\"yes\"}":                  errorKind,
	"string-option/06 {\"s\":\"q\"}":                    errorKind,
	"string-option/07 {\"s\":\"\\\"q\"}":                errorKind,
	"string-option/12 {\"i\":\"\"}":                     errorKind,
	"string-option/13 {\"b\":true}":                     errorKind,
	"methods/marshal-error":                             marshalerType,
	"methods/marshal-invalid":                           marshalerType,
	"methods/marshal-text-key-error":                    errorKind,
	"methods/unmarshal-error":                           partialValue,
	"methods/events-dynamodb":                           partialValue,
	"methods/events-dynamodb-2":                         partialValue,
	"methods/events-kafka":                              fieldPath + ", " + partialValue,
	"nil/raw-empty":                                     marshalerType,
	"nil/raw-invalid":                                   marshalerType,
	"float/number":                                      errorKind,
	"unsupported/map-key":                               errorKind,
	"marshal/map-order":                                 successOutput,
	"marshal/tags":                                      successOutput,
	"handler/any/14 \"{\\\"a\\\":1e400}\"":              fieldPath,
	"handler/floats/00 \"{\\\"rawPath\\\":\\\"/x\\\",\\\"headers\\\":{\\\"a\\\":\\\"<b>\\\"},\\\"Records\\\":[{\\\"messageId\\\":\\\"m1\\\"}],\\\"s\\\":\\\"x\\\",\\\"i\\\":1}\"": fieldPath,
	"handler/floats/02 \"{\\\"Records\\\":[{\\\"messageId\\\":5}]}\"":              fieldPath,
	"handler/floats/03 \"{\\\"Records\\\":{}}\"":                                   fieldPath,
	"handler/floats/04 \"{\\\"headers\\\":{\\\"a\\\":1}}\"":                        fieldPath,
	"handler/floats/11 \"{\\\"rawPath\\\":\\\"\\xff\\\"}\"":                        fieldPath,
	"handler/floats/12 \"{\\\"requestContext\\\":{\\\"timeEpoch\\\":\\\"x\\\"}}\"": fieldPath,
	"handler/floats/13 \"{\\\"i\\\":\\\"1\\\"}\"":                                  fieldPath,
	"handler/floats/14 \"{\\\"a\\\":1e400}\"":                                      fieldPath,
	"handler/http/04 \"{\\\"headers\\\":{\\\"a\\\":1}}\"":                          fieldPath,
	"handler/http/12 \"{\\\"requestContext\\\":{\\\"timeEpoch\\\":\\\"x\\\"}}\"":   fieldPath,
	"handler/sqs/02 \"{\\\"Records\\\":[{\\\"messageId\\\":5}]}\"":                 fieldPath,
}

// TestJSONv2 is the evidence JSONv2's default rests on. It builds
// testdata/jsoncompat natively twice, with the user's GOEXPERIMENT and
// with jsonv2 added as JSONv2(true) adds it, runs both on every file of
// aws-lambda-go's events/testdata (decoded into its event type, encoded
// again) and on malformed, mistyped and edge-case inputs and values
// (error types and messages as aws-lambda-go reports them, outputs), and
// compares what they print case by case. A case that differs and is not
// in knownDifferences fails, and so does a known one that no longer
// differs: the list, README's and the decision follow the toolchain.
func TestJSONv2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program twice")
	}
	goEnv := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "go", args...).Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	fixtures := filepath.Join(goEnv("list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go"), "events", "testdata")
	user := goEnv("env", "GOEXPERIMENT")
	run := func(experiment string) (names []string, outputs map[string]string) {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "jsoncompat")
		build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./testdata/jsoncompat")
		build.Env = append(os.Environ(), "GOEXPERIMENT="+experiment)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("GOEXPERIMENT=%s go build: %v\n%s", experiment, err, out)
		}
		cmd := exec.CommandContext(t.Context(), bin, fixtures)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOEXPERIMENT=%s jsoncompat: %v\n%s", experiment, err, stderr.String())
		}
		outputs = map[string]string{}
		for _, c := range strings.Split(string(out), "=== ")[1:] {
			name, text, _ := strings.Cut(c, "\n")
			if _, dup := outputs[name]; dup {
				t.Fatalf("two cases named %q", name)
			}
			names = append(names, name)
			outputs[name] = text
		}
		return names, outputs
	}
	names, v1 := run(user)
	_, v2 := run(experiments(user, settings{jsonv2: true}))

	fixturesSeen := 0
	for _, name := range names {
		if strings.HasPrefix(name, "fixture/") {
			fixturesSeen++
		}
		want, got := v1[name], v2[name]
		why, known := knownDifferences[name]
		switch {
		case want != got && !known:
			t.Errorf("%s differs with jsonv2:\n--- v1\n%s--- jsonv2\n%s", name, want, got)
		case want == got && known:
			t.Errorf("%s no longer differs with jsonv2 (%s): remove it from knownDifferences and README's list; with none left, JSONv2 can be the default", name, why)
		case want != got:
			t.Logf("%s (known: %s):\n--- v1\n%s--- jsonv2\n%s", name, why, want, got)
		}
		if _, ok := v2[name]; !ok {
			t.Errorf("%s: printed without jsonv2 only", name)
		}
	}
	for name := range knownDifferences {
		if _, ok := v1[name]; !ok {
			t.Errorf("known difference %s is no case of testdata/jsoncompat", name)
		}
	}
	des, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	if fixturesSeen != len(des) || fixturesSeen == 0 {
		t.Errorf("%d fixtures compared, %s has %d files", fixturesSeen, fixtures, len(des))
	}
	t.Logf("%d cases, %d fixtures, %d known differences", len(names), fixturesSeen, len(knownDifferences))
}

// TestExperiments checks how JSONv2 merges with the user's GOEXPERIMENT.
func TestExperiments(t *testing.T) {
	for _, c := range []struct {
		user   string
		jsonv2 bool
		want   string
	}{
		{"", false, ""},
		{"", true, "jsonv2"},
		{"greenteagc", false, "greenteagc"},
		{"greenteagc", true, "greenteagc,jsonv2"},
		{"nojsonv2", true, "nojsonv2,jsonv2"}, // the last wins
		{"jsonv2", false, "jsonv2"},           // the user's own choice stays
	} {
		if got := experiments(c.user, settingsOf([]Option{JSONv2(c.jsonv2)})); got != c.want {
			t.Errorf("experiments(%q, JSONv2(%v)) = %q, want %q", c.user, c.jsonv2, got, c.want)
		}
	}
}
