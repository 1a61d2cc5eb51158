package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/eventsource"
	"github.com/ferrywasm/ferry/internal/config"
)

// sdkDir is this checkout's guest SDK module, which ported go.mod files
// replace the SDK with ($FERRY_SDK_DIR when set, as for ferry migrate).
func sdkDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FERRY_SDK_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "hostabi", "guest")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		t.Fatalf("the guest SDK module: %v", err)
	}
	return abs
}

const handlerGo = `package main

import (
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func() (string, error) { return "ok", nil })
}
`

const handlerMod = `module example.com/fn

go 1.24

require github.com/aws/aws-lambda-go v1.55.1
`

// writeApp writes files (path → content) under a new directory.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withHandler adds a Go handler module in dir fn/.
func withHandler(files map[string]string) map[string]string {
	files["fn/main.go"] = handlerGo
	files["fn/go.mod"] = handlerMod
	return files
}

func run(t *testing.T, opts Options) *Result {
	t.Helper()
	if opts.SDK == (SDK{}) {
		opts.SDK.Dir = sdkDir(t)
	}
	res, err := Run(opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// loaded parses the ferry.yaml the result would write, as ferry serve
// reads it (but keeping ${NAME} references).
func loaded(t *testing.T, res *Result) *config.File {
	t.Helper()
	f, err := config.ParseTemplate(res.ConfigPath, res.Config)
	if err != nil {
		t.Fatalf("ferry.yaml does not parse: %v\n%s", err, res.Config)
	}
	return f
}

func function(t *testing.T, f *config.File, name string) config.Function {
	t.Helper()
	for _, fn := range f.Functions {
		if fn.Name == name {
			return fn
		}
	}
	t.Fatalf("no function %s in ferry.yaml", name)
	return config.Function{}
}

func TestIntrinsicsResolveToValues(t *testing.T) {
	dir := writeApp(t, withHandler(map[string]string{"template.yaml": `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
  Zones: {Type: CommaDelimitedList, Default: "a, b, c"}
  Size: {Type: Number}
  Password: {Type: String, NoEcho: true}
Mappings:
  Memory: {dev: {Fn: 256}, prod: {Fn: 2048}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref "AWS::Region", eu-west-1]]
  Any: !Or [!Condition IsProd, !Condition Both]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Runtime: provided.al2023
      MemorySize: !FindInMap [Memory, !Ref Env, Fn]
      Timeout: !Ref Size
      Environment:
        Variables:
          REF: !Ref Env
          SUB: !Sub "${Env}/${AWS::Region}/${AWS::AccountId}/${AWS::StackName}/${AWS::Partition}"
          SUB_VARS: !Sub ["${A}-${B}", {A: x, B: !Ref Env}]
          SUB_ESCAPE: !Sub "${!Literal} costs $3"
          JOIN: !Join ["+", [!Ref Env, !Select [2, !Ref Zones]]]
          SPLIT: !Select [1, !Split [":", "p:q:r"]]
          IF: !If [IsProd, big, small]
          AND: !If [Both, "yes", "no"]
          OR: !If [Any, "yes", "no"]
          FN_REF: !Ref Other
          FN_ARN: !GetAtt Other.Arn
          FN_ARN_LONG: {"Fn::GetAtt": [Other, Arn]}
          IMPORT: !ImportValue {"Fn::Sub": "${Env}-table"}
          TABLE: !Ref Table
          SECRET: !Ref Password
          GONE: !If [IsProd, here, !Ref "AWS::NoValue"]
  Other:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: fn, FunctionName: !Sub "other-${Env}"}
  Table:
    Type: AWS::DynamoDB::Table
`}))
	res := run(t, Options{Path: filepath.Join(dir, "template.yaml"), Region: "eu-west-1", AccountID: "111122223333",
		Overrides: map[string]string{"Size": "42"}})
	f := loaded(t, res)
	fn := function(t, f, "Fn")
	want := map[string]string{
		"REF":         "dev",
		"SUB":         "dev/eu-west-1/111122223333/" + filepath.Base(dir) + "/aws",
		"SUB_VARS":    "x-dev",
		"SUB_ESCAPE":  "$${Literal} costs $$3",
		"JOIN":        "dev+c",
		"SPLIT":       "q",
		"IF":          "small",
		"AND":         "yes",
		"OR":          "yes",
		"FN_REF":      "other-dev",
		"FN_ARN":      "arn:aws:lambda:eu-west-1:111122223333:function:other-dev",
		"FN_ARN_LONG": "arn:aws:lambda:eu-west-1:111122223333:function:other-dev",
		"IMPORT":      "${dev_table}",
		"TABLE":       "${Table}",
		"SECRET":      "${Password}",
	}
	for k, v := range want {
		if fn.Environment[k] != v {
			t.Errorf("%s = %q, want %q", k, fn.Environment[k], v)
		}
	}
	if _, ok := fn.Environment["GONE"]; ok {
		t.Errorf("GONE (AWS::NoValue) is set: %q", fn.Environment["GONE"])
	}
	if fn.Memory != 256 || fn.Timeout.Seconds() != 42 {
		t.Errorf("memory %d timeout %v, want 256 and 42s", fn.Memory, fn.Timeout)
	}
	if f.Region != "eu-west-1" || f.AccountID != "111122223333" {
		t.Errorf("region %q account %q", f.Region, f.AccountID)
	}
	// What ferry cannot know is a reference to its environment, each
	// reported with what to set.
	for _, name := range []string{"dev_table", "Table", "Password"} {
		if !hasItem(res, Attention, "set "+name+" in ferry's environment") {
			t.Errorf("no item asks to set %s:\n%s", name, itemsText(res))
		}
	}
	if res.ExitStatus() != 1 {
		t.Errorf("exit status %d, want 1", res.ExitStatus())
	}
}

func hasItem(res *Result, status Status, text string) bool {
	for _, it := range res.Items {
		if it.Status == status && strings.Contains(it.Detail+" "+it.Action, text) {
			return true
		}
	}
	return false
}

func itemsText(res *Result) string {
	var b strings.Builder
	for _, it := range res.Items {
		b.WriteString(string(it.Status) + " " + it.Resource + " [" + it.Type + "]: " + it.Detail + " → " + it.Action + "\n")
	}
	return b.String()
}

func TestBadInputIsExitTwoWithFileLineOrPath(t *testing.T) {
	fn := "\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn\n"
	for _, tc := range []struct {
		name, template string
		overrides      map[string]string
		want           string
	}{
		{"yaml syntax", "Resources:\n  Fn:\n\tType: x\n", nil, "template.yaml:3: found character that cannot start any token"},
		{"unknown ref", "Resources:" + fn + "      Environment:\n        Variables:\n          X: !Ref Nope\n", nil,
			"template.yaml:8: Resources.Fn.Properties.Environment.Variables.X: Ref Nope: no parameter, resource or pseudo parameter is named Nope"},
		{"unknown getatt", "Resources:" + fn + "      Environment:\n        Variables:\n          X: !GetAtt Nope.Arn\n", nil,
			"Fn::GetAtt Nope.Arn: no resource is named Nope"},
		{"unknown sub variable", "Resources:" + fn + "      Environment:\n        Variables:\n          X: !Sub \"a-${Nope}\"\n", nil,
			"Resources.Fn.Properties.Environment.Variables.X: Ref Nope"},
		{"parameter without default", "Parameters:\n  Stage: {Type: String}\nResources:" + fn + "      Environment:\n        Variables:\n          X: !Ref Stage\n", nil,
			"parameter Stage (line 2) has no Default: pass --parameter-overrides Stage=VALUE"},
		{"undecidable condition", "Conditions:\n  C: !Equals [!ImportValue x, y]\nResources:" + fn + "      Environment:\n        Variables:\n          X: !If [C, a, b]\n", nil,
			"cannot decide"},
		{"unknown override", "Resources:" + fn, map[string]string{"Nope": "1"}, "--parameter-overrides: Nope is not a parameter"},
		{"not a template", "name: x\nvalue: 1\n", nil, "is not a SAM or CloudFormation template"},
		{"no CodeUri", "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: go1.x}\n", nil, "CodeUri: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, withHandler(map[string]string{"template.yaml": tc.template}))
			_, err := Run(Options{Path: filepath.Join(dir, "template.yaml"), Overrides: tc.overrides, SDK: SDK{Dir: sdkDir(t)}})
			if err == nil || !IsBadInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (bad input: %v), want one containing %q", err, IsBadInput(err), tc.want)
			}
		})
	}
}

