// Package config reads ferry.yaml, the file `ferry serve -f ferry.yaml`
// runs: the functions to serve, and the HTTP routes, schedules and
// asynchronous-invocation settings that trigger them.
//
//	region: us-east-1
//	functions:
//	  - name: hello
//	    source: ./hello          # a Go handler directory, built on demand
//	    memory: 256
//	    timeout: 10
//	    http:
//	      - path: /hello/{id}
//	        methods: [GET]
//	    schedule:
//	      - expression: rate(5 minutes)
//
// Parsing is strict: unknown keys, values of the wrong type, and values
// Lambda, API Gateway or EventBridge would reject are errors, each reported
// as "file:line: where: what", all of them at once, one a line.
//
// An optional top-level kubernetes: block (name, namespace, image,
// replicas, autoscaling, keda) configures `ferry k8s`; `ferry serve`
// ignores it.
//
// Top-level keys starting with "x-" are ignored, so that they can hold
// YAML anchors for merge keys (<<: *defaults) and aliases, as in Compose
// files.
//
// Zero values in the result mean "not set": the caller applies Lambda's
// defaults (128 MB, 3 s, and so on). The exceptions, where the file's
// default is ferry's rather than Lambda's, are filled in by Parse and say so.
package config

import (
	"time"

	"github.com/ferrywasm/ferry/events"
	"github.com/ferrywasm/ferry/internal/gobuild"
	"github.com/ferrywasm/ferry/lambdaspec"
)

// File is a parsed ferry.yaml.
type File struct {
	// Path is the file's path as given to Load or Parse.
	Path string
	// Region is the region functions see (AWS_REGION) and events carry:
	// the file's region, else $AWS_REGION, else us-east-1. Parse fills it in.
	Region string
	// AccountID is the 12-digit account in ARNs; "" when not set.
	AccountID string
	// LogFormat is "Text" or "JSON" (Lambda's LoggingConfig.LogFormat) for
	// every function; "" when not set.
	LogFormat string
	// Async configures the queue of Event (asynchronous) invocations.
	Async Async
	// Functions are in file order.
	Functions []Function
	// AzureApps are Azure Functions app folders to serve, in file order.
	AzureApps []AzureApp
	// Kubernetes is the kubernetes: block, for ferry k8s and ferry image.
	Kubernetes Kubernetes
}

// AzureApp is an Azure Functions app folder to serve (azureApps: in the
// file): host.json, a folder per function with its function.json, and the
// custom handler's Go source.
type AzureApp struct {
	// Path is the app folder, absolute; it has a host.json.
	Path string
	// Module is the absolute path of the custom handler compiled to
	// .wasm; "" builds it from the app folder's Go source.
	Module string
	// Build holds the settings of that build; zero with a Module.
	Build Build
	// Environment holds app settings the handler sees, on top of the
	// process environment.
	Environment map[string]string
	// Memory (MB) and Concurrency are the custom handler's; 0 when not
	// set.
	Memory, Concurrency int
	// StateDir keeps the app's queue messages and timer status; ""
	// lets the caller choose.
	StateDir string
	// AllowedOutboundHosts are the hosts the handler may call, as for a
	// function; nil allows none.
	AllowedOutboundHosts []string
	// Line is the line of the entry in the file.
	Line int
}

// Build holds the settings of a Go handler's build (build: in the file),
// which only a source (a function's source:, an Azure app without
// module:) has.
type Build struct {
	// JSONv2 builds with GOEXPERIMENT=jsonv2 (gobuild.JSONv2).
	JSONv2 bool
}

// Options are b as gobuild's options.
func (b Build) Options() []gobuild.Option {
	return []gobuild.Option{gobuild.JSONv2(b.JSONv2)}
}

