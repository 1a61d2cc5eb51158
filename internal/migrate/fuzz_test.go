package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzTemplate runs ferry migrate over arbitrary templates: it never
// panics or hangs, and every error is bad input that names the template
// (with a line where there is one).
func FuzzTemplate(f *testing.F) {
	for _, name := range []string{"constructs-sam.yaml", "cdk-stack.template.json", "sam-app/template.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "cmd", "ferry", "testdata", "migrate", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(strings.ReplaceAll(string(data), "handler/", "fn/"), "hello-world/", "fn/"))
	}
	f.Add("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn\n      Environment:\n        Variables:\n          A: !If [C, !Ref Fn, !Sub '${AWS::Region}']\nConditions:\n  C: !Not [!Condition C]\n")
	f.Add("Resources:\n  Fn: &a {Type: AWS::Lambda::Function, Properties: {Code: fn, Environment: {Variables: {A: !Join [',', *a]}}}}\n")
	f.Add("Resources:\n  R: {Type: AWS::ApiGateway::Method, Properties: {ResourceId: !Ref R, Integration: {Type: AWS_PROXY, Uri: !GetAtt Fn.Arn}}}\n  Fn: {Type: AWS::Lambda::Function, Properties: {Code: fn}}\n")
	f.Add("Resources:\n  Q: {Type: AWS::SQS::Queue}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn\n      Events:\n        S: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 20, MaximumBatchingWindowInSeconds: 1, FilterCriteria: {Filters: [{Pattern: '{\"body\": [\"x\"]}'}]}}}\n        K: {Type: MSK, Properties: {Stream: arn:aws:kafka:x, Topics: [t], StartingPosition: LATEST}}\n        M: {Type: MQ, Properties: {Broker: arn:aws:mq:x, Queues: [a, b]}}\n")
	dir := f.TempDir()
	for name, data := range map[string]string{"fn/main.go": handlerGo, "fn/go.mod": handlerMod, "sdk/go.mod": "module " + SDKModule + "\n\ngo 1.26.0\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	path := filepath.Join(dir, "template.yaml")
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 8192 {
			return
		}
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(Options{Path: path, SDK: SDK{Dir: filepath.Join(dir, "sdk")}, Overrides: map[string]string{}})
		if err == nil {
			return
		}
		msg := err.Error()
		if !IsBadInput(err) || !(strings.HasPrefix(msg, path) || strings.HasPrefix(msg, "the ferry.yaml written from "+path)) {
			t.Fatalf("not a bad-input error naming the template: %v", err)
		}
	})
}