func TestKeepsAFerryYAMLItDidNotWrite(t *testing.T) {
	dir := writeApp(t, withHandler(map[string]string{
		"template.yaml": "Resources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn}}\n",
		"ferry.yaml":    "functions: []\n",
	}))
	_, err := Run(Options{Path: dir, SDK: SDK{Dir: sdkDir(t)}})
	if !IsBadInput(err) || !strings.Contains(err.Error(), "ferry.yaml exists and was not written by ferry migrate") {
		t.Errorf("err = %v", err)
	}
	res := run(t, Options{Path: dir, OutDir: filepath.Join(dir, "ferry")})
	if res.ConfigPath != filepath.Join(dir, "ferry", "ferry.yaml") || !strings.Contains(string(res.Config), "source: ../fn") {
		t.Errorf("-o: %s\n%s", res.ConfigPath, res.Config)
	}
}

func TestDryRunDiffIsExact(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Runtime: go1.x
      Handler: hello
      MemorySize: 256
      Events:
        Get:
          Type: Api
          Properties: {Path: /hello, Method: get}
`,
		"hello/main.go": `// Command hello says hello.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda" // the runtime
)

func main() { lambda.Start(func(ctx context.Context) (string, error) { return "hello", nil }) }
`,
		"hello/go.mod": "module hello\n\ngo 1.24\n\nrequire github.com/aws/aws-lambda-go v1.55.1\n",
	})
	sdk := t.TempDir()
	if err := os.WriteFile(filepath.Join(sdk, "go.mod"), []byte("module "+SDKModule+"\n\ngo 1.26.0\n\nrequire github.com/aws/aws-lambda-go v1.55.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := "github.com/aws/aws-lambda-go v1.55.1 h1:We2cCp4BwqqH/JW+bEEo1FhgG71rslvjfi4y7KmlrR0=\n"
	if err := os.WriteFile(filepath.Join(sdk, "go.sum"), []byte(sum), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, Options{Path: dir, SDK: SDK{Dir: sdk}})
	want := `--- /dev/null