// Async configures the server-wide queue of asynchronous invocations.
type Async struct {
	// QueueSize is the number of queued events; 0 when not set.
	QueueSize int
	// MaxQueued is the most events one function may have queued (its
	// share of QueueSize); 0 when not set: QueueSize divided by the
	// number of functions.
	MaxQueued int
	// SpoolDir is an absolute directory; "" lets the caller choose
	// (<cache dir>/spool).
	SpoolDir string
}

// Function is one function to serve.
type Function struct {
	// Name matches [A-Za-z0-9_-]{1,64} and is unique in the file.
	Name string
	// Module is the absolute path of a compiled .wasm module, and Source
	// the absolute path of a Go handler directory built on demand; exactly
	// one is set. Both exist when Parse returns (whether Source is a main
	// package is the builder's business).
	Module, Source string
	// Build holds the settings of Source's build; zero with a Module.
	Build Build
	// Memory is in MB, 128 to 10240; 0 when not set.
	Memory int
	// Timeout is 1s to 900s; 0 when not set.
	Timeout time.Duration
	// IdleTimeout is how long an idle instance is kept; 0 when not set.
	IdleTimeout time.Duration
	// Environment holds the function's variables; values that were YAML
	// numbers or booleans are their text as written, and ${NAME} in a
	// value is replaced with ferry's own variable NAME when the file is
	// parsed ($$ for a literal $; NAME unset is an error).
	Environment map[string]string
	// AllowedOutboundHosts are the origins the function may call over
	// HTTP, each scheme://host[:port] with * wildcards (see
	// lambdaspec.HostPattern); nil or empty allows none.
	AllowedOutboundHosts []string
	// Files is the absolute directory mounted read-only at /var/task. Parse
	// fills in the default: the source directory, or the module's
	// directory.
	Files string
	// EphemeralStorage is the size of /tmp in MB, 512 to 10240; 0 when
	// not set (512).
	EphemeralStorage int
	// Concurrency is the most instances at once (at least 1), and
	// MinInstances the instances kept warm (at most Concurrency); 0 when
	// not set.
	Concurrency, MinInstances int
	// SpareInstances idle instances are kept ready ahead of demand (at
	// most Concurrency); 0 when not set.
	SpareInstances int
	// PrimeEvent is the event file invoked once before the function's
	// snapshot is taken (adapter.Config.PrimeEvent); its JSON when set,
	// read from PrimeEventFile (absolute).
	PrimeEvent     []byte
	PrimeEventFile string
	// AsyncConfig is Lambda's asynchronous invocation configuration.
	AsyncConfig FunctionAsync
	HTTP        []HTTPRoute
	Schedules   []ScheduleTrigger
	// EventSources are the queues and streams that invoke the function.
	EventSources []EventSource
	// Line is the line of the function's entry in the file.
	Line int
}

// FunctionAsync is a function's asynchronous invocation configuration
// (Lambda's EventInvokeConfig).
type FunctionAsync struct {
	// RetryDelays are the waits before each retry of a failed event, so
	// len(RetryDelays) is the maximum number of retries (0 to 2). It is nil
	// when the file sets neither maxRetries nor retryDelays (Lambda's
	// default: 2 retries), and empty but not nil for maxRetries: 0. Delays
	// the file leaves out are 1m before the first retry and 2m before the
	// second.
	RetryDelays []time.Duration
	// MaxEventAge is 60s to 6h; 0 when not set.
	MaxEventAge time.Duration
	// OnSuccess and OnFailure are where results go; zero for nowhere.
	OnSuccess, OnFailure Destination
}

// Destination is where an asynchronous invocation's record goes: another
// function of the file, or a file of JSON lines (an absolute path). At most
// one is set.
type Destination = lambdaspec.Destination

