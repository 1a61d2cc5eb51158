package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/config"
	"github.com/ferrywasm/ferry/internal/gateway"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

// BenchmarkHTTPRoute serves samples/http-api the way `ferry serve` does
// (gateway.New from a config, Prometheus metrics, the function log and the
// access log written to a file, the HTTP server's limits and connection
// cap) over loopback to 4 keep-alive clients, in one process so that a CPU
// profile shows the whole request path:
//
//	go test -run '^$' -bench HTTPRoute -benchtime 5000x -cpuprofile cpu.out ./internal/gateway
//
// cmd/ferry's BenchmarkServeHTTPAPI compares the same path with native
// net/http.
func BenchmarkHTTPRoute(b *testing.B) {
	dir := b.TempDir()
	yaml := `functions:
  - name: http-api
    module: ` + sampletest.Module(b, "../../samples/http-api") + `
    http:
      - path: /http-api/{proxy+}
        methods: [GET, POST]
        format: http-api
`
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	// Where ferry serve's stderr would go, with a write per log record.
	logs, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	engine, err := adapter.NewEngine(ctx, adapter.WithMetrics(adapter.NewMetrics(reg)))
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close(ctx)
	d, err := gateway.New(ctx, engine, cfg, gateway.Options{Metrics: reg, Log: logs})
	if err != nil {
		b.Fatal(err)
	}
	srv := gateway.NewServer(gateway.WithAccessLog(logs, false), gateway.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if err := srv.Deploy(d.Deployment); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := gateway.NewHTTPServer(srv)
	go hs.Serve(gateway.LimitConns(ln, gateway.DefaultMaxConns(), hs))
	defer hs.Close()

	url := "http://" + ln.Addr().String() + "/http-api/items/42?name=ferry&tag=a&tag=b"
	const clients = 4 // two per core, as BenchmarkServeHTTPAPI
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	drive := func(n int) {
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range next {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	drive(4 * clients) // instances and connections warm
	cpu := sampletest.ProcessCPU(b)
	b.ResetTimer()
	drive(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	// The whole process's CPU time (server and clients) per request does
	// not depend on how much of the machine other work leaves it.
	b.ReportMetric(float64((sampletest.ProcessCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/req")
}
