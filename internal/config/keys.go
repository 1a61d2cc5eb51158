package config

// The keys each section of ferry.yaml accepts, stated once: the parser's
// strict "unknown key" errors list them in this order (and the tests pin
// those messages), and TestMarshalWritesKnownKeys checks that Marshal's
// YAML structs (marshal.go) write no other key, so a file Marshal writes
// always parses.
var (
	fileKeys          = []string{"region", "accountId", "logFormat", "async", "functions", "azureApps", "kubernetes"}
	queueKeys         = []string{"queueSize", "maxQueued", "spoolDir"}
	azureAppKeys      = []string{"path", "module", "build", "environment", "memory", "concurrency", "stateDir", "allowedOutboundHosts"}
	functionKeys      = []string{"name", "module", "source", "build", "memory", "timeout", "environment", "concurrency", "minInstances", "spareInstances", "primeEvent", "idleTimeout", "async", "http", "schedule", "allowedOutboundHosts", "files", "ephemeralStorage", "eventSources"}
	buildKeys         = []string{"jsonv2"}
	functionAsyncKeys = []string{"maxRetries", "retryDelays", "maxEventAge", "onSuccess", "onFailure"}
	destinationKeys   = []string{"function", "file"}
	routeKeys         = []string{"path", "methods", "format", "stage", "binaryMediaTypes", "multiValueHeaders", "cors", "apiKeyRequired", "authorizer"}
	authorizerKeys    = []string{"jwt", "authorizationScopes"}
	jwtKeys           = []string{"issuer", "audience", "jwksUri", "jwks"}
	corsKeys          = []string{"allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials"}
	scheduleKeys      = []string{"expression", "input", "enabled", "name"}
	eventSourceKeys   = []string{"sqs", "kafka", "rabbitmq"}
	kubernetesKeys    = []string{"name", "namespace", "image", "replicas", "autoscaling", "keda"}
	autoscalingKeys   = []string{"minReplicas", "maxReplicas", "targetCPU"}
	kedaKeys          = []string{"serverAddress", "query", "threshold", "minReplicas", "maxReplicas"}
)
