//go:build wasip1

//lint:file-ignore U1000 the go:wasmexport functions are called by the host, which staticcheck does not count as a use

package reactor

import (
	"runtime"
	"runtime/metrics"
	"unsafe"
	_ "unsafe" // go:linkname

	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

// Outcome is what a handler reports for one invocation: a response
// payload, or an error document ({"errorMessage","errorType",…}), and
// whether the instance must be discarded afterwards.
type Outcome struct {
	Response []byte
	Error    []byte
	Discard  bool
}

// Handler serves one invocation.
type Handler func(inv *record.Invocation) Outcome

var (
	handler   Handler
	inReactor bool
)

// InReactor says whether main is running from ferry_start: an SDK then
// registers its handler and returns instead of serving.
func InReactor() bool { return inReactor }

// Register sets the handler of every invocation from now on.
func Register(h Handler) { handler = h }

// serving is the panic value of Return.
type serving struct{}

// Return ends the program's main from inside a call that must not return
// to it, back to ferry_start: a custom handler's main is
// log.Fatal(http.ListenAndServe(…)), which must neither block (instances
// serve invocations between calls) nor hand log.Fatal a value. main's
// deferred calls run, as they would when main returns.
func Return() { panic(serving{}) }

// WriteError hands an error document to the host (an init error during
// ferry_start).
func WriteError(doc []byte) { errorWrite(unsafe.Pointer(unsafe.SliceData(doc)), int32(len(doc))) }

//go:linkname runMain main.main
func runMain()

//go:wasmimport ferry invocation_read
func invocationRead(buf unsafe.Pointer, bufLen int32) int32

//go:wasmimport ferry response_write
func responseWrite(buf unsafe.Pointer, n int32) int32

//go:wasmimport ferry error_write
func errorWrite(buf unsafe.Pointer, n int32) int32

//go:wasmexport ferry_abi_version
func abiVersion() int32 { return 1 }

// ferryStart runs the program's main, as Lambda's init phase does; main
// calls the SDK's start (lambda.Start, azfunc.Serve), which registers the
// handler and returns. It then collects the garbage init left, once: see
// settle.
//
//go:wasmexport ferry_start
func ferryStart() int32 {
	inReactor = true
	callMain()
	if handler == nil {
		WriteError([]byte(`{"errorMessage":"main returned without calling lambda.Start or azfunc.Serve","errorType":"Runtime.NoHandler"}`))
		return 1
	}
	settle()
	return 0
}

// settle runs one garbage collection at the end of init, before the host
// takes its snapshot.
//
// Every clone of a snapshot starts from the same memory, so whatever the
// runtime leaves undone at init, each clone's first invocation does again,
// touching its memory afresh, page by page. A Go module's init ends with
// no collection run (its heap is far below the 4 MB minimum goal); a clone
// of hello then grew its linear memory past the snapshot's end and wrote
// ~380 KB of it during its first invocation. Collected here, the template
// does that once: its snapshot has the size a primed one has, and a
// clone's first invocation takes ~70 fewer page faults (BENCHMARKS.md,
// "Collecting after init"). It costs each template's init, and each
// instance started without snapshots, one collection of a small heap
// (about a millisecond).
func settle() { runtime.GC() }

func callMain() {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(serving); !ok {
				panic(v)
			}
		}
	}()
	runMain()
}

// ferryInvoke serves one invocation; see hostabi/ABI.md.
//
//go:wasmexport ferry_invoke
func ferryInvoke(recordLen int32) int32 {
	buf := make([]byte, recordLen)
	var inv record.Invocation
	if invocationRead(unsafe.Pointer(unsafe.SliceData(buf)), recordLen) != recordLen || record.Decode(buf, &inv) != nil {
		WriteError([]byte(`{"errorMessage":"ferry: cannot read the invocation record","errorType":"Runtime.InvalidRecord"}`))
		return 1
	}
	out := handler(&inv)
	if out.Error != nil {
		WriteError(out.Error)
	} else {
		responseWrite(unsafe.Pointer(unsafe.SliceData(out.Response)), int32(len(out.Response)))
	}
	if out.Discard {
		return 1
	}
	if invocations++; invocations%gcCheckPeriod == 0 {
		finishGC()
	}
	return 0
}

// invocations counts ferry_invoke's calls, for finishGC's period.
var invocations uint

// gcCheckPeriod is how many invocations apart finishGC looks at the heap:
// reading the runtime's metrics costs a guest about 5 µs (1 % of a warm
// http-api invocation, BENCHMARKS.md), and a cycle overdue by seven
// invocations' allocations more is still far from what finishGC
// prevents, a heap that grows for as long as the instance lives.
const gcCheckPeriod = 8

// gcSamples are what finishGC reads: the bytes in heap objects (live and
// not yet swept) and the heap goal of the current GC cycle.
var gcSamples = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"}}

// finishGC completes a garbage collection the invocation left behind.
//
// In a reactor the Go runtime runs only while an export runs, on the
// export's goroutine: the GC's background mark workers are never
// scheduled (gctrace shows 0 ms of background and idle mark time), so a
// cycle ends only through the assists allocations make. Under CPU
// contention the runtime's GC CPU limiter, which measures in wall-clock
// time, switches assists off; the cycle then never ends, the heap grows
// past its goal with every invocation and the instance runs out of memory
// within minutes (http-api at 128 MB under 32 concurrent invocations:
// 14 MB steady, then +1 MB every ~75 invocations of an instance). When the
// heap's objects are well past the goal, a cycle is overdue: runtime.GC
// finishes it here, between invocations, where it costs the caller a
// millisecond or two once in a while rather than the instance.
func finishGC() {
	metrics.Read(gcSamples)
	objects, goal := gcSamples[0].Value.Uint64(), gcSamples[1].Value.Uint64()
	if objects > goal+goal/4 {
		runtime.GC()
	}
}
