package awshandler

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
)

// Two event types alike in all but name: one primed, one not.
type (
	primedEvent struct {
		Headers map[string]primedLeaf `json:"headers"`
		Records []primedLeaf
		Inner   struct{ A, B string }
		Ptr     *primedLeaf
	}
	primedLeaf struct {
		ID   string `json:"id"`
		Size int    `json:"size"`
	}
	plainEvent struct {
		Headers map[string]plainLeaf `json:"headers"`
		Records []plainLeaf
		Inner   struct{ A, B string }
		Ptr     *plainLeaf
	}
	plainLeaf struct {
		ID   string `json:"id"`
		Size int    `json:"size"`
	}
)

const primeEvent = `{"headers":{"a":{"id":"x","size":1}},"Records":[{"id":"r","size":2}],"Inner":{"A":"a"},"Ptr":{"id":"p"}}`

// mallocs is how many heap allocations decoding primeEvent into a new T
// makes.
func mallocs[T any](t *testing.T) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var v T
	if err := json.Unmarshal([]byte(primeEvent), &v); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

var primeTested bool

// TestPrimeJSONBuildsTheCaches: the first decode of an unprimed type
// allocates its caches, a primed type's first decode does not.
func TestPrimeJSONBuildsTheCaches(t *testing.T) {
	if primeTested {
		t.Skip("encoding/json's caches of these types were built by an earlier run in this process (-count)")
	}
	primeTested = true
	PrimeJSON(func(context.Context, primedEvent) (*primedLeaf, error) { return nil, nil })
	plainFirst, plainThen := mallocs[plainEvent](t), mallocs[plainEvent](t)
	primedFirst, primedThen := mallocs[primedEvent](t), mallocs[primedEvent](t)
	t.Logf("allocations decoding, first / then: unprimed %d / %d, primed %d / %d", plainFirst, plainThen, primedFirst, primedThen)
	if plainFirst < plainThen+5 {
		t.Fatalf("an unprimed type's first decode made %d allocations, later ones %d: this test cannot tell priming", plainFirst, plainThen)
	}
	if primedFirst > primedThen+1 {
		t.Errorf("a primed type's first decode made %d allocations, later ones %d: its caches were not built", primedFirst, primedThen)
	}
}

type loud struct{ t *testing.T }

func (l loud) MarshalJSON() ([]byte, error) { l.t.Error("MarshalJSON called"); return nil, nil }
func (l *loud) UnmarshalJSON([]byte) error  { l.t.Error("UnmarshalJSON called"); return nil }

type loudPtr struct{}

func (*loudPtr) MarshalJSON() ([]byte, error) { panic("MarshalJSON called") }

type withLoud struct {
	L  loud
	LP *loudPtr
	C  chan int
	F  func()
}

// PrimeJSON calls no method of the handler's types and takes any type,
// and any handler, without failing.
func TestPrimeJSONCallsNoMethods(t *testing.T) {
	PrimeJSON(func(context.Context, withLoud) (loud, error) { return loud{}, nil })
	PrimeJSON(func(loudPtr) (chan int, error) { return nil, nil })
	for _, h := range []any{nil, 5, customHandler{}, func() {}} {
		PrimeJSON(h)
	}
}
