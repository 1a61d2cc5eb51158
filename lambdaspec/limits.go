package lambdaspec

import (
	"regexp"
	"time"
)

// Lambda's limits and defaults for a function, as AWS documents them
// ("Lambda quotas"). The engine enforces them, ferry.yaml is checked
// against them, and the Kubernetes generator sizes pods by them.
const (
	MinMemoryMB     = 128
	MaxMemoryMB     = 10240
	DefaultMemoryMB = 128

	DefaultTimeout = 3 * time.Second
	MaxTimeout     = 900 * time.Second

	// EphemeralStorage is /tmp's size in MB.
	MinEphemeralStorageMB     = 512
	MaxEphemeralStorageMB     = 10240
	DefaultEphemeralStorageMB = 512
)

// DefaultConcurrency is ferry's default number of instances per function
// (Lambda's is the account's limit; one process needs a smaller one).
const DefaultConcurrency = 10

// FunctionNamePattern is what Lambda accepts as a function name (the
// unqualified name, not an ARN): 1 to 64 letters, digits, - or _.
var FunctionNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