+++ b/ferry.yaml
@@ -0,0 +1,11 @@
+# Written by ferry migrate from template.yaml. Run it with: ferry serve -f ferry.yaml
+region: us-east-1
+functions:
+  - name: Hello
+    source: ./hello
+    memory: 256
+    http:
+      - path: /hello
+        methods: [GET]
+        format: rest
+        stage: Prod
--- a/hello/go.mod
+++ b/hello/go.mod
@@ -1,5 +1,10 @@
 module hello
 
-go 1.24
+go 1.26.0
 
-require github.com/aws/aws-lambda-go v1.55.1
+require (
+	github.com/aws/aws-lambda-go v1.55.1
+	github.com/ferrywasm/ferry/hostabi/guest v0.0.0-00010101000000-000000000000
+)
+
+replace github.com/ferrywasm/ferry/hostabi/guest => SDK
--- /dev/null
+++ b/hello/go.sum
@@ -0,0 +1 @@
+github.com/aws/aws-lambda-go v1.55.1 h1:We2cCp4BwqqH/JW+bEEo1FhgG71rslvjfi4y7KmlrR0=
--- a/hello/main.go
+++ b/hello/main.go
@@ -4,7 +4,7 @@
 import (
 	"context"
 
-	"github.com/aws/aws-lambda-go/lambda" // the runtime
+	"github.com/ferrywasm/ferry/hostabi/guest/lambda" // the runtime
 )
 
 func main() { lambda.Start(func(ctx context.Context) (string, error) { return "hello", nil }) }
