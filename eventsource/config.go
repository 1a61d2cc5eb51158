package eventsource

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a batching window. In ferry.yaml it is a number of seconds, as
// Lambda's MaximumBatchingWindowInSeconds is, or a Go duration ("500ms").
type Window time.Duration

// UnmarshalJSON accepts seconds (a number) or a duration string.
func (w *Window) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return w.set(v)
}

// UnmarshalYAML accepts seconds (a number) or a duration string.
func (w *Window) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	return w.set(v)
}

func (w *Window) set(v any) error {
	switch v := v.(type) {
	case float64:
		*w = Window(v * float64(time.Second))
	case int:
		*w = Window(time.Duration(v) * time.Second)
	case string:
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			*w = Window(n * float64(time.Second))
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("maximumBatchingWindow: %q is neither seconds nor a duration like 500ms", v)
		}
		*w = Window(d)
	default:
		return fmt.Errorf("maximumBatchingWindow: want seconds or a duration like 500ms, got %v", v)
	}
	return nil
}

// MarshalJSON writes the window as a duration string.
func (w Window) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(w).String()) }

// MarshalYAML writes the window as a duration string.
func (w Window) MarshalYAML() (any, error) { return time.Duration(w).String(), nil }

// checkWindow enforces Lambda's bounds: 0 to 300 seconds.
func checkWindow(w Window) error {
	if w < 0 || time.Duration(w) > 300*time.Second {
		return fmt.Errorf("maximumBatchingWindow %s: must be between 0 and 300 seconds", time.Duration(w))
	}
	return nil
}

func checkBatchSize(n, max int) error {
	if n < 1 || n > max {
		return fmt.Errorf("batchSize %d: must be between 1 and %d", n, max)
	}
	return nil
}

// redact hides the password of a URL-like string (amqp://user:pass@host),
// so configuration errors and logs never echo it.
func redact(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return s[:scheme+3] + user + ":xxxxx" + s[at:]
	}
	return s
}
