package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// BenchmarkEventInvoke measures accepted Event invocations (202s) per
// second over loopback HTTP, 32 concurrent clients, with the events held
// in memory only (what ferry did before the write-ahead spool) and
// written durably to the spool before each 202 (group-committed).
// Compare the two in one run: go test -run '^$' -bench EventInvoke ./internal/gateway
func BenchmarkEventInvoke(b *testing.B) {
	for _, mode := range []string{"memory", "wal"} {
		b.Run(mode, func(b *testing.B) {
			hello := sampletest.Load(b, "../../samples/hello", adapter.Config{Name: "hello"})
			functions := map[string]*adapter.Function{"hello": hello}
			opts := gateway.QueueOptions{Capacity: 1 << 22}
			if mode == "wal" {
				opts.SpoolDir = filepath.Join(b.TempDir(), "spool")
			}
			q, err := gateway.NewQueue(functions, opts)
			if err != nil {
				b.Fatal(err)
			}
			s := gateway.NewServer()
			if err := s.Deploy(gateway.Deployment{Functions: functions, Queue: q}); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(s)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := srv.URL + "/2015-03-31/functions/hello/invocations"
			b.SetParallelism(16) // 2 cores × 16 = 32 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`"bench"`))
					req.Header.Set("X-Amz-Invocation-Type", "Event")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 202 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "202s/s")
			b.StopTimer()
			q.Close(b.Context())
		})
	}
}
