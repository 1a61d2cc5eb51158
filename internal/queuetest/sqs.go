package queuetest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The SQS tests run against goaws v0.4.5 (github.com/Admiral-Piett/goaws,
// the SQS-compatible server on the Go module proxy), built with `go
// install` into a temporary directory so it stays out of go.mod.
//
// goaws speaks only SQS's query protocol (Action=ReceiveMessage as a form,
// XML answers). aws-sdk-go-v2's SQS client speaks only the AWS JSON 1.0
// protocol since service/sqs v1.34 (X-Amz-Target: AmazonSQS.ReceiveMessage,
// JSON bodies), so the two cannot talk unchanged. jsonToQuery sits between
// them: it rewrites each JSON request as the query request with the same
// meaning and each XML answer as JSON. It translates wire formats only;
// queues, visibility timeouts, receive counts and redrive to the
// dead-letter queue are goaws's. What goaws v0.4.5 does not do:
// ApproximateReceiveCount stays 1 on redelivery (it counts receives
// elsewhere, for redrive), FIFO attributes (MessageGroupId,
// SequenceNumber) are not returned, and there is no
// ChangeMessageVisibilityBatch (the bridge sends one
// ChangeMessageVisibility per entry).

var (
	goawsOnce sync.Once
	goawsAddr string
	goawsErr  error
)

// SQS returns the endpoint of an SQS server aws-sdk-go-v2 can use, and
// sets static credentials for it in the environment.
func SQS(t testing.TB) string {
	t.Helper()
	goawsOnce.Do(func() { goawsAddr, goawsErr = launchGoaws() })
	if goawsErr != nil {
		t.Fatalf("goaws: %v", goawsErr)
	}
	bridge := httptest.NewServer(&jsonToQuery{backend: "http://" + goawsAddr})
	t.Cleanup(bridge.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	return bridge.URL
}

func launchGoaws() (string, error) {
	dir, err := os.MkdirTemp("", "ferry-goaws-")
	if err != nil {
		return "", err
	}
	install := exec.Command("go", "install", "github.com/Admiral-Piett/goaws/app/cmd@v0.4.5")
	install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=") // a GOFLAGS -mod setting would refuse pkg@version
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install goaws: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	conf := fmt.Sprintf("Local:\n  Host: 127.0.0.1\n  Port: %d\n  Region: us-east-1\n  AccountId: \"123456789012\"\n  LogToFile: false\n  QueueAttributeDefaults:\n    VisibilityTimeout: 30\n    ReceiveMessageWaitTimeSeconds: 0\n", port)
	if err := os.WriteFile(filepath.Join(dir, "goaws.yaml"), []byte(conf), 0o600); err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(dir, "cmd"), "-config", filepath.Join(dir, "goaws.yaml"), "Local")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", err
	}
	AtExit(func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("goaws not answering on %s", addr)
}

// jsonToQuery translates SQS's JSON protocol to its query protocol.
type jsonToQuery struct{ backend string }

func (b *jsonToQuery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, 400, "InvalidRequest", err.Error())
		return
	}
	if action == "ChangeMessageVisibilityBatch" { // goaws has the single call only
		out := map[string]any{"Successful": []any{}, "Failed": []any{}}
		for _, e := range in["Entries"].([]any) {
			e := e.(map[string]any)
			form := url.Values{"Action": {"ChangeMessageVisibility"}, "QueueUrl": {str(in["QueueUrl"])},
				"ReceiptHandle": {str(e["ReceiptHandle"])}, "VisibilityTimeout": {str(e["VisibilityTimeout"])}}
			if _, err := b.call(r, form, nil); err != nil {
				out["Failed"] = append(out["Failed"].([]any), map[string]any{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "Message": err.Error(), "SenderFault": true})
			} else {
				out["Successful"] = append(out["Successful"].([]any), map[string]any{"Id": e["Id"]})
			}
		}
		writeJSON(w, out)
		return
	}
	form := url.Values{"Action": {action}}
	for k, v := range in {
		switch k {
		case "Attributes": // CreateQueue, SetQueueAttributes
			i := 1
			for _, name := range sortedKeys(v.(map[string]any)) {
				form.Set(fmt.Sprintf("Attribute.%d.Name", i), name)
				form.Set(fmt.Sprintf("Attribute.%d.Value", i), str(v.(map[string]any)[name]))
				i++
			}
		case "AttributeNames", "MessageSystemAttributeNames", "MessageAttributeNames":
			for i, n := range v.([]any) {
				form.Set(fmt.Sprintf("AttributeName.%d", i+1), str(n))
			}
		case "MessageAttributes":
			messageAttributes(form, "", v.(map[string]any))
		case "Entries":
			prefix := map[string]string{"DeleteMessageBatch": "DeleteMessageBatchRequestEntry", "SendMessageBatch": "SendMessageBatchRequestEntry"}[action]
			for i, e := range v.([]any) {
				p := fmt.Sprintf("%s.%d.", prefix, i+1)
				for ek, ev := range e.(map[string]any) {
					if ek == "MessageAttributes" {
						messageAttributes(form, p, ev.(map[string]any))
						continue
					}
					form.Set(p+ek, str(ev))
				}
			}
		default:
			form.Set(k, str(v))
		}
	}
	doc, err := b.call(r, form, w)
	if err != nil {
		return
	}
	writeJSON(w, translateResult(action, doc, "http://"+r.Host))
}

