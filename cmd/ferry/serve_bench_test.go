package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/internal/sampletest"
)

// BenchmarkServeHTTPAPI drives `ferry serve` over loopback HTTP with the
// http-api sample and, in the same run, a plain net/http server doing the
// same JSON work natively, with the same clients. It reports requests per
// second, p50 and p99 latency of each, and the throughput ratio:
//
//	go test -run '^$' -bench ServeHTTPAPI -benchtime 2000x ./cmd/ferry
//
// Each iteration is one request to each server; b.N bounds the count.
func BenchmarkServeHTTPAPI(b *testing.B) {
	s := startServe(b, samplesConfig(b, b.TempDir()), "--no-access-log", "--log-format", "Text")
	native := httptest.NewServer(http.HandlerFunc(nativeHTTPAPI))
	defer native.Close()
	const path = "/http-api/items/42?name=ferry&tag=a&tag=b"
	clients := 4 // concurrent connections: two per core
	// Warm both (ferry's instances, connections) outside the measurement.
	load(b, s.url+path, clients, 4*clients)
	load(b, native.URL+path, clients, 4*clients)
	b.ResetTimer()
	ferry := load(b, s.url+path, clients, b.N)
	plain := load(b, native.URL+path, clients, b.N)
	b.StopTimer()
	b.ReportMetric(ferry.rps, "ferry-req/s")
	b.ReportMetric(plain.rps, "native-req/s")
	b.ReportMetric(plain.rps/ferry.rps, "native/ferry")
	b.ReportMetric(ms(ferry.p50), "ferry-p50-ms")
	b.ReportMetric(ms(ferry.p99), "ferry-p99-ms")
	b.ReportMetric(ms(plain.p50), "native-p50-ms")
	b.ReportMetric(ms(plain.p99), "native-p99-ms")
	// CPU time of the whole process (server and clients) per request:
	// unlike req/s, it does not depend on how much of the machine other
	// work leaves to this process.
	b.ReportMetric(float64(ferry.cpu.Microseconds())/float64(b.N), "ferry-cpu-µs/req")
	b.ReportMetric(float64(plain.cpu.Microseconds())/float64(b.N), "native-cpu-µs/req")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // the process's user and system time
}

// load sends n GET requests to url over `clients` keep-alive connections
// and measures each.
func load(b *testing.B, url string, clients, n int) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var failed sync.Once
	start, cpu := time.Now(), sampletest.ProcessCPU(b)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Do(func() { b.Errorf("%s: %v", url, err) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), sampletest.ProcessCPU(b)-cpu
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{rps: float64(n) / elapsed.Seconds(), p50: lat[n/2], p99: lat[n*99/100], cpu: cpu}
}

// nativeHTTPAPI does what samples/http-api does, as a plain Go server
// would: read path, query, cookies and headers, answer the same JSON with
// a cookie.
func nativeHTTPAPI(w http.ResponseWriter, r *http.Request) {
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	name := query["name"]
	if name == "" {
		name = "world"
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.String())
	}
	body, _ := io.ReadAll(r.Body)
	reply, err := json.Marshal(map[string]any{
		"routeKey": "GET /http-api/{proxy+}", "method": r.Method, "rawPath": r.URL.Path, "rawQueryString": r.URL.RawQuery,
		"query": query, "pathParameters": map[string]string{"proxy": strings.TrimPrefix(r.URL.Path, "/http-api/")},
		"cookies": cookies, "userAgent": r.UserAgent(), "accept": r.Header.Get("Accept"), "body": string(body),
		"greeting": "hello, " + name,
	})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	http.SetCookie(w, &http.Cookie{Name: "visited", Value: "yes", Path: "/", HttpOnly: true})
	w.Write(reply)
}
