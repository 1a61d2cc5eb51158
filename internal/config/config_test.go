package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/eventsource"
)

// workspace makes a directory with the files the test configs point at,
// and makes it the working directory, so that configs parsed as
// "ferry.yaml" resolve against it and messages say "ferry.yaml:N:".
func workspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"build", "hello", "src"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"build/hello.wasm", "other.wasm", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("\x00asm"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	// t.Chdir and t.TempDir can differ by symlinks (macOS /var); paths in
	// results are built from the working directory.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

const fullFile = `# every key
region: eu-west-1
accountId: 000123456789
logFormat: JSON
async:
  queueSize: 500
  spoolDir: .ferry/spool
functions:
  - name: hello
    module: build/hello.wasm
    memory: 256
    timeout: 30
    environment:
      GREETING: hi
      RETRIES: 3
      DEBUG: true
      RATIO: 0.5
      EMPTY: ""
    concurrency: 10
    minInstances: 2
    idleTimeout: 5m
    async:
      maxRetries: 2
      retryDelays: [10s]
      maxEventAge: 1h
      onSuccess: {function: other}
      onFailure: {file: out/failures.jsonl}
    http:
      - path: /hello/{id}
        methods: [get, POST]
        format: rest
        stage: Prod
        binaryMediaTypes: [image/png, "*/*"]
        cors:
          allowOrigins: ["https://example.com"]
          allowMethods: [GET]
          allowHeaders: [content-type]
          exposeHeaders: []
          maxAge: 300
          allowCredentials: true
      - path: /lb/{proxy+}
        methods: [ANY]
        format: alb
        multiValueHeaders: true
      - path: /
    schedule:
      - expression: rate(5 minutes)
        input: {"k": 1, "list": [true, null, 2.5, "x"], "nested": {"b": 2, "a": 1}}
        enabled: false
        name: hello-every-5m
      - expression: cron(0 12 * * ? *)
      - expression: cron(0 8 ? * MON-FRI *)
        input: just text
  - name: other
    source: ./src
    timeout: 1500ms
    idleTimeout: 90
    async:
      maxRetries: 0
      maxEventAge: 60
  - name: third
    source: hello
    async:
      retryDelays: [0s, 3m]
      onFailure: {function: third}
    allowedOutboundHosts: ["https://*.amazonaws.com", "http://127.0.0.1:*"]
    files: src
    ephemeralStorage: 1024
    environment:
      SECRET: ${FERRY_TEST_SECRET}
      PRICE: $$5 and $HOME
    eventSources:
      - sqs:
          queue: arn:aws:sqs:eu-west-1:000123456789:orders
          batchSize: 100
          maximumBatchingWindow: 2
          functionResponseTypes: [ReportBatchItemFailures]
          maximumConcurrency: 4
          filterCriteria:
            filters:
              - pattern: '{"body":{"kind":["order"]}}'
      - kafka:
          bootstrapServers: [broker-1:9092, broker-2:9092]
          topics: [payments]
          startingPosition: LATEST
          maximumBatchingWindow: 500ms
          onFailure: {topic: payments-dlt}
          sasl: {mechanism: SCRAM-SHA-512, username: ferry, password: "${FERRY_TEST_SECRET}"}
      - rabbitmq:
          url: amqp://ferry:${FERRY_TEST_SECRET}@rabbit:5672/
          queue: jobs
          virtualHost: prod
    build: {jsonv2: true}
`

func TestParseFullFile(t *testing.T) {
	dir := workspace(t)
	t.Setenv("FERRY_TEST_SECRET", "s3cr3t")
	if _, err := Load("ferry.yaml"); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	if err := os.WriteFile("ferry.yaml", []byte(fullFile), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load("ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Schedules are compared by expression, then left out.
	var exprs []string
	for _, fn := range f.Functions {
		for i := range fn.Schedules {
			s := &fn.Schedules[i]
			if s.Schedule == nil || s.Schedule.String() != s.Expression {
				t.Errorf("%s: schedule %q parsed as %v", fn.Name, s.Expression, s.Schedule)
			}
			exprs = append(exprs, s.Expression)
			s.Schedule = nil
		}
	}
	if want := []string{"rate(5 minutes)", "cron(0 12 * * ? *)", "cron(0 8 ? * MON-FRI *)"}; !reflect.DeepEqual(exprs, want) {
		t.Errorf("expressions = %q, want %q", exprs, want)
	}
	want := &File{
		Path:      "ferry.yaml",
		Region:    "eu-west-1",
		AccountID: "000123456789",
		LogFormat: "JSON",
		Async:     Async{QueueSize: 500, SpoolDir: filepath.Join(dir, ".ferry/spool")},
		Functions: []Function{
			{
				Name:         "hello",
				Module:       filepath.Join(dir, "build/hello.wasm"),
				Memory:       256,
				Timeout:      30 * time.Second,
				IdleTimeout:  5 * time.Minute,
				Environment:  map[string]string{"GREETING": "hi", "RETRIES": "3", "DEBUG": "true", "RATIO": "0.5", "EMPTY": ""},
				Files:        filepath.Join(dir, "build"),
				Concurrency:  10,
				MinInstances: 2,
				AsyncConfig: FunctionAsync{
					RetryDelays: []time.Duration{10 * time.Second, 2 * time.Minute},
					MaxEventAge: time.Hour,
					OnSuccess:   Destination{Function: "other"},
					OnFailure:   Destination{File: filepath.Join(dir, "out/failures.jsonl")},
				},
				HTTP: []HTTPRoute{
					{
						Path: "/hello/{id}", Methods: []string{"GET", "POST"}, Format: "rest", Stage: "Prod",
						BinaryMediaTypes: []string{"image/png", "*/*"},
						CORS: &events.CORS{
							AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"GET"},
							AllowHeaders: []string{"content-type"}, ExposeHeaders: []string{},
							MaxAge: 300, AllowCredentials: true,
						},
						Line: 29,
					},
					{Path: "/lb/{proxy+}", Format: "alb", MultiValueHeaders: true, Line: 41},
					{Path: "/", Format: "http-api", Line: 45},
				},
				Schedules: []ScheduleTrigger{
					{Name: "hello-every-5m", Expression: "rate(5 minutes)", Input: []byte(`{"k":1,"list":[true,null,2.5,"x"],"nested":{"b":2,"a":1}}`), Enabled: false, Line: 47},
					{Name: "hello-schedule-2", Expression: "cron(0 12 * * ? *)", Enabled: true, Line: 51},
					{Name: "hello-schedule-3", Expression: "cron(0 8 ? * MON-FRI *)", Input: []byte(`"just text"`), Enabled: true, Line: 52},
				},
				Line: 9,
			},
			{
				Name:        "other",
				Source:      filepath.Join(dir, "src"),
				Timeout:     1500 * time.Millisecond,
				IdleTimeout: 90 * time.Second,
				AsyncConfig: FunctionAsync{RetryDelays: []time.Duration{}, MaxEventAge: time.Minute},
				Files:       filepath.Join(dir, "src"),
				Line:        54,
			},
			{
				Name:   "third",
				Source: filepath.Join(dir, "hello"),
				Build:  Build{JSONv2: true},
				AsyncConfig: FunctionAsync{
					RetryDelays: []time.Duration{0, 3 * time.Minute},
					OnFailure:   Destination{Function: "third"},
				},
				AllowedOutboundHosts: []string{"https://*.amazonaws.com", "http://127.0.0.1:*"},
				Files:                filepath.Join(dir, "src"),
				EphemeralStorage:     1024,
				Environment:          map[string]string{"SECRET": "s3cr3t", "PRICE": "$5 and $HOME"},
				// Event sources keep their ${NAME} references until they start.
				EventSources: []EventSource{
					{SQS: &eventsource.SQS{Queue: "arn:aws:sqs:eu-west-1:000123456789:orders", BatchSize: 100, MaximumBatchingWindow: eventsource.Window(2 * time.Second),
						FunctionResponseTypes: []string{"ReportBatchItemFailures"}, MaximumConcurrency: 4,
						FilterCriteria: eventsource.FilterCriteria{Filters: []eventsource.Filter{{Pattern: `{"body":{"kind":["order"]}}`}}}}, Line: 73},
					{Kafka: &eventsource.Kafka{BootstrapServers: []string{"broker-1:9092", "broker-2:9092"}, Topics: []string{"payments"}, StartingPosition: "LATEST",
						MaximumBatchingWindow: eventsource.Window(500 * time.Millisecond), OnFailure: &eventsource.KafkaDestination{Topic: "payments-dlt"},
						SASL: &eventsource.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: "ferry", Password: "${FERRY_TEST_SECRET}"}}, Line: 82},
					{RabbitMQ: &eventsource.RabbitMQ{URL: "amqp://ferry:${FERRY_TEST_SECRET}@rabbit:5672/", Queue: "jobs", VirtualHost: "prod"}, Line: 89},
				},
				Line: 61,
			},
		},
	}
	if !reflect.DeepEqual(f, want) {
		for i := range min(len(f.Functions), len(want.Functions)) {
			if !reflect.DeepEqual(f.Functions[i], want.Functions[i]) {
				t.Errorf("functions[%d] =\n%+v\nwant\n%+v", i, f.Functions[i], want.Functions[i])
			}
		}
		f.Functions, want.Functions = nil, nil
		if !reflect.DeepEqual(f, want) {
			t.Errorf("file =\n%+v\nwant\n%+v", f, want)
		}
	}
	// Lambda's own defaults are left to the caller: zero, and nil retries.
	if f.Functions != nil && f.Functions[0].AsyncConfig.RetryDelays == nil {
		t.Error("explicit retry settings came back nil")
	}
}

func TestParseDefaults(t *testing.T) {
	dir := workspace(t)
	t.Setenv("AWS_REGION", "ap-south-1")
	f, err := Parse("ferry.yaml", []byte("functions:\n  - name: a\n    module: other.wasm\n    http: [{path: /a}]\n    schedule: [{expression: rate(1 hour)}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	fn := f.Functions[0]
	if f.Region != "ap-south-1" || f.AccountID != "" || f.LogFormat != "" || f.Async != (Async{}) {
		t.Errorf("file defaults: %+v", f)
	}
	if fn.Module != filepath.Join(dir, "other.wasm") || fn.Memory != 0 || fn.Timeout != 0 || fn.Environment != nil ||
		fn.AsyncConfig.RetryDelays != nil || !fn.AsyncConfig.OnFailure.IsZero() {
		t.Errorf("function defaults: %+v", fn)
	}
	if r := fn.HTTP[0]; r.Format != events.FormatHTTPAPI || r.Methods != nil || r.CORS != nil {
		t.Errorf("route defaults: %+v", r)
	}
	if s := fn.Schedules[0]; !s.Enabled || s.Name != "a-schedule-1" || s.Input != nil || s.Schedule.Interval() != time.Hour {
		t.Errorf("schedule defaults: %+v", s)
	}

	t.Setenv("AWS_REGION", "")
	if f, err = Parse("ferry.yaml", []byte("functions: [{name: a, module: other.wasm}]")); err != nil {
		t.Fatal(err)
	}
	if f.Region != "us-east-1" {
		t.Errorf("region = %q, want us-east-1", f.Region)
	}
}

// Relative paths start from the config file's directory, not the working
// directory.
func TestParseRelativeToFile(t *testing.T) {
	dir := workspace(t)
	t.Chdir(t.TempDir())
	f, err := Load(filepath.Join(dir, "ferry.yaml.missing"))
	if err == nil {
		t.Fatalf("Load of a missing file = %+v", f)
	}
	path := filepath.Join(dir, "ferry.yaml")
	if f, err = Parse(path, []byte("functions: [{name: a, source: ./src, async: {onFailure: {file: f.jsonl}}}]")); err != nil {
		t.Fatal(err)
	}
	if got := f.Functions[0]; got.Source != filepath.Join(dir, "src") || got.AsyncConfig.OnFailure.File != filepath.Join(dir, "f.jsonl") {
		t.Errorf("paths: %+v", got)
	}
	_, err = Parse(path, []byte("functions:\n  - name: a\n    module: nope.wasm\n"))
	if want := path + ":3: functions[0] (a): module: nope.wasm does not exist (looked for " + filepath.Join(dir, "nope.wasm") + ")"; err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	dir := workspace(t)
	const head = "functions:\n  - name: hello\n    module: build/hello.wasm\n" // lines 1-3
	for _, c := range []struct {
		name, yaml string
		want       []string // whole lines, $DIR for the workspace
	}{
		{"unknown nested key", head + "    http:\n      - path: /hello\n        cors:\n          allowOrigin: ['*']\n",
			[]string{`ferry.yaml:7: functions[0] (hello): http[0]: cors: unknown key "allowOrigin"; did you mean "allowOrigins"? (want one of allowOrigins, allowMethods, allowHeaders, exposeHeaders, maxAge, allowCredentials)`}},
		{"unknown top-level key", "Functions: []\n",
			[]string{
				`ferry.yaml:1: unknown key "Functions"; did you mean "functions"? (want one of region, accountId, logFormat, async, functions, azureApps, kubernetes)`,
				`ferry.yaml:1: functions: missing; the file needs at least one function or Azure app`,
			}},
		{"SAM key", head + "    MemorySize: 256\n",
			[]string{`ferry.yaml:4: functions[0] (hello): unknown key "MemorySize"; did you mean "memory"? (want one of name, module, source, build, memory, timeout, environment, concurrency, minInstances, spareInstances, primeEvent, idleTimeout, async, http, schedule, allowedOutboundHosts, files, ephemeralStorage, eventSources)`}},
		{"event sources", head + "    eventSources:\n      - sqs: {queue: 'not a queue', batchSize: 20}\n      - kafka: {topics: [t], bootstrap: [b:9092]}\n      - rabbitmq: {url: 'amqp://${FERRY_UNSET_VARIABLE}@h/', queue: q}\n      - sqs: {queue: 'arn:aws:sqs:us-east-1:1:q'}\n        kafka: {topics: [t]}\n      - rabbitmq: {url: 'amqp://h/', queue: q, filterCriteria: {filters: [{pattern: '{\"data\": \"x\"}'}]}}\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): eventSources[0]: sqs queue "not a queue": neither a queue URL nor an ARN`,
				`ferry.yaml:6: functions[0] (hello): eventSources[1]: kafka: unknown key "bootstrap" (want one of bootstrapServers, topics, consumerGroupId, startingPosition, batchSize, maximumBatchingWindow, maximumRetryAttempts, onFailure, sasl, tls, filterCriteria, eventSourceArn)`,
				`ferry.yaml:7: functions[0] (hello): eventSources[2]: rabbitmq: ${FERRY_UNSET_VARIABLE} is not set in ferry's environment`,
				`ferry.yaml:8: functions[0] (hello): eventSources[3]: want exactly one of sqs, kafka, rabbitmq`,
				`ferry.yaml:10: functions[0] (hello): eventSources[4]: rabbitmq q: filterCriteria.filters[0].pattern: data: match values must be in an array, e.g. ["x"]`,
			}},
		{"build of a module", head + "    build: {jsonv2: true}\n",
			[]string{`ferry.yaml:4: functions[0] (hello): build: a compiled module is not built; build: applies to Go source only`}},
		{"build keys", "functions:\n  - name: hello\n    source: src\n    build:\n      jsonV2: true\n  - name: two\n    source: src\n    build: {jsonv2: yes please}\n  - name: three\n    source: src\n    build: jsonv2\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): build: unknown key "jsonV2"; did you mean "jsonv2"? (want one of jsonv2)`,
				`ferry.yaml:8: functions[1] (two): build: jsonv2: want true or false, got the string "yes please"`,
				`ferry.yaml:11: functions[2] (three): build: want a mapping with keys jsonv2, got the string "jsonv2"`,
			}},
		{"host without scheme", head + "    allowedOutboundHosts: [example.com, 'https://*']\n",
			[]string{`ferry.yaml:4: functions[0] (hello): allowedOutboundHosts[0]: "example.com" has no scheme: write scheme://host[:port], e.g. https://example.com`}},
		{"host with path", head + "    allowedOutboundHosts:\n      - https://example.com/api\n      - ftp://example.com\n      - https://a.*.com\n      - http://x:99999\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): allowedOutboundHosts[0]: "https://example.com/api": only scheme://host[:port]; no path, query or user`,
				`ferry.yaml:6: functions[0] (hello): allowedOutboundHosts[1]: "ftp://example.com": scheme "ftp" is not http, https or *`,
				`ferry.yaml:7: functions[0] (hello): allowedOutboundHosts[2]: "https://a.*.com": * may only be the whole host or its first label (*.example.com)`,
				`ferry.yaml:8: functions[0] (hello): allowedOutboundHosts[3]: "http://x:99999": port "99999" is not a number from 1 to 65535 or *`,
			}},
		{"allowedOutboundHosts not a list", head + "    allowedOutboundHosts: https://example.com\n",
			[]string{`ferry.yaml:4: functions[0] (hello): allowedOutboundHosts: want a list, got the string "https://example.com"`}},
		{"missing files", head + "    files: ./assets\n",
			[]string{`ferry.yaml:4: functions[0] (hello): files: directory ./assets does not exist (looked for $DIR/assets)`}},
		{"files is a file", head + "    files: notes.txt\n",
			[]string{`ferry.yaml:4: functions[0] (hello): files: notes.txt is not a directory`}},
		{"ephemeral storage", head + "    ephemeralStorage: 256\n",
			[]string{`ferry.yaml:4: functions[0] (hello): ephemeralStorage: 256 is below Lambda's minimum of 512 MB`}},
		{"unset variable", head + "    environment:\n      TOKEN: Bearer ${FERRY_TEST_UNSET_VARIABLE}\n      BAD: ${not-a-name}\n      OPEN: ${HOME\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): environment: TOKEN: ${FERRY_TEST_UNSET_VARIABLE} is not set in ferry's environment`,
				`ferry.yaml:6: functions[0] (hello): environment: BAD: "${not-a-name}": ${not-a-name} is not a variable name`,
				`ferry.yaml:7: functions[0] (hello): environment: OPEN: "${HOME": unclosed ${`,
			}},
		{"wrong type", head + "    memory: big\n",
			[]string{`ferry.yaml:4: functions[0] (hello): memory: want an integer, got the string "big"`}},
		{"wrong type: list for mapping", head + "    async: [1]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): async: want a mapping with keys maxRetries, retryDelays, maxEventAge, onSuccess, onFailure, got a list`}},
		{"wrong type: functions", "functions: {name: hello}\n",
			[]string{`ferry.yaml:1: functions: want a list, got a mapping`}},
		{"duplicate key", head + "    memory: 256\n    memory: 512\n",
			[]string{`ferry.yaml:5: functions[0] (hello): duplicate key memory (first at line 4)`}},
		{"duplicate function name", head + "  - name: hello\n    module: other.wasm\n",
			[]string{`ferry.yaml:4: functions[1] (hello): name: "hello" is already the name of the function at line 2`}},
		{"bad function name", "functions:\n  - name: hello world\n    module: other.wasm\n",
			[]string{`ferry.yaml:2: functions[0] (hello world): name: "hello world" is not a valid function name (1 to 64 letters, digits, - and _)`}},
		{"missing name", "functions:\n  - module: other.wasm\n",
			[]string{`ferry.yaml:2: functions[0]: name: missing`}},
		{"duplicate route", head + "    http: [{path: '/a/{id}', methods: [GET, POST]}]\n  - name: other\n    module: other.wasm\n    http:\n      - path: /a/{name}\n        methods: [post]\n",
			[]string{`ferry.yaml:8: functions[1] (other): http[0]: POST /a/{name} is already routed to function hello (line 4)`}},
		{"duplicate ANY route", head + "    http: [{path: /x}, {path: /x, format: rest}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[1]: ANY /x is already routed to function hello (line 4)`}},
		{"missing module", "functions:\n  - name: hello\n    module: build/nope.wasm\n",
			[]string{`ferry.yaml:3: functions[0] (hello): module: build/nope.wasm does not exist (looked for $DIR/build/nope.wasm)`}},
		{"module is a directory", "functions:\n  - name: hello\n    module: build\n",
			[]string{`ferry.yaml:3: functions[0] (hello): module: build is a directory; a Go handler directory goes under source:`}},
		{"missing source", "functions:\n  - name: hello\n    source: ./nope\n",
			[]string{`ferry.yaml:3: functions[0] (hello): source: directory ./nope does not exist (looked for $DIR/nope)`}},
		{"source is a file", "functions:\n  - name: hello\n    source: notes.txt\n",
			[]string{`ferry.yaml:3: functions[0] (hello): source: notes.txt is not a directory; a compiled module goes under module:`}},
		{"module and source", head + "    source: ./hello\n",
			[]string{`ferry.yaml:4: functions[0] (hello): module and source are both set; give one: a compiled .wasm module or a Go handler directory`}},
		{"neither module nor source", "functions:\n  - name: hello\n    memory: 128\n",
			[]string{`ferry.yaml:2: functions[0] (hello): neither module nor source is set; give one: a compiled .wasm module or a Go handler directory`}},
		{"bad schedule", head + "    schedule:\n      - expression: rate(5 minute)\n",
			[]string{`ferry.yaml:5: functions[0] (hello): schedule[0]: expression: rate(5 minute): unit must be plural for a value above 1: rate(5 minutes)`}},
		{"bad cron", head + "    schedule:\n      - expression: cron(0 12 * * * *)\n",
			[]string{`ferry.yaml:5: functions[0] (hello): schedule[0]: expression: cron(0 12 * * * *): day-of-month and day-of-week cannot both be specified; use ? in one`}},
		{"schedule without expression", head + "    schedule:\n      - enabled: true\n",
			[]string{`ferry.yaml:5: functions[0] (hello): schedule[0]: expression: missing; want rate(...) or cron(...)`}},
		{"duplicate rule name", head + "    schedule:\n      - expression: rate(1 day)\n        name: nightly\n  - name: other\n    module: other.wasm\n    schedule:\n      - expression: rate(2 days)\n        name: nightly\n",
			[]string{`ferry.yaml:11: functions[1] (other): schedule[0]: rule name nightly is already used by function hello (line 5)`}},
		{"bad duration", head + "    timeout: 5 minutes\n",
			[]string{`ferry.yaml:4: functions[0] (hello): timeout: want a duration like 30s, 500ms or 5m, or a number of seconds; got the string "5 minutes"`}},
		{"timeout too long", head + "    timeout: 901\n",
			[]string{`ferry.yaml:4: functions[0] (hello): timeout: 15m1s is above Lambda's maximum of 15m`}},
		{"timeout too short", head + "    timeout: 500ms\n",
			[]string{`ferry.yaml:4: functions[0] (hello): timeout: 500ms is below Lambda's minimum of 1s`}},
		{"memory too small", head + "    memory: 99\n",
			[]string{`ferry.yaml:4: functions[0] (hello): memory: 99 is below Lambda's minimum of 128 MB`}},
		{"memory too large", head + "    memory: 10241\n",
			[]string{`ferry.yaml:4: functions[0] (hello): memory: 10241 is above Lambda's maximum of 10240 MB`}},
		{"concurrency", head + "    concurrency: 0\n",
			[]string{`ferry.yaml:4: functions[0] (hello): concurrency: 0 is below the minimum of 1`}},
		{"minInstances above concurrency", head + "    concurrency: 2\n    minInstances: 3\n",
			[]string{`ferry.yaml:5: functions[0] (hello): minInstances: 3 is above concurrency (2)`}},
		{"spareInstances above concurrency", head + "    concurrency: 2\n    spareInstances: 3\n",
			[]string{`ferry.yaml:5: functions[0] (hello): spareInstances: 3 is above concurrency (2)`}},
		{"primeEvent missing", head + "    primeEvent: events/none.json\n",
			[]string{`ferry.yaml:4: functions[0] (hello): primeEvent: events/none.json cannot be read (looked for $DIR/events/none.json)`}},
		{"primeEvent not JSON", head + "    primeEvent: notes.txt\n",
			[]string{`ferry.yaml:4: functions[0] (hello): primeEvent: notes.txt is not JSON`}},
		{"environment not string to string", head + "    environment:\n      A: [1, 2]\n      B:\n      1: y\n      2X: y\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): environment: A: want a string, got a list`,
				`ferry.yaml:6: functions[0] (hello): environment: B: want a string, got null; write "" for an empty value`,
				`ferry.yaml:7: functions[0] (hello): environment: the integer 1 is not a valid variable name (a letter, then letters, digits and _)`,
				`ferry.yaml:8: functions[0] (hello): environment: the string "2X" is not a valid variable name (a letter, then letters, digits and _)`,
			}},
		{"environment list", head + "    environment: [A=1]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): environment: want a mapping of names to values, got a list`}},
		{"path without slash", head + "    http: [{path: hello}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[0]: path: "hello" does not start with "/"`}},
		{"greedy path not last", head + "    http: [{path: '/a/{proxy+}/b'}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[0]: path: "/a/{proxy+}/b" has "{proxy+}" before the end: a greedy parameter must be the last segment`}},
		{"partial segment parameter", head + "    http: [{path: '/a/x{id}'}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[0]: path: "/a/x{id}" has "x{id}": a path parameter must be a whole segment, like /{id}`}},
		{"bad format", head + "    http: [{path: /a, format: http}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[0]: format: "http" is not one of rest, http-api, function-url, alb`}},
		{"bad method", head + "    http: [{path: /a, methods: [FETCH]}]\n",
			[]string{`ferry.yaml:4: functions[0] (hello): http[0]: methods: "FETCH" is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or ANY)`}},
		{"API key on http-api", head + "    http:\n      - path: /a\n        apiKeyRequired: true\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: apiKeyRequired: only applies to format rest (a REST API's API keys), and this route's format is http-api`}},
		{"authorizer on rest", head + "    http:\n      - path: /a\n        format: rest\n        authorizer: {jwt: {issuer: i, audience: [a], jwks: k.json}}\n",
			[]string{`ferry.yaml:7: functions[0] (hello): http[0]: authorizer: only applies to format http-api (an HTTP API's JWT authorizer), and this route's format is rest`}},
		{"authorizer without keys", head + "    http:\n      - path: /a\n        authorizer: {jwt: {issuer: i, audience: [a]}}\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: authorizer: jwt: needs jwksUri (the issuer's JWKS URL) or jwks (a JWKS file)`}},
		{"authorizer without audience", head + "    http:\n      - path: /a\n        authorizer: {jwt: {issuer: i, audience: [], jwksUri: 'https://i/jwks'}}\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: authorizer: jwt: audience: needs at least one non-empty audience (the tokens' aud or client_id)`}},
		{"authorizer jwksUri not a URL", head + "    http:\n      - path: /a\n        authorizer: {jwt: {issuer: i, audience: [a], jwksUri: 'file:///etc/passwd'}}\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: authorizer: jwt: jwksUri: "file:///etc/passwd" is not an http(s) URL`}},
		{"alb-only key on http-api", head + "    http:\n      - path: /a\n        multiValueHeaders: true\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: multiValueHeaders: only applies to format alb, and this route's format is http-api`}},
		{"credentials with any origin", head + "    http:\n      - path: /a\n        cors: {allowOrigins: ['*'], allowCredentials: true}\n",
			[]string{`ferry.yaml:6: functions[0] (hello): http[0]: cors: allowCredentials: true cannot be combined with allowOrigins "*"; list the origins`}},
		{"destination to unknown function", head + "    async:\n      onFailure: {function: nope}\n",
			[]string{`ferry.yaml:5: functions[0] (hello): async: onFailure: function "nope" is not declared in this file`}},
		{"destination with two targets", head + "    async:\n      onSuccess:\n        function: hello\n        file: out.jsonl\n",
			[]string{`ferry.yaml:7: functions[0] (hello): async: onSuccess: function and file are both set; give one`}},
		{"retries out of range", head + "    async:\n      maxRetries: 3\n      maxEventAge: 30s\n",
			[]string{
				`ferry.yaml:5: functions[0] (hello): async: maxRetries: 3 is not between 0 and 2 (Lambda's range)`,
				`ferry.yaml:6: functions[0] (hello): async: maxEventAge: 30s is below Lambda's minimum of 1m`,
			}},
		{"more delays than retries", head + "    async:\n      maxRetries: 1\n      retryDelays: [1m, 2m]\n",
			[]string{`ferry.yaml:6: functions[0] (hello): async: retryDelays: 2 delays for 1 retries`}},
		{"bad log format and region", "region: Europe\nlogFormat: json\n" + head,
			[]string{
				`ferry.yaml:1: region: "Europe" is not a region name like us-east-1`,
				`ferry.yaml:2: logFormat: "json" is not Text or JSON`,
			}},
		{"yaml syntax", head + "    memory: [1,\n",
			[]string{`ferry.yaml:4: did not find expected node content`}},
		{"empty file", "# nothing\n",
			[]string{`ferry.yaml: the file is empty; it needs at least a functions list`}},
		{"two documents", head + "---\nregion: us-east-1\n",
			[]string{`ferry.yaml:4: only one YAML document is allowed`}},
		{"every error at once, in line order", "functions:\n  - name: hello\n    module: build/hello.wasm\n    memory: 99\n    timeout: 0\n    async:\n      onSuccess: {function: ghost}\n    http: [{path: nope}]\n",
			[]string{
				`ferry.yaml:4: functions[0] (hello): memory: 99 is below Lambda's minimum of 128 MB`,
				`ferry.yaml:5: functions[0] (hello): timeout: 0s is below Lambda's minimum of 1s`,
				`ferry.yaml:7: functions[0] (hello): async: onSuccess: function "ghost" is not declared in this file`,
				`ferry.yaml:8: functions[0] (hello): http[0]: path: "nope" does not start with "/"`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("ferry.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if f != nil {
				t.Errorf("Parse returned a file with its error")
			}
			want := strings.ReplaceAll(strings.Join(c.want, "\n"), "$DIR", dir)
			if err.Error() != want {
				t.Errorf("error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestSamplesConfig(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "samples", "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	samples, err := filepath.Abs(filepath.Join("..", "..", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Function{}
	for _, fn := range f.Functions {
		byName[fn.Name] = fn
		if fn.Source != filepath.Join(samples, fn.Name) || fn.Module != "" {
			t.Errorf("%s: source %q, module %q", fn.Name, fn.Source, fn.Module)
		}
	}
	for _, name := range []string{"hello", "apigw-rest", "http-api", "sqs-batch", "s3-object", "errors", "fetch"} {
		if _, ok := byName[name]; !ok {
			t.Errorf("samples/ferry.yaml has no function %s", name)
		}
	}
	if len(byName) != 7 {
		t.Errorf("samples/ferry.yaml declares %d functions, want the 7 Go samples that need nothing outside ferry", len(byName))
	}
	if got, want := byName["fetch"].AllowedOutboundHosts, []string{"http://localhost:8080", "http://127.0.0.1:8080"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fetch allowedOutboundHosts = %q, want %q", got, want)
	}
	routes := func(name string) []string {
		var out []string
		for _, r := range byName[name].HTTP {
			out = append(out, string(r.Format)+" "+r.Path)
		}
		return out
	}
	if got, want := routes("http-api"), []string{"http-api /http-api", "http-api /http-api/{proxy+}", "function-url /url/{proxy+}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("http-api routes = %q, want %q", got, want)
	}
	if got, want := routes("apigw-rest"), []string{"rest /apigw-rest/{proxy+}", "rest /apigw-rest"}; !reflect.DeepEqual(got, want) {
		t.Errorf("apigw-rest routes = %q, want %q", got, want)
	}
	if got := routes("hello"); len(got) != 0 {
		t.Errorf("hello routes = %q, want none (it takes a string, not an HTTP event)", got)
	}
	if s := byName["hello"].Schedules; len(s) != 1 || s[0].Expression != "rate(5 minutes)" || !s[0].Enabled || string(s[0].Input) != `"scheduler"` {
		t.Errorf("hello schedules = %+v", s)
	}
	if d := byName["errors"].AsyncConfig.OnFailure; d.File != filepath.Join(samples, ".ferry", "failures.jsonl") {
		t.Errorf("errors onFailure = %+v", d)
	}
}

// Anchors, aliases and merge keys work, with shared settings kept under a
// top-level x- key.
func TestParseAnchorsAndMerges(t *testing.T) {
	workspace(t)
	const src = `x-defaults:
  fn: &fn
    module: other.wasm
    memory: 512
    environment: &env {STAGE: dev, LEVEL: info}
functions:
  - <<: *fn
    name: a
    memory: 1024
  - name: b
    <<: *fn
    environment:
      <<: *env
      LEVEL: debug
    schedule:
      - expression: rate(2 days)
        input: {<<: *env, extra: 1}
`
	f, err := Parse("ferry.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Functions[0], f.Functions[1]
	if a.Name != "a" || a.Memory != 1024 || !strings.HasSuffix(a.Module, "other.wasm") || a.Environment["STAGE"] != "dev" {
		t.Errorf("a = %+v", a)
	}
	if b.Memory != 512 || !reflect.DeepEqual(b.Environment, map[string]string{"STAGE": "dev", "LEVEL": "debug"}) {
		t.Errorf("b = %+v", b)
	}
	if got := string(b.Schedules[0].Input); got != `{"extra":1,"STAGE":"dev","LEVEL":"info"}` {
		t.Errorf("input = %s", got)
	}

	// An x- key anywhere but the top is still unknown.
	_, err = Parse("ferry.yaml", []byte("functions:\n  - name: a\n    module: other.wasm\n    x-note: hi\n"))
	if err == nil || !strings.HasPrefix(err.Error(), `ferry.yaml:4: functions[0] (a): unknown key "x-note"`) {
		t.Errorf("error = %v", err)
	}
}

func TestParseAzureApps(t *testing.T) {
	dir := workspace(t)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "host.json"), []byte(`{"version":"2.0"}`), 0o644)
	f, err := Parse("ferry.yaml", []byte(`
azureApps:
  - path: app
    module: build/hello.wasm
    environment: {WEBSITE_TIME_ZONE: Europe/Paris}
    memory: 256
    concurrency: 4
    stateDir: state
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []AzureApp{{Path: filepath.Join(dir, "app"), Module: filepath.Join(dir, "build", "hello.wasm"), Environment: map[string]string{"WEBSITE_TIME_ZONE": "Europe/Paris"},
		Memory: 256, Concurrency: 4, StateDir: filepath.Join(dir, "state"), Line: 3}}
	if len(f.Functions) != 0 || !reflect.DeepEqual(f.AzureApps, want) {
		t.Errorf("got %+v\nwant %+v", f.AzureApps, want)
	}
	_, err = Parse("ferry.yaml", []byte(`
azureApps:
  - path: hello
    memory: 64
  - stateDir: x
    keys: {}
  - path: app
    module: missing.wasm
  - path: app
    module: build
  - path: app
    module: build/hello.wasm
    build: {jsonv2: true}
`))
	got := ""
	if err != nil {
		got = err.Error()
	}
	for _, w := range []string{
		"ferry.yaml:3: azureApps[0]: path: hello has no host.json",
		"ferry.yaml:4: azureApps[0]: memory: 64 MB is outside 128 to 10240",
		"ferry.yaml:5: azureApps[1]: path: missing",
		`ferry.yaml:6: azureApps[1]: unknown key "keys"`,
		"ferry.yaml:8: azureApps[2]: module: missing.wasm does not exist",
		"ferry.yaml:10: azureApps[3]: module: build is a directory",
		"ferry.yaml:13: azureApps[4]: build: a compiled module is not built; build: applies to Go source only",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("error %q\nwant it to say %q", got, w)
		}
	}
}

// TestMarshalRoundTrip writes the full file, parsed as a template, back
// with Marshal and parses the result: the same functions, triggers and
// settings come back, so the config `ferry image` and `ferry k8s` write
// serves what the user wrote; ${NAME} references stay references, so no
// secret of the machine that ran them is written out.
func TestMarshalRoundTrip(t *testing.T) {
	workspace(t)
	t.Setenv("FERRY_TEST_SECRET", "s3cr3t")
	want, err := ParseTemplate("ferry.yaml", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cr3t") || !strings.Contains(string(data), "${FERRY_TEST_SECRET}") {
		t.Fatalf("the secret's reference was not kept:\n%s", data)
	}
	got, err := ParseTemplate("ferry.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	sameConfig(t, got, want, data)
}

// sameConfig fails t unless got, parsed from data (written by Marshal),
// is want. Lines differ, Schedule values are compared by expression, and an
// empty list is the same as none.
func sameConfig(t *testing.T, got, want *File, data []byte) {
	t.Helper()
	clear := func(f *File) {
		for i := range f.AzureApps {
			f.AzureApps[i].Line = 0
		}
		for i := range f.Functions {
			fn := &f.Functions[i]
			fn.Line = 0
			for j := range fn.HTTP {
				fn.HTTP[j].Line = 0
				if c := fn.HTTP[j].CORS; c != nil && len(c.ExposeHeaders) == 0 {
					c.ExposeHeaders = nil // an empty list is not written
				}
			}
			for j := range fn.Schedules {
				fn.Schedules[j].Line = 0
				fn.Schedules[j].Schedule = nil
			}
			for j := range fn.EventSources {
				fn.EventSources[j].Line = 0
			}
		}
	}
	clear(want)
	clear(got)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("round trip differs:\n got %s\nwant %s\n%s", g, w, data)
	}
}

// TestMarshalAzureApps: azureApps entries are written back with every key,
// ${NAME} references kept; a file of Azure apps only round-trips too.
func TestMarshalAzureApps(t *testing.T) {
	dir := workspace(t)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "host.json"), []byte(`{"version":"2.0"}`), 0o644)
	t.Setenv("FERRY_TEST_SECRET", "s3cr3t")
	for _, doc := range []string{`
azureApps:
  - path: app
    module: build/hello.wasm
    environment: {TOKEN: "${FERRY_TEST_SECRET}", WEBSITE_TIME_ZONE: Europe/Paris}
    memory: 256
    concurrency: 4
    stateDir: state
    allowedOutboundHosts: ["https://*.example.com"]
  - path: app
    build: {jsonv2: true}
`, `
functions:
  - name: a
    module: other.wasm
azureApps:
  - path: app
`} {
		want, err := ParseTemplate("ferry.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		data, err := Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "s3cr3t") {
			t.Fatalf("the secret was written:\n%s", data)
		}
		got, err := ParseTemplate("ferry.yaml", data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		sameConfig(t, got, want, data)
	}
	f, _ := ParseTemplate("ferry.yaml", []byte("azureApps:\n  - path: app\n    environment: {TOKEN: \"${FERRY_TEST_SECRET}\"}\n"))
	if data, _ := Marshal(f); !strings.Contains(string(data), "${FERRY_TEST_SECRET}") {
		t.Errorf("the reference was not kept:\n%s", data)
	}
}

func TestParseKubernetes(t *testing.T) {
	workspace(t)
	f, err := Parse("ferry.yaml", []byte(`kubernetes:
  name: shop
  namespace: prod
  image: registry.example.com/shop:1.2
  replicas: 3
  autoscaling: {minReplicas: 2, maxReplicas: 8, targetCPU: 60}
  keda: {serverAddress: "http://prometheus.monitoring:9090", threshold: 4, minReplicas: 0, maxReplicas: 20}
functions:
  - name: hello
    module: build/hello.wasm
`))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	want := Kubernetes{Name: "shop", Namespace: "prod", Image: "registry.example.com/shop:1.2", Replicas: 3,
		Autoscaling: Autoscaling{MinReplicas: 2, MaxReplicas: 8, TargetCPU: 60},
		KEDA:        &KEDA{ServerAddress: "http://prometheus.monitoring:9090", Threshold: 4, MinReplicas: &zero, MaxReplicas: 20}, Line: 2}
	if !reflect.DeepEqual(f.Kubernetes, want) {
		t.Fatalf("got %+v, want %+v", f.Kubernetes, want)
	}
	_, err = Parse("ferry.yaml", []byte(`kubernetes:
  name: Shop_1
  replicas: 0
  autoscaling: {minReplicas: 5, maxReplicas: 2, targetCPU: 120}
  keda: {serverAddress: prometheus:9090, minReplicas: -1, replica: 1}
functions:
  - name: hello
    module: build/hello.wasm
`))
	for _, want := range []string{
		`ferry.yaml:2: kubernetes: name: "Shop_1" is not a Kubernetes name`,
		"ferry.yaml:3: kubernetes: replicas: 0 is below the minimum of 1",
		"ferry.yaml:4: kubernetes: autoscaling: minReplicas 5 is above maxReplicas 2",
		"ferry.yaml:4: kubernetes: autoscaling: targetCPU: 120 is above 100",
		`ferry.yaml:5: kubernetes: keda: serverAddress: "prometheus:9090" is not an http:// or https:// URL`,
		"ferry.yaml:5: kubernetes: keda: minReplicas: -1 is negative",
		`ferry.yaml:5: kubernetes: keda: unknown key "replica"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing error %q in:\n%v", want, err)
		}
	}
}

// TestTemplateKeepsUnsetReferences: ferry k8s and ferry image run where the
// pod's secrets are not set; serving the same file without them is an error.
func TestTemplateKeepsUnsetReferences(t *testing.T) {
	dir := workspace(t)
	doc := []byte("functions:\n  - name: a\n    module: build/hello.wasm\n    environment: {TOKEN: \"${FERRY_TEST_UNSET}\"}\n")
	f, err := ParseTemplate(filepath.Join(dir, "ferry.yaml"), doc)
	if err != nil || f.Functions[0].Environment["TOKEN"] != "${FERRY_TEST_UNSET}" {
		t.Fatalf("template: %v %+v", err, f)
	}
	if _, err := Parse(filepath.Join(dir, "ferry.yaml"), doc); err == nil || !strings.Contains(err.Error(), "ferry.yaml:4") {
		t.Fatalf("serving without the variable: %v", err)
	}
}

func TestParseSnapshotKeys(t *testing.T) {
	dir := workspace(t)
	if err := os.WriteFile(filepath.Join(dir, "prime.json"), []byte(`{"warm": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Parse("ferry.yaml", []byte("functions:\n  - name: hello\n    module: build/hello.wasm\n    concurrency: 4\n    spareInstances: 2\n    primeEvent: prime.json\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fn := f.Functions[0]; fn.SpareInstances != 2 || string(fn.PrimeEvent) != `{"warm": true}` {
		t.Fatalf("%+v", fn)
	}
}

// TestAPIKeyRequired: a REST route's apiKeyRequired is parsed and
// written back by Marshal.
func TestAPIKeyRequired(t *testing.T) {
	workspace(t)
	yml := "functions:\n  - name: a\n    module: other.wasm\n    http: [{path: /a, format: rest, apiKeyRequired: true}, {path: /b, format: rest}]\n"
	f, err := ParseTemplate("ferry.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Functions[0].HTTP; !r[0].APIKeyRequired || r[1].APIKeyRequired {
		t.Fatalf("routes: %+v", r)
	}
	data, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseTemplate("ferry.yaml", data)
	if err != nil || !g.Functions[0].HTTP[0].APIKeyRequired || g.Functions[0].HTTP[1].APIKeyRequired {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
}

// TestJWTAuthorizerConfig: an HTTP API route's JWT authorizer is parsed
// (the jwks file resolved against the file's folder) and written back by
// Marshal.
func TestJWTAuthorizerConfig(t *testing.T) {
	workspace(t)
	yml := "functions:\n  - name: a\n    module: other.wasm\n    http:\n" +
		"      - path: /a\n        authorizer:\n          jwt: {issuer: 'https://issuer.test', audience: [x, y], jwksUri: 'https://issuer.test/jwks'}\n          authorizationScopes: [items:read]\n" +
		"      - path: /b\n        authorizer: {jwt: {issuer: i, audience: [x], jwks: keys/jwks.json}}\n"
	f, err := ParseTemplate("ferry.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Functions[0].HTTP[0].JWT, f.Functions[0].HTTP[1].JWT
	if a == nil || a.Issuer != "https://issuer.test" || strings.Join(a.Audience, ",") != "x,y" || a.JWKSURI != "https://issuer.test/jwks" || strings.Join(a.Scopes, ",") != "items:read" {
		t.Fatalf("first: %+v", a)
	}
	if b == nil || !filepath.IsAbs(b.JWKSFile) || !strings.HasSuffix(b.JWKSFile, filepath.Join("keys", "jwks.json")) {
		t.Fatalf("second: %+v", b)
	}
	data, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseTemplate("ferry.yaml", data)
	if err != nil || g.Functions[0].HTTP[0].JWT.JWKSURI != a.JWKSURI || g.Functions[0].HTTP[0].JWT.Scopes[0] != "items:read" || g.Functions[0].HTTP[1].JWT.JWKSFile != b.JWKSFile {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
}

// TestParseAliasBombs: a file whose aliases form a cycle or expand
// without bound is refused with the line of the offending alias (or the
// file), at once, not by running out of time, memory or stack.
func TestParseAliasBombs(t *testing.T) {
	workspace(t)
	laughs := "x-lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf("x-lol%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	laughs += "functions:\n  - name: a\n    module: other.wasm\n    schedule:\n      - expression: rate(1 day)\n        input: {lols: *l9}\n"
	for _, c := range []struct{ name, src, want string }{
		{"alias cycle", "functions: &f\n  - name: a\n    module: other.wasm\n    x: *f\n",
			"ferry.yaml:4: the alias *f is inside the node &f it refers to"},
		{"list cycle", "x-a: &a [1, [2, *a]]\nfunctions:\n  - name: a\n    module: other.wasm\n",
			"ferry.yaml:1: the alias *a is inside the node &a it refers to"},
		{"merge cycle", "x-m: &m\n  memory: 256\n  <<: *m\nfunctions:\n  - <<: *m\n    name: a\n    module: other.wasm\n",
			"ferry.yaml:3: the alias *m is inside the node &m it refers to"},
		{"billion laughs", laughs,
			"ferry.yaml:1: aliases expand the file to more than 1000000 nodes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("ferry.yaml", []byte(c.src))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant %s…", err, c.want)
			}
		})
	}
}

// TestTemplateEventSourcesWithUnsetVariables: ferry image and ferry k8s
// read event sources whose ${NAME} only the pod has; ferry serve does not.
func TestTemplateEventSourcesWithUnsetVariables(t *testing.T) {
	workspace(t)
	yml := []byte("functions:\n  - name: hello\n    module: build/hello.wasm\n    eventSources:\n      - rabbitmq: {url: '${FERRY_TEST_UNSET_URL}', queue: jobs}\n")
	f, err := ParseTemplate("ferry.yaml", yml)
	if err != nil {
		t.Fatal(err)
	}
	if es := f.Functions[0].EventSources; len(es) != 1 || es[0].RabbitMQ.URL != "${FERRY_TEST_UNSET_URL}" {
		t.Errorf("event sources %+v", es)
	}
	if _, err := Parse("ferry.yaml", yml); err == nil || !strings.Contains(err.Error(), "FERRY_TEST_UNSET_URL") {
		t.Errorf("ferry serve's parse: %v", err)
	}
}