func messageAttributes(form url.Values, prefix string, attrs map[string]any) {
	for i, name := range sortedKeys(attrs) {
		a := attrs[name].(map[string]any)
		p := fmt.Sprintf("%sMessageAttribute.%d.", prefix, i+1)
		form.Set(p+"Name", name)
		for _, f := range []string{"DataType", "StringValue", "BinaryValue"} {
			if v, ok := a[f]; ok {
				form.Set(p+"Value."+f, str(v))
			}
		}
	}
}

// xmlNode is a generic XML element.
type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

func (n xmlNode) child(name string) (xmlNode, bool) {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c, true
		}
	}
	return xmlNode{}, false
}

func (n xmlNode) all(name string) []xmlNode {
	var out []xmlNode
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			out = append(out, c)
		}
	}
	return out
}

func (n xmlNode) text(name string) string { c, _ := n.child(name); return strings.TrimSpace(c.Text) }

// call sends the query request; on an error answer it writes the JSON
// error to w (when w is not nil) and returns an error.
func (b *jsonToQuery) call(r *http.Request, form url.Values, w http.ResponseWriter) (xmlNode, error) {
	req, _ := http.NewRequestWithContext(r.Context(), "POST", b.backend+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if w != nil {
			jsonError(w, 500, "InternalError", err.Error())
		}
		return xmlNode{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc xmlNode
	if err := xml.Unmarshal(body, &doc); err != nil || resp.StatusCode >= 300 {
		code, msg := "InternalError", string(body)
		if e, ok := doc.child("Error"); ok {
			code, msg = e.text("Code"), e.text("Message")
		}
		if w != nil {
			status := resp.StatusCode
			if status < 400 {
				status = 500
			}
			jsonError(w, status, code, msg)
		}
		return doc, fmt.Errorf("%s: %s", code, msg)
	}
	return doc, nil
}

func translateResult(action string, doc xmlNode, base string) map[string]any {
	res, _ := doc.child(action + "Result")
	out := map[string]any{}
	switch action {
	case "CreateQueue", "GetQueueUrl":
		u, _ := url.Parse(res.text("QueueUrl"))
		out["QueueUrl"] = base + u.Path
	case "GetQueueAttributes":
		attrs := map[string]string{}
		for _, a := range res.all("Attribute") {
			attrs[a.text("Name")] = a.text("Value")
		}
		out["Attributes"] = attrs
	case "SendMessage":
		for _, f := range []string{"MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "SequenceNumber"} {
			if v := res.text(f); v != "" {
				out[f] = v
			}
		}
	case "ReceiveMessage":
		var msgs []any
		for _, m := range res.all("Message") {
			msg := map[string]any{}
			for _, f := range []string{"MessageId", "ReceiptHandle", "MD5OfBody", "Body", "MD5OfMessageAttributes"} {
				if c, ok := m.child(f); ok {
					msg[f] = c.Text
				}
			}
			attrs := map[string]string{}
			for _, a := range m.all("Attribute") {
				attrs[a.text("Name")] = a.text("Value")
			}
			msg["Attributes"] = attrs
			if mas := m.all("MessageAttribute"); len(mas) > 0 {
				ma := map[string]any{}
				for _, a := range mas {
					v, _ := a.child("Value")
					val := map[string]any{"DataType": v.text("DataType")}
					if s, ok := v.child("StringValue"); ok {
						val["StringValue"] = s.Text
					}
					if s, ok := v.child("BinaryValue"); ok {
						val["BinaryValue"] = strings.TrimSpace(s.Text)
					}
					ma[a.text("Name")] = val
				}
				msg["MessageAttributes"] = ma
			}
			msgs = append(msgs, msg)
		}
		out["Messages"] = msgs
	case "DeleteMessageBatch", "SendMessageBatch":
		var ok, failed []any
		for _, e := range res.all(action + "ResultEntry") {
			entry := map[string]any{}
			for _, c := range e.Children {
				entry[c.XMLName.Local] = c.Text
			}
			ok = append(ok, entry)
		}
		for _, e := range res.all("BatchResultErrorEntry") {
			sf, _ := strconv.ParseBool(e.text("SenderFault"))
			failed = append(failed, map[string]any{"Id": e.text("Id"), "Code": e.text("Code"), "Message": e.text("Message"), "SenderFault": sf})
		}
		out["Successful"], out["Failed"] = ok, failed
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Write(buf.Bytes())
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
