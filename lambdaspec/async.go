package lambdaspec

import "time"

// Destination is where an asynchronous invocation's record goes, as a
// Lambda destination: another function (the record is queued to it as an
// Event) or a file of JSON lines. At most one is set; the zero value is no
// destination. The engine, the config file and the gateway share it.
type Destination struct {
	// Function names a function (in a config file: one declared in it).
	Function string
	// File is a path (in a config file: absolute; its directory may not
	// exist yet).
	File string
}

// IsZero says there is no destination.
func (d Destination) IsZero() bool { return d == Destination{} }

func (d Destination) String() string {
	switch {
	case d.Function != "":
		return "function " + d.Function
	case d.File != "":
		return "file " + d.File
	}
	return "none"
}

// DefaultRetryDelays are Lambda's waits before the two retries of a failed
// asynchronous invocation. Read only: copy before changing.
var DefaultRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