`
	got := strings.ReplaceAll(res.Diff(dir), sdk, "SDK")
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	// A dry run writes nothing.
	if _, err := os.Stat(filepath.Join(dir, "ferry.yaml")); !os.IsNotExist(err) {
		t.Errorf("ferry.yaml exists before Write: %v", err)
	}
	if res.ExitStatus() != 0 {
		t.Errorf("exit status %d:\n%s", res.ExitStatus(), itemsText(res))
	}
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"sam": withHandler(map[string]string{"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Events:
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
`}),
		"serverless": withHandler(map[string]string{"serverless.yml": `service: s
provider: {name: aws, runtime: provided.al2023, environment: {A: "${env:A}"}}
functions:
  fn: {handler: bootstrap, events: [{httpApi: "GET /x"}]}
`}),
		"azure": {
			"host.json":           "{}",
			"Hello/function.json": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`,
			"go.mod":              "module example.com/app\n\ngo 1.24\n",
			"handler.go":          "package main\n\nimport \"net/http\"\n\nfunc main() {\n\thttp.ListenAndServe(\":8080\", nil)\n}\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeApp(t, files)
			res := run(t, Options{Path: dir})
			if len(res.Changes) == 0 {
				t.Fatal("the first run changes nothing")
			}
			if err := res.Write(); err != nil {
				t.Fatal(err)
			}
			again := run(t, Options{Path: dir})
			for _, c := range again.Changes {
				t.Errorf("the second run changes %s:\n%s", c.Path, unifiedDiff(c.Path, c.Old, c.New))
			}
		})
	}
}

func TestPortLambdaChangesTheImportOnly(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"grouped with comments",
			"package main\n\nimport (\n\t\"fmt\" // printing\n\n\t// the runtime\n\t\"github.com/aws/aws-lambda-go/lambda\"\n\t\"github.com/aws/aws-lambda-go/events\"\n)\n\nfunc main() { fmt.Println(events.APIGatewayProxyRequest{}); lambda.Start(nil) }\n",
			"package main\n\nimport (\n\t\"fmt\" // printing\n\n\t// the runtime\n\t\"github.com/aws/aws-lambda-go/events\"\n\t\"github.com/ferrywasm/ferry/hostabi/guest/lambda\"\n)\n\nfunc main() { fmt.Println(events.APIGatewayProxyRequest{}); lambda.Start(nil) }\n"},
		{"single line",
			"package main\n\nimport \"github.com/aws/aws-lambda-go/lambda\"\n\nfunc main() {\n\tlambda.Start(nil)\n}\n",
			"package main\n\nimport \"github.com/ferrywasm/ferry/hostabi/guest/lambda\"\n\nfunc main() {\n\tlambda.Start(nil)\n}\n"},
		{"renamed",
			"package main\n\nimport awslambda \"github.com/aws/aws-lambda-go/lambda\"\n\nfunc main() { awslambda.Start(nil) }\n",
			"package main\n\nimport awslambda \"github.com/ferrywasm/ferry/hostabi/guest/lambda\"\n\nfunc main() { awslambda.Start(nil) }\n"},
		{"not a handler", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println() }\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := portLambda("main.go", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPortAzureUndoesTheSamplesPort takes the Azure sample back to the
// classic custom handler it was ported from, and ports it again.
func TestPortAzureUndoesTheSamplesPort(t *testing.T) {
	ported, err := os.ReadFile("../../samples/azure-app/handler.go")
	if err != nil {
		t.Fatal(err)
	}
	classic := strings.Replace(string(ported), "log.Fatal(azfunc.ListenAndServe(", "log.Fatal(http.ListenAndServe(", 1)
	classic = strings.Replace(classic, "\n\n\t\"github.com/ferrywasm/ferry/hostabi/guest/azfunc\"\n", "\n", 1)
	if classic == string(ported) {
		t.Fatal("the sample no longer calls azfunc.ListenAndServe")
	}
	got, err := portAzure("handler.go", []byte(classic))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(ported) {
		t.Errorf("ported:\n%s", unifiedDiff("handler.go", ported, got))
	}
	// When ListenAndServe was net/http's only use, the import goes.
	only := "package main\n\nimport (\n\t\"log\"\n\t\"net/http\"\n)\n\nfunc main() { log.Fatal(http.ListenAndServe(\":8080\", nil)) }\n"
	want := "package main\n\nimport (\n\t\"log\"\n\n\t\"github.com/ferrywasm/ferry/hostabi/guest/azfunc\"\n)\n\nfunc main() { log.Fatal(azfunc.ListenAndServe(\":8080\", nil)) }\n"
	if got, err := portAzure("main.go", []byte(only)); err != nil || string(got) != want {
		t.Errorf("got %v:\n%s\nwant:\n%s", err, got, want)
	}
}

func TestReportSaysWhatIsNotPorted(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Go:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Runtime: provided.al2023
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:deps:1]
      VpcConfig: {SubnetIds: [s-1], SecurityGroupIds: [sg-1]}
      Policies:
        - AWSLambdaBasicExecutionRole
        - DynamoDBCrudPolicy: {TableName: orders}
      Events:
        Queue: {Type: SQS, Properties: {Queue: arn:aws:sqs:us-east-1:123456789012:q}}
        Topic: {Type: SNS, Properties: {Topic: arn:aws:sns:us-east-1:123456789012:t}}
        Stream: {Type: DynamoDB, Properties: {Stream: arn:aws:dynamodb:x, StartingPosition: LATEST}}
        Kin: {Type: Kinesis, Properties: {Stream: arn:aws:kinesis:x, StartingPosition: LATEST}}
        Secured:
          Type: Api
          Properties: {Path: /secure, Method: get, Auth: {Authorizer: MyCognito}}
  Node:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: web, Runtime: nodejs20.x, Handler: index.handler}
  Py:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: s3://bucket/code.zip, Runtime: python3.12, Handler: app.handler}
  Java:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: {Bucket: b, Key: k}, Runtime: java21, Handler: A::handle}
  Image:
    Type: AWS::Serverless::Function
    Properties: {PackageType: Image, ImageUri: repo/app:1}
`,
		"fn/go.mod": handlerMod,
		"fn/main.go": `package main

import (
	"context"
	"net/http"
	"os/exec"
	"unsafe"

	"example.com/fn/db"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	lambda.Start(func(ctx context.Context) error {
		_, _ = config.LoadDefaultConfig(ctx)
		_, _ = http.Get("https://api.example.com/v1/things")
		_ = &http.Transport{}
		db.Open()
		_ = exec.Command("ls")
		_ = unsafe.Sizeof(0)
		return nil
	})
}
`,
		"fn/cgo.go": "package main\n\n// int two() { return 2; }\nimport \"C\"\n",
		// A package of the handler's module is compiled in too.
		"fn/db/db.go": "package db\n\nimport \"net\"\n\nfunc Open() { _, _ = net.Dial(\"tcp\", \"db:5432\") }\n",
	})
	res := run(t, Options{Path: dir})
	for _, want := range []struct {
		status Status
		text   string
	}{
		{Ported, "sqs event source arn:aws:sqs:us-east-1:123456789012:q"},
		{NotSupported, "SNS events are not run by ferry"},
		{NotSupported, "DynamoDB events are not run by ferry"},
		{NotSupported, "Kinesis events are not run by ferry"},
		{Attention, "authorizer MyCognito is not run by ferry"},
		{Attention, "IAM policies are not enforced by ferry: DynamoDBCrudPolicy"},
		{Attention, "layers are not supported"},
		{Ported, "VpcConfig does not apply"},
		{NotSupported, "runtime nodejs20.x: ferry runs Go handlers only, not yet nodejs"},
		{NotSupported, "runtime python3.12: ferry runs Go handlers only, not yet python"},
		{NotSupported, "runtime java21: ferry runs Go handlers only, not yet java"},
		{NotSupported, "a container image function"},
		{Attention, "cgo (import \"C\") cannot be compiled to WebAssembly"},
		{Attention, "os/exec: a WebAssembly module cannot start processes"},
		{Attention, "unsafe: pointers are 32 bits"},
		{Attention, "net.Dial: WebAssembly under WASI has no sockets"},
		{Attention, "config.WithHTTPClient(lambda.HTTPClient())"},
		{Attention, "use lambda.HTTPClient() or lambda.Transport() instead of a new http.Transport"},
		{Attention, "allowedOutboundHosts: [https://api.example.com, https://*.amazonaws.com]"},
	} {
		if !hasItem(res, want.status, want.text) {
			t.Errorf("no %q item says %q:\n%s", want.status, want.text, itemsText(res))
		}
	}
	if res.ExitStatus() != 1 {
		t.Errorf("exit status %d, want 1", res.ExitStatus())
	}
	// The Go function is still served; the others are left out.
	f := loaded(t, res)
	if len(f.Functions) != 1 || f.Functions[0].Name != "Go" || len(f.Functions[0].HTTP) != 1 {
		t.Errorf("functions: %+v", f.Functions)
	}
}

