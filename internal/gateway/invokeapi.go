package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"

	"github.com/gorilla/mux"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/hostabi"
)

// maxRequestSize is Lambda's limit on a synchronous invocation's payload.
const maxRequestSize = 6291456

// maxEventSize is Lambda's limit on an asynchronous invocation's payload.
const maxEventSize = 1 << 20

// invokeAPI serves the Lambda Invoke API, so AWS SDKs and the AWS CLI
// (with --endpoint-url) can call ferry's functions:
//
//	POST /2015-03-31/functions/{name}/invocations   Invoke
//	GET  /2015-03-31/functions/                     ListFunctions
//	GET  /2015-03-31/functions/{name}               GetFunction
//
// {name} is a function name, a full or partial ARN, optionally with a
// :qualifier. The Runtime Interface Emulator's route
// (functions/function/invocations) reaches the only function, or the one
// named "function".
type invokeAPI struct {
	functions map[string]*adapter.Function
	queue     *Queue // takes Event invocations; nil refuses them
	// waitLoading, set while functions load, holds a request for one
	// not loaded yet (Server.waitLoading).
	waitLoading func(w http.ResponseWriter, r *http.Request, function string) bool
}

func (api *invokeAPI) register(r *mux.Router) {
	r.HandleFunc("/2015-03-31/functions/{name}/invocations", api.invoke).Methods(http.MethodPost)
	r.HandleFunc("/2015-03-31/functions", api.list).Methods(http.MethodGet)
	r.HandleFunc("/2015-03-31/functions/", api.list).Methods(http.MethodGet)
	r.HandleFunc("/2015-03-31/functions/{name}", api.get).Methods(http.MethodGet)
}

