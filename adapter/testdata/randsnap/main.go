// Command randsnap reports what a snapshot must give each clone afresh
// (math/rand sequences), what it must keep (state built at init, a
// generator the program seeded itself) and the garbage collections the
// runtime had completed before the invocation.
package main

import (
	"context"
	"math/rand"
	randv2 "math/rand/v2"
	"runtime/metrics"

	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

// Built at init: a map (its hash seed came from the runtime's random state
// before the snapshot) and a generator with the program's own seed.
var (
	table  = map[string]int{}
	seeded = randv2.New(randv2.NewChaCha8([32]byte{1, 2, 3}))
	calls  int
)

func init() {
	for i := range 1000 {
		table[string(rune('a'+i%26))+string(rune(i))] = i
	}
}

type out struct {
	Rand   []int64  `json:"rand"`
	RandV2 []uint64 `json:"randv2"`
	Seeded uint64   `json:"seeded"`
	Lookup int      `json:"lookup"`
	Calls  int      `json:"calls"`
	GCs    uint64   `json:"gcs"`
}

func handler(ctx context.Context) (out, error) {
	gcs := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(gcs)
	calls++
	o := out{GCs: gcs[0].Value.Uint64(), Seeded: seeded.Uint64(), Lookup: table[string(rune('a'+777%26))+string(rune(777))], Calls: calls}
	for range 4 {
		o.Rand = append(o.Rand, rand.Int63())
		o.RandV2 = append(o.RandV2, randv2.Uint64())
	}
	return o, nil
}

func main() { lambda.Start(handler) }