func TestDetectFindsTheTemplateInAProjectFolder(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		kind  string
	}{
		{map[string]string{"template.yml": "Transform: AWS::Serverless-2016-10-31\nResources: {}\n"}, "sam"},
		{map[string]string{"serverless.yml": "service: s\nfunctions: {}\n"}, "serverless"},
		{map[string]string{"cdk.out/App.template.json": `{"Resources": {}}`}, "cloudformation"},
		{map[string]string{"host.json": "{}"}, "azure"},
	} {
		dir := writeApp(t, tc.files)
		_, kind, err := detect(dir)
		if err != nil || kind != tc.kind {
			t.Errorf("%v: kind %q, err %v; want %s", tc.files, kind, err, tc.kind)
		}
	}
	if _, _, err := detect(t.TempDir()); !IsBadInput(err) || !strings.Contains(err.Error(), "holds no template.yaml") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestOpenAPIDefinitionRoutes(t *testing.T) {
	dir := writeApp(t, withHandler(map[string]string{"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: live
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /hello:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
          /extra/{id}:
            post:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
          /mock:
            get:
              x-amazon-apigateway-integration: {type: mock}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Events:
        Hello: {Type: Api, Properties: {Path: /hello, Method: get, RestApiId: !Ref Api}}
`}))
	res := run(t, Options{Path: dir})
	fn := function(t, loaded(t, res), "Fn")
	var routes []string
	for _, r := range fn.HTTP {
		routes = append(routes, strings.Join(r.Methods, ",")+" "+r.Path+" "+string(r.Format)+" "+r.Stage)
	}
	if strings.Join(routes, "; ") != "GET /hello rest live; POST /extra/{id} rest live" {
		t.Errorf("routes: %q", routes)
	}
	if !hasItem(res, NotSupported, "not a Lambda proxy integration") {
		t.Errorf("the mock integration is not reported:\n%s", itemsText(res))
	}
}

// TestQueueEventsBecomeEventSources: SAM's SQS, MSK, SelfManagedKafka and
// MQ events become eventSources in ferry.yaml; what the template cannot
// give (a stack's queue, a cluster's brokers, a broker's URL) becomes a
// ${NAME} reference the report asks to set.
func TestQueueEventsBecomeEventSources(t *testing.T) {
	dir := writeApp(t, withHandler(map[string]string{
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Runtime: provided.al2023
      Handler: bootstrap
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            BatchSize: 50
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 4}
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["order"]}}'
        Payments:
          Type: MSK
          Properties:
            Stream: arn:aws:kafka:us-east-1:123456789012:cluster/pay/abc
            Topics: [payments]
            StartingPosition: LATEST
            AmazonManagedKafkaEventSourceConfig: {ConsumerGroupId: pay-group}
        Clicks:
          Type: SelfManagedKafka
          Properties:
            KafkaBootstrapServers: [b1:9092, b2:9092]
            Topics: [clicks]
            SourceAccessConfigurations: [{Type: SASL_SCRAM_512_AUTH, URI: arn:aws:secretsmanager:us-east-1:123456789012:secret:k}]
        Jobs:
          Type: MQ
          Properties:
            Broker: arn:aws:mq:us-east-1:123456789012:broker:jobs:b-1
            Queues: [jobs, retries]
            BatchSize: 20
`,
	}))
	res := run(t, Options{Path: dir})
	fn := function(t, loaded(t, res), "Worker")
	if len(fn.EventSources) != 5 {
		t.Fatalf("%d event sources, want 5:\n%s", len(fn.EventSources), res.Config)
	}
	var sqs, msk, smk, mq1, mq2 = fn.EventSources[0].SQS, fn.EventSources[1].Kafka, fn.EventSources[2].Kafka, fn.EventSources[3].RabbitMQ, fn.EventSources[4].RabbitMQ
	if sqs == nil || !strings.HasPrefix(sqs.Queue, "${") || sqs.BatchSize != 50 || sqs.MaximumBatchingWindow != eventsource.Window(2*time.Second) ||
		sqs.MaximumConcurrency != 4 || len(sqs.FunctionResponseTypes) != 1 || len(sqs.FilterCriteria.Filters) != 1 {
		t.Errorf("sqs %+v", sqs)
	}
	if msk == nil || msk.EventSourceARN != "arn:aws:kafka:us-east-1:123456789012:cluster/pay/abc" || msk.BootstrapServers[0] != "${WORKER_KAFKA_BROKERS}" ||
		msk.ConsumerGroupID != "pay-group" || msk.StartingPosition != "LATEST" || msk.Topics[0] != "payments" {
		t.Errorf("msk %+v", msk)
	}
	if smk == nil || strings.Join(smk.BootstrapServers, ",") != "b1:9092,b2:9092" || smk.EventSourceARN != "" || smk.Topics[0] != "clicks" {
		t.Errorf("self-managed kafka %+v", smk)
	}
	if mq1 == nil || mq2 == nil || mq1.URL != "${WORKER_RABBITMQ_URL}" || mq1.BatchSize != 20 || mq1.Queue != "jobs" || mq2.Queue != "retries" {
		t.Errorf("mq %+v %+v", mq1, mq2)
	}
	for _, want := range []struct {
		status Status
		text   string
	}{
		{Attention, "set the queue's variable to its URL"},
		{Ported, "kafka event source, topics payments"},
		{Attention, "SourceAccessConfigurations (secrets, VPC) are not read"},
		{Attention, "ferry reads RabbitMQ brokers only"},
	} {
		if !hasItem(res, want.status, want.text) {
			t.Errorf("no %q item says %q:\n%s", want.status, want.text, itemsText(res))
		}
	}
	if !strings.Contains(itemsText(res)+string(res.Config), "WORKER_KAFKA_BROKERS") {
		t.Errorf("the brokers' variable is not reported:\n%s", itemsText(res))
	}
}

