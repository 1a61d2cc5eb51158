package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// An embedder's whole use of the engine: load a handler compiled to Wasm
// (`ferry build`, here samples/hello) and invoke it. The Function pools
// its instances; Invoke is safe for concurrent use.
func Example() {
	ctx := context.Background()
	module, err := gobuild.Cached(ctx, "../samples/hello") // what `ferry build` writes
	if err != nil {
		log.Fatal(err)
	}

	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)

	hello, err := engine.LoadFile(ctx, module, adapter.Config{Name: "hello", Memory: 256, Timeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	res, err := hello.Invoke(ctx, &adapter.Request{Payload: []byte(`"embedder"`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", res.Payload)
	// Output: "Hello embedder!"
}

// A function error is not a Go error: Invoke succeeds and the Result holds
// Lambda's error document, as the Invoke API returns it with
// X-Amz-Function-Error. Go errors are for what kept the invocation from
// running (the concurrency limit, a closed function).
func Example_functionError() {
	ctx := context.Background()
	module, err := gobuild.Cached(ctx, "../samples/errors")
	if err != nil {
		log.Fatal(err)
	}
	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)
	f, err := engine.LoadFile(ctx, module, adapter.Config{Name: "errors", Timeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}

	res, err := f.Invoke(ctx, &adapter.Request{Payload: []byte(`{"mode":"error","field":"email"}`)})
	if err != nil {
		log.Fatal(err)
	}
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(res.Payload, &doc); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Failed(), res.ErrorType)
	fmt.Println(doc.ErrorMessage)
	// Output:
	// true ValidationError
	// invalid field: email
}