// HTTPRoute is an HTTP route to a function.
type HTTPRoute struct {
	// Path starts with "/"; {name} parameters are whole segments and a
	// greedy {name+} can only be the last.
	Path string
	// Methods are upper-case; nil means any method (also written ANY).
	Methods []string
	// Format is one of events.HTTPFormats; Parse fills in the default,
	// http-api.
	Format events.HTTPFormat
	// Stage is the API Gateway stage events carry; "" when not set.
	Stage string
	// BinaryMediaTypes are media types (type/subtype, * allowed) whose
	// bodies are base64-encoded.
	BinaryMediaTypes []string
	// MultiValueHeaders is the ALB target group setting (alb only).
	MultiValueHeaders bool
	// CORS is nil when the route has no CORS configuration; MaxAge is 0 to
	// 86400 seconds.
	CORS *events.CORS
	// APIKeyRequired makes a REST route require an API key (x-api-key),
	// as a REST API method with apiKeyRequired: the keys are given to
	// ferry serve in $FERRY_API_KEYS.
	APIKeyRequired bool
	// JWT, when set, is the route's JWT authorizer (an HTTP API's): see
	// JWTAuthorizer.
	JWT *JWTAuthorizer
	// Line is the line of the route's entry in the file.
	Line int
}

// ScheduleTrigger is an EventBridge scheduled rule targeting a function.
type ScheduleTrigger struct {
	// Name is the rule name, unique in the file: the file's name, else
	// <function>-schedule-<n> with n counting the function's schedules
	// from 1. Parse fills it in.
	Name string
	// Expression is the schedule expression as written, and Schedule the
	// parsed form.
	Expression string
	Schedule   *events.Schedule
	// Input is the constant input (JSON) sent instead of the Scheduled
	// Event payload; nil sends the Scheduled Event.
	Input []byte
	// Enabled is false only when the file says enabled: false.
	Enabled bool
	// Line is the line of the schedule's entry in the file.
	Line int
}

// Kubernetes holds what `ferry k8s` and `ferry image` need beyond the
// functions: the file's optional top-level kubernetes: block. `ferry serve`
// ignores it.
type Kubernetes struct {
	// Name names the app's objects and is its app.kubernetes.io/name; ""
	// when not set.
	Name string
	// Namespace is the objects' namespace; "" leaves it to kubectl.
	Namespace string
	// Image is the container image reference; "" when not set.
	Image string
	// Replicas is the Deployment's replica count; 0 when not set.
	Replicas int
	// Autoscaling configures the HorizontalPodAutoscaler.
	Autoscaling Autoscaling
	// KEDA, when not nil, replaces the HorizontalPodAutoscaler with a KEDA
	// ScaledObject.
	KEDA *KEDA
	// Line is the line of the block; 0 when the file has none.
	Line int
}

// Autoscaling configures the HorizontalPodAutoscaler on CPU use. Zero
// values are not set.
type Autoscaling struct {
	MinReplicas, MaxReplicas int
	// TargetCPU is the average CPU utilisation to keep, in percent of the
	// request.
	TargetCPU int
}

// KEDA configures a KEDA ScaledObject with a Prometheus trigger on
// ferry's in-flight invocations.
type KEDA struct {
	// ServerAddress is Prometheus's URL; "" when not set.
	ServerAddress string
	// Query is the PromQL query; "" when not set.
	Query string
	// Threshold is the in-flight invocations one replica should take; 0
	// when not set.
	Threshold int
	// MinReplicas may be 0 (scale to zero); nil when not set.
	MinReplicas *int
	// MaxReplicas is 0 when not set.
	MaxReplicas int
}

// JWTAuthorizer is an HTTP API route's JWT authorizer, as API Gateway's
// (JwtConfiguration and the route's AuthorizationScopes):
//
//	authorizer:
//	  jwt:
//	    issuer: https://issuer.example.com
//	    audience: [my-api]
//	    jwksUri: https://issuer.example.com/.well-known/jwks.json  # or jwks: ./jwks.json
//	  authorizationScopes: [items:read]                           # optional
type JWTAuthorizer struct {
	Issuer   string
	Audience []string
	// JWKSURI is fetched by ferry serve; JWKSFile is a JWKS file, resolved
	// against the ferry.yaml's folder. Exactly one is set.
	JWKSURI, JWKSFile string
	Scopes            []string
}