// TestServerlessSQSEvent: a serverless.yml sqs event becomes an SQS event
// source; a queue of the stack becomes a ${NAME} to set.
func TestServerlessSQSEvent(t *testing.T) {
	dir := writeApp(t, withHandler(map[string]string{"serverless.yml": `service: s
provider: {name: aws, runtime: provided.al2023}
functions:
  fn:
    handler: bootstrap
    events:
      - sqs: arn:aws:sqs:us-east-1:123456789012:plain
      - sqs:
          arn: {Fn::GetAtt: [Jobs, Arn]}
          batchSize: 25
          maximumBatchingWindow: 3
          functionResponseType: ReportBatchItemFailures
          filterPatterns:
            - body: {kind: [order]}
`}))
	res := run(t, Options{Path: dir})
	fn := function(t, loaded(t, res), "fn")
	if len(fn.EventSources) != 2 {
		t.Fatalf("event sources %+v\n%s", fn.EventSources, res.Config)
	}
	a, b := fn.EventSources[0].SQS, fn.EventSources[1].SQS
	if a.Queue != "arn:aws:sqs:us-east-1:123456789012:plain" {
		t.Errorf("first %+v", a)
	}
	if b.Queue != "${FN_SQS_QUEUE}" || b.BatchSize != 25 || b.MaximumBatchingWindow != eventsource.Window(3*time.Second) ||
		len(b.FunctionResponseTypes) != 1 || len(b.FilterCriteria.Filters) != 1 || b.FilterCriteria.Filters[0].Pattern != `{"body":{"kind":["order"]}}` {
		t.Errorf("second %+v", b)
	}
	if !hasItem(res, Attention, "set FN_SQS_QUEUE to the queue's URL") {
		t.Errorf("items:\n%s", itemsText(res))
	}
}
