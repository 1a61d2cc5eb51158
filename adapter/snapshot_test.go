package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	randv2 "math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/internal/sampletest"
)

type randOut struct {
	Rand   []int64  `json:"rand"`
	RandV2 []uint64 `json:"randv2"`
	Seeded uint64   `json:"seeded"`
	Lookup int      `json:"lookup"`
	Calls  int      `json:"calls"`
	GCs    uint64   `json:"gcs"`
}

func randInvoke(t *testing.T, f *adapter.Function) randOut {
	t.Helper()
	res := invoke(t, f, `{}`)
	if res.Failed() {
		t.Fatalf("%s: %s\n%s", res.ErrorType, res.Payload, res.Logs)
	}
	var o randOut
	if err := json.Unmarshal(res.Payload, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestSnapshotClonesGetFreshRandomness starts three clones of one snapshot:
// each gets its own math/rand and math/rand/v2 sequences, while what init
// built (a map, a generator the program seeded itself, a counter) is as a
// freshly initialised instance has it.
func TestSnapshotClonesGetFreshRandomness(t *testing.T) {
	skipWithoutSnapshots(t)
	f := sampletest.Load(t, "testdata/randsnap", adapter.Config{Name: "randsnap"})
	if ok, reason := f.Snapshot(); !ok {
		t.Fatalf("no snapshot: %s", reason)
	}
	want := randv2.New(randv2.NewChaCha8([32]byte{1, 2, 3})).Uint64()
	seen := map[int64]bool{}
	seenV2 := map[uint64]bool{}
	for clone := range 3 {
		f.CloseIdle() // the next invocation starts a new clone
		o := randInvoke(t, f)
		if ok, reason := f.Snapshot(); !ok {
			t.Fatalf("clone %d: no snapshot: %s", clone, reason)
		}
		if o.Seeded != want || o.Lookup != 777 || o.Calls != 1 {
			t.Fatalf("clone %d: init state %+v, want seeded %d, lookup 777, calls 1", clone, o, want)
		}
		if seen[o.Rand[0]] || seenV2[o.RandV2[0]] {
			t.Fatalf("clone %d repeats another clone's random sequence: %+v", clone, o)
		}
		seen[o.Rand[0]], seenV2[o.RandV2[0]] = true, true
		// The same clone goes on with its own sequence.
		if o2 := randInvoke(t, f); o2.Calls != 2 || o2.Rand[0] == o.Rand[0] {
			t.Fatalf("clone %d, second call: %+v after %+v", clone, o2, o)
		}
	}
}

// TestSnapshotClonesEnviron: a clone's WASI environment (shared by the
// clones of a snapshot: baseModuleConfig) is the template's, the one the
// Go runtime copied at init and the snapshot kept, for every clone, with
// the function's own variables.
func TestSnapshotClonesEnviron(t *testing.T) {
	skipWithoutSnapshots(t)
	f := sampletest.Load(t, "testdata/capsprobe", adapter.Config{Name: "capsprobe-env", Environment: map[string]string{"GREETING": "hi"}})
	if ok, reason := f.Snapshot(); !ok {
		t.Fatalf("no snapshot: %s", reason)
	}
	var first string
	for clone := range 2 {
		f.CloseIdle() // the next invocation starts a new clone
		got := probe(t, f, map[string]any{"op": "environ"})
		if ok, reason := f.Snapshot(); !ok {
			t.Fatalf("clone %d: no snapshot: %s", clone, reason)
		}
		wasi, goEnv, _ := strings.Cut(got, "\n")
		if wasi != goEnv || !strings.Contains(wasi, `"GREETING=hi"`) || !strings.Contains(wasi, `"AWS_LAMBDA_LOG_STREAM_NAME=`) {
			t.Fatalf("clone %d: WASI environ, then the Go runtime's:\n%s", clone, got)
		}
		if clone > 0 && got != first {
			t.Fatalf("clone %d: environ\n%s\nwant, as clone 0's:\n%s", clone, got, first)
		}
		first = got
	}
}

// TestInitEndsWithACollection: ferry_start collects the garbage init left
// before it returns, so the snapshot holds a collected heap and a clone's
// first invocation starts with that collection done rather than redoing
// it (DESIGN.md, "Collecting after init"). randsnap's init allocates far
// less than the runtime's 4 MB minimum heap goal: left to itself, the
// runtime would have run no collection by then. An instance started
// without snapshots runs the same init.
func TestInitEndsWithACollection(t *testing.T) {
	t.Run("clone", func(t *testing.T) {
		skipWithoutSnapshots(t)
		f := sampletest.Load(t, "testdata/randsnap", adapter.Config{Name: "randsnap"})
		if ok, reason := f.Snapshot(); !ok {
			t.Fatalf("no snapshot: %s", reason)
		}
		f.CloseIdle() // the template's clone, if any, goes: a new clone serves
		if o := randInvoke(t, f); o.Calls != 1 || o.GCs < 1 {
			t.Fatalf("a clone's first invocation: %+v, want calls 1 after at least one collection", o)
		}
	})
	t.Run("without snapshots", func(t *testing.T) {
		e, err := adapter.NewEngine(context.Background(), adapter.WithoutSnapshots())
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(context.Background())
		f, err := e.LoadFile(context.Background(), sampletest.Module(t, "testdata/randsnap"), adapter.Config{Name: "randsnap"})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close(context.Background())
		if o := randInvoke(t, f); o.Calls != 1 || o.GCs < 1 {
			t.Fatalf("a fresh instance's first invocation: %+v, want calls 1 after at least one collection", o)
		}
	})
}

// TestSnapshotFallbackSaysWhy: a function that cannot be snapshotted
// starts instances from scratch and says why, once, in its log.
func TestSnapshotFallbackSaysWhy(t *testing.T) {
	e, err := adapter.NewEngine(context.Background(), adapter.WithoutSnapshots())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	var log bytes.Buffer
	f, err := e.LoadFile(context.Background(), sampletest.Module(t, "testdata/randsnap"), adapter.Config{Name: "randsnap", LogSink: &log})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Snapshot(); ok {
		t.Fatal("snapshot with snapshots off")
	}
	a := randInvoke(t, f)
	f.CloseIdle()
	b := randInvoke(t, f)
	if a.Rand[0] == b.Rand[0] {
		t.Fatal("two fresh instances share a sequence")
	}
	if n := strings.Count(log.String(), "instances start without a snapshot: snapshots are off"); n != 1 {
		t.Fatalf("%d fallback lines in the log:\n%s", n, log.String())
	}
}

// TestSpareInstances keeps the pool ahead of demand: after each
// invocation takes an instance, replacements start in the background, so
// the next invocations find warm instances, within the concurrency limit.
func TestSpareInstances(t *testing.T) {
	f := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "hello", Concurrency: 3, SpareInstances: 2})
	waitIdle := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for f.Stats().Idle < n {
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v, want %d idle", f.Stats(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if res := invoke(t, f, `"a"`); res.InitDuration == 0 {
		t.Fatal("the first invocation was not a cold start")
	}
	waitIdle(2) // the first instance back, and one spare
	for i := range 5 {
		if res := invoke(t, f, `"b"`); res.InitDuration != 0 || res.Failed() {
			t.Fatalf("invocation %d: init %v, %s", i, res.InitDuration, res.Payload)
		}
		waitIdle(2)
	}
	if st := f.Stats(); st.Peak > 3 {
		t.Fatalf("peak %d instances, limit 3", st.Peak)
	}
	if _, err := sampletest.Engine(t).Load(context.Background(), []byte("\x00asm\x01\x00\x00\x00"), adapter.Config{SpareInstances: 11}); err == nil || !strings.Contains(err.Error(), "spareInstances") {
		t.Fatalf("spareInstances above concurrency: %v", err)
	}
}

