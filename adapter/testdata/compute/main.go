// Command compute is a CPU-bound WASI command for BenchmarkGuestCompute:
// SHA-256 (pure Go on wasm) over 4 MiB, then 50 JSON round trips of a
// nested document; it prints the digest and a checksum of the documents,
// so that the work cannot be skipped and the runs can be compared.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

type item struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Price float64           `json:"price"`
	Attrs map[string]string `json:"attrs"`
}

type document struct {
	Items []item `json:"items"`
	Next  string `json:"next,omitempty"`
}

func main() {
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	h := sha256.New()
	for range 64 { // 4 MiB
		h.Write(buf)
	}
	digest := h.Sum(nil)

	doc := document{Next: "cursor"}
	for i := range 50 {
		doc.Items = append(doc.Items, item{
			ID: i, Name: "item " + strconv.Itoa(i), Tags: []string{"a", "b", "c"}, Price: float64(i) * 1.25,
			Attrs: map[string]string{"color": "blue", "size": strconv.Itoa(i)},
		})
	}
	sum := 0
	for range 50 {
		b, err := json.Marshal(doc)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var back document
		if err := json.Unmarshal(b, &back); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sum += len(b) + len(back.Items)
	}
	fmt.Printf("{\"sha256\":\"%x\",\"json\":%d}\n", digest, sum)
}
