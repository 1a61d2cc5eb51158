package gateway

import (
	"fmt"
	"testing"
	"time"
)

// TestAccessLine: the hand-appended access log line is the one fmt wrote
// before, quoting included ("%q" of the request line, with a quote, a
// control character and non-ASCII in the path).
func TestAccessLine(t *testing.T) {
	start := time.Date(2026, 12, 7, 1, 2, 3, 40506, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		host, request, reqID string
		status, bytes        int
		d                    time.Duration
	}{
		{"127.0.0.1", "GET /http-api/items/42?name=ferry HTTP/1.1", "c33c59e4-785b-428a-9e95-63d795f8c332", 200, 288, 578 * time.Microsecond},
		{"::1", `POST /a"b/\x01/é HTTP/2.0`, "", 502, 0, 3*time.Second + 7*time.Microsecond},
		{"", "", "", 0, -1, 0},
	} {
		want := fmt.Sprintf("%s %s %q %d %d %.3fms %s\n", start.UTC().Format(time.RFC3339Nano), tt.host,
			tt.request, tt.status, tt.bytes, float64(tt.d.Microseconds())/1000, tt.reqID)
		if got := string(appendAccessLine(nil, start, tt.host, tt.request, tt.status, tt.bytes, tt.d, tt.reqID)); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
}