// serviceError writes a Lambda service error: the code in
// x-amzn-ErrorType, the body as the service shapes it (key "Message" or
// "message" depending on the error, as in the contracts note).
func serviceError(w http.ResponseWriter, status int, code, messageKey, message string, extra map[string]string) {
	body := map[string]string{"Type": "User", messageKey: message}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// functionNamePattern is Lambda's pattern for Invoke's FunctionName: a
// name, a partial ARN (account:function:name) or a full ARN, each with an
// optional :qualifier that cannot be empty.
const functionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`

var (
	functionNameRE = regexp.MustCompile(`^` + functionNamePattern + `$`)
	// functionRefRE takes a reference apart: region, account, name,
	// qualifier.
	functionRefRE = regexp.MustCompile(`^(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(\d{12}):function:)?([a-zA-Z0-9-_\.]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`)
)

// lookup resolves a name, ARN or partial ARN plus qualifier to a function.
// A reference Lambda would not accept (a bad pattern, an empty qualifier)
// is a ValidationException; one naming another region or account, or an
// unknown function or qualifier, is ResourceNotFoundException.
func (api *invokeAPI) lookup(w http.ResponseWriter, r *http.Request) (*adapter.Function, bool) {
	ref := mux.Vars(r)["name"]
	qualifier := r.URL.Query().Get("Qualifier")
	m := functionRefRE.FindStringSubmatch(ref)
	if len(ref) > 170 || !functionNameRE.MatchString(ref) || m == nil {
		serviceError(w, http.StatusBadRequest, "ValidationException", "message",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", ref, functionNamePattern), nil)
		return nil, false
	}
	region, account, name, q := m[1], m[2], m[3], m[4]
	if _, set := r.URL.Query()["Qualifier"]; set && qualifier == "" {
		serviceError(w, http.StatusBadRequest, "ValidationException", "message",
			"1 validation error detected: Value '' at 'qualifier' failed to satisfy constraint: Member must have length greater than or equal to 1", nil)
		return nil, false
	}
	if q != "" {
		if qualifier != "" && qualifier != q {
			serviceError(w, http.StatusBadRequest, "InvalidParameterValueException", "message",
				"The derived qualifier from the function name does not match the specified qualifier.", nil)
			return nil, false
		}
		qualifier = q
	}
	f, ok := api.functions[name]
	if !ok && name == "function" && len(api.functions) == 1 && region == "" && account == "" { // RIE's route
		for _, only := range api.functions {
			f, ok = only, true
		}
	}
	if ok {
		cfg := f.Config()
		if (region != "" && region != cfg.Region) || (account != "" && account != cfg.AccountID) {
			ok = false // another region's or account's function is not here
		}
	}
	if !ok && api.waitLoading != nil && api.waitLoading(w, r, name) {
		return nil, false
	}
	if !ok || (qualifier != "" && qualifier != "$LATEST") {
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cmp.Or(region, "us-east-1"), cmp.Or(account, "123456789012"), name)
		if f != nil && region == "" && account == "" {
			cfg := f.Config()
			arn = cfg.ARN()
		}
		if qualifier != "" {
			arn += ":" + qualifier
		}
		serviceError(w, http.StatusNotFound, "ResourceNotFoundException", "Message", "Function not found: "+arn, nil)
		return nil, false
	}
	return f, true
}

func (api *invokeAPI) invoke(w http.ResponseWriter, r *http.Request) {
	f, ok := api.lookup(w, r)
	if !ok {
		return
	}
	kind := r.Header.Get("X-Amz-Invocation-Type")
	switch kind {
	case "", "RequestResponse", "DryRun", "Event":
	default:
		serviceError(w, http.StatusBadRequest, "InvalidParameterValueException", "message",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", kind), nil)
		return
	}
	if kind == "Event" && api.queue == nil && api.waitLoading != nil && api.waitLoading(w, r, "") {
		return // the queue opens once every function is loaded
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
	if err != nil {
		serviceError(w, http.StatusBadRequest, "InvalidRequestContentException", "message", "Could not read request body: "+err.Error(), nil)
		return
	}
	if len(payload) > maxRequestSize {
		serviceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "message",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxRequestSize), nil)
		return
	}
	if len(payload) > 0 && !json.Valid(payload) {
		var v any
		err := json.Unmarshal(payload, &v)
		serviceError(w, http.StatusBadRequest, "InvalidRequestContentException", "message", "Could not parse request body into json: "+err.Error(), nil)
		return
	}
	// X-Amz-Tenant-Id is the tenant of a function with tenant isolation
	// (aws-sdk-go-v2's InvokeInput.TenantId); the handler sees it as
	// lambdacontext's TenantID, on Event invocations too.
	req := &adapter.Request{Payload: payload, TraceID: r.Header.Get("X-Amzn-Trace-Id"), TenantID: r.Header.Get("X-Amz-Tenant-Id")}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		b, err := base64.StdEncoding.DecodeString(cc)
		var obj map[string]json.RawMessage // an object: the guest SDK decodes it into one
		if err != nil || json.Unmarshal(b, &obj) != nil || obj == nil {
			serviceError(w, http.StatusBadRequest, "InvalidRequestContentException", "message", "Client context must be a valid Base64-encoded JSON object.", nil)
			return
		}
		req.ClientContext = b
	}
	if kind == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if kind == "Event" {
		api.enqueue(w, f, req)
		return
	}
	// A function at its concurrency limit throttles at once, as on Lambda.
	ready, cancel := context.WithCancel(r.Context())
	cancel()
	res, err := f.Invoke(ready, req)
	switch {
	case errors.Is(err, adapter.ErrTooManyRequests):
		w.Header().Set("Retry-After", "1")
		serviceError(w, http.StatusTooManyRequests, "TooManyRequestsException", "message", "Rate Exceeded.",
			map[string]string{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})
		return
	case err != nil:
		serviceError(w, http.StatusInternalServerError, "ServiceException", "Message", err.Error(), nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	h.Set("X-Amzn-Requestid", res.RequestID)
	if res.Failed() {
		h.Set("X-Amz-Function-Error", "Unhandled")
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" {
		logs := res.Logs
		if len(logs) > 4096 {
			logs = logs[len(logs)-4096:]
		}
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(logs))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(res.Payload)
}

// enqueue accepts an Event invocation: 202 once it is queued; it runs,
// and is retried, in the background.
func (api *invokeAPI) enqueue(w http.ResponseWriter, f *adapter.Function, req *adapter.Request) {
	if len(req.Payload) > maxEventSize {
		serviceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "message",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxEventSize), nil)
		return
	}
	if api.queue == nil {
		serviceError(w, http.StatusBadRequest, "InvalidParameterValueException", "message",
			"this ferry has no queue for Event (asynchronous) invocations; use RequestResponse", nil)
		return
	}
	req.ClientContext = nil // Lambda passes it on synchronous calls only
	req.Trigger = adapter.TriggerEvent
	id, err := api.queue.Enqueue(f, req)
	switch {
	case errors.Is(err, ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		serviceError(w, http.StatusTooManyRequests, "TooManyRequestsException", "message", "Rate Exceeded.",
			map[string]string{"Reason": "ConcurrentInvocationLimitExceeded"})
		return
	case err != nil:
		serviceError(w, http.StatusServiceUnavailable, "ServiceException", "Message", err.Error(), nil)
		return
	}
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(http.StatusAccepted)
}

// functionConfiguration is the subset of Lambda's FunctionConfiguration
// that describes a ferry function.
type functionConfiguration struct {
	FunctionName string
	FunctionArn  string
	Runtime      string
	Handler      string
	MemorySize   int
	Timeout      int
	Version      string
	State        string
	PackageType  string
	Description  string
	// Environment is left out: its values are often secrets (the
	// README's ${NAME} pattern for keys), and Lambda itself shows them
	// only to callers allowed to decrypt them. ferry.yaml is where a
	// function's environment is read.
}

func configuration(f *adapter.Function) functionConfiguration {
	cfg := f.Config()
	c := functionConfiguration{
		FunctionName: cfg.Name,
		FunctionArn:  cfg.ARN(),
		Runtime:      "provided.al2023",
		Handler:      cfg.Name,
		MemorySize:   cfg.Memory,
		Timeout:      int(cfg.Timeout.Seconds() + 0.999),
		Version:      "$LATEST",
		State:        "Active",
		PackageType:  "Zip",
		Description:  "WebAssembly " + f.Mode().String() + " module run by ferry (ABI v" + fmt.Sprint(hostabi.Version) + ")",
	}
	return c
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (api *invokeAPI) list(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(api.functions))
	for name := range api.functions {
		names = append(names, name)
	}
	sort.Strings(names)
	out := struct{ Functions []functionConfiguration }{Functions: []functionConfiguration{}}
	for _, name := range names {
		out.Functions = append(out.Functions, configuration(api.functions[name]))
	}
	writeJSON(w, out)
}

func (api *invokeAPI) get(w http.ResponseWriter, r *http.Request) {
	f, ok := api.lookup(w, r)
	if !ok {
		return
	}
	writeJSON(w, struct {
		Configuration functionConfiguration
		Code          struct{ RepositoryType string }
	}{Configuration: configuration(f), Code: struct{ RepositoryType string }{"S3"}})
}