// TestSnapshotCommandSaysWhy: a command module starts afresh for every
// invocation, and its function's log says once that it has no snapshot
// and why.
func TestSnapshotCommandSaysWhy(t *testing.T) {
	skipWithoutSnapshots(t)
	// (module (memory (export "memory") 1) (func (export "_start")))
	wasm := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type: func () -> ()
		"\x03\x02\x01\x00" + // function 0 has type 0
		"\x05\x03\x01\x00\x01" + // memory min 1
		"\x07\x13\x02\x06memory\x02\x00\x06_start\x00\x00" +
		"\x0a\x04\x01\x02\x00\x0b") // body: no locals, end
	var log bytes.Buffer
	f, err := sampletest.Engine(t).Load(context.Background(), wasm, adapter.Config{Name: "cmd", LogSink: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	for range 2 {
		invoke(t, f, `{}`)
	}
	if ok, reason := f.Snapshot(); ok || !strings.Contains(reason, "command module") {
		t.Fatalf("snapshot %v: %s", ok, reason)
	}
	if n := strings.Count(log.String(), "instances start without a snapshot: a command module"); n != 1 {
		t.Fatalf("%d lines say why:\n%s", n, log.String())
	}
}

// TestSnapshotPrimeEvent: a priming invocation runs on the template before
// the snapshot, so clones start after it (here: its call counted), with
// fresh randomness still; a priming invocation that fails turns snapshots
// off and says why.
func TestSnapshotPrimeEvent(t *testing.T) {
	skipWithoutSnapshots(t)
	f := sampletest.Load(t, "testdata/randsnap", adapter.Config{Name: "randsnap", PrimeEvent: []byte(`{}`)})
	a := randInvoke(t, f)
	f.CloseIdle()
	b := randInvoke(t, f)
	if a.Calls != 2 || b.Calls != 2 {
		t.Fatalf("calls %d and %d, want 2 (the priming call, then this one)", a.Calls, b.Calls)
	}
	if a.Rand[0] == b.Rand[0] {
		t.Fatal("two primed clones share a random sequence")
	}
	if ok, reason := f.Snapshot(); !ok {
		t.Fatal(reason)
	}

	var log bytes.Buffer
	h := sampletest.Load(t, "../samples/hello", adapter.Config{Name: "hello", PrimeEvent: []byte(`{"not":"a string"}`), LogSink: &log})
	if res := invoke(t, h, `"World"`); string(res.Payload) != `"Hello World!"` {
		t.Fatalf("%s", res.Payload)
	}
	if ok, reason := h.Snapshot(); ok || !strings.Contains(reason, "priming invocation failed") {
		t.Fatalf("snapshot %v: %s", ok, reason)
	}
	if !strings.Contains(log.String(), "instances start without a snapshot: the priming invocation failed") {
		t.Fatalf("log:\n%s", log.String())
	}
}

// skipWithoutSnapshots skips a test of snapshots when the environment
// turns them off (FERRY_SNAPSHOTS=0 runs the other tests on fresh
// instances).
func skipWithoutSnapshots(t *testing.T) {
	if os.Getenv("FERRY_SNAPSHOTS") == "0" {
		t.Skip("FERRY_SNAPSHOTS=0")
	}
}
