// Command handler is an Azure Functions custom handler in Go, in the shape
// of Microsoft's custom handler samples: one HTTP server for every function
// of the app, each function at /<FunctionName>, the invocation as
// {"Data","Metadata"} JSON, the answer as {"Outputs","Logs","ReturnValue"}.
//
// Ported to ferry by one change: azfunc.ListenAndServe in place of
// http.ListenAndServe. Built natively (go build -o handler) it is still a
// classic custom handler that `func start` runs.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/ferrywasm/ferry/hostabi/guest/azfunc"
)

// InvokeRequest is what the Functions host sends.
type InvokeRequest struct {
	Data     map[string]json.RawMessage
	Metadata map[string]interface{}
}

// InvokeResponse is what the handler answers.
type InvokeResponse struct {
	Outputs     map[string]interface{}
	Logs        []string
	ReturnValue interface{}
}

// HTTPRequest is the httpTrigger binding's value.
type HTTPRequest struct {
	Url     string
	Method  string
	Query   map[string]string
	Headers map[string][]string
	Params  map[string]string
	Body    string
}

func httpExampleHandler(w http.ResponseWriter, r *http.Request) {
	var invokeRequest InvokeRequest
	if err := json.NewDecoder(r.Body).Decode(&invokeRequest); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req HTTPRequest
	if err := json.Unmarshal(invokeRequest.Data["req"], &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := req.Query["name"]
	if name == "" && req.Body != "" {
		var body struct{ Name string }
		if json.Unmarshal([]byte(req.Body), &body) == nil {
			name = body.Name
		}
	}
	logs := []string{fmt.Sprintf("HttpExample: %s %s", req.Method, req.Url)}
	outputs := map[string]interface{}{}
	if name == "" {
		outputs["res"] = map[string]interface{}{
			"statusCode": "400",
			"body":       "Pass a name in the query string or in the request body.",
		}
	} else {
		message := map[string]interface{}{"name": name, "category": req.Params["category"], "invocationId": r.Header.Get("X-Azure-Functions-InvocationId")}
		outputs["msg"] = message
		reply := map[string]interface{}{
			"greeting": "Hello, " + name + ". This HTTP triggered function executed successfully.",
			"method":   req.Method,
			"category": req.Params["category"],
			"query":    req.Query,
			"accept":   req.Headers["Accept"],
			"bodySize": len(req.Body),
		}
		outputs["res"] = map[string]interface{}{
			"statusCode": 200,
			"headers":    map[string]string{"Content-Type": "application/json", "X-Handler": "go"},
			"body":       reply,
		}
		logs = append(logs, "queued a message for "+name)
	}
	writeJSON(w, InvokeResponse{Outputs: outputs, Logs: logs})
}

func queueExampleHandler(w http.ResponseWriter, r *http.Request) {
	var invokeRequest InvokeRequest
	if err := json.NewDecoder(r.Body).Decode(&invokeRequest); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var item string
	json.Unmarshal(invokeRequest.Data["myQueueItem"], &item)
	logs := []string{
		fmt.Sprintf("QueueExample: message %v, DequeueCount %v", invokeRequest.Metadata["Id"], invokeRequest.Metadata["DequeueCount"]),
		"QueueExample: " + item,
	}
	if strings.Contains(item, "poison") {
		// A message this handler can never process: the host retries it
		// and then moves it to the poison queue.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(InvokeResponse{Logs: append(logs, "cannot process this message")})
		return
	}
	writeJSON(w, InvokeResponse{Logs: logs, ReturnValue: "processed " + item})
}

func timerExampleHandler(w http.ResponseWriter, r *http.Request) {
	var invokeRequest InvokeRequest
	if err := json.NewDecoder(r.Body).Decode(&invokeRequest); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var timer struct {
		ScheduleStatus struct{ Last, Next, LastUpdated string }
		IsPastDue      bool
	}
	json.Unmarshal(invokeRequest.Data["myTimer"], &timer)
	writeJSON(w, InvokeResponse{Logs: []string{
		fmt.Sprintf("TimerExample: IsPastDue=%v Last=%s Next=%s", timer.IsPastDue, timer.ScheduleStatus.Last, timer.ScheduleStatus.Next),
	}})
}

// helloHandler is for forwarding mode (enableForwardingHttpRequest): an
// HTTP-only function gets the client's request at its own path and answers
// it directly, as in Microsoft's "hello" custom handler sample.
func helloHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "Pass a name in the query string.")
		return
	}
	w.Header().Set("X-Invocation", r.Header.Get("X-Azure-Functions-InvocationId"))
	fmt.Fprintf(w, "Hello, %s. This HTTP triggered function executed successfully.", name)
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// newMux routes each function of the app to its handler.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/HttpExample", httpExampleHandler)
	mux.HandleFunc("/QueueExample", queueExampleHandler)
	mux.HandleFunc("/TimerExample", timerExampleHandler)
	mux.HandleFunc("/api/hello", helloHandler)
	return mux
}

func main() {
	listenAddr := ":8080"
	if val, ok := os.LookupEnv("FUNCTIONS_CUSTOMHANDLER_PORT"); ok {
		listenAddr = ":" + val
	}
	mux := newMux()
	log.Printf("About to listen on %s. Go to http://127.0.0.1%s/", listenAddr, listenAddr)
	log.Fatal(azfunc.ListenAndServe(listenAddr, mux))
}
