package adapter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
)

// Snapshots (measured in BENCHMARKS.md; what they rest on in DESIGN.md).
//
// A reactor returns to the host after its init phase with an empty wasm
// stack, so all its state is then linear memory plus the module's
// globals. ferry initialises one instance of a function (the template),
// keeps its memory in a memfd and its globals' values (the image), and
// starts every instance that serves invocations as a clone: a fresh
// instance of the module whose memory maps the image copy-on-write and
// whose globals are set to the template's. A clone runs neither the Go
// runtime's start-up nor package init nor main, and copies no data
// segments: the module is loaded rewritten (internal/wasmbin) with its
// globals exported and its data segments passive, and ferry copies the
// segments itself when it starts an instance from scratch.
//
// Randomness: the template's random state is in its memory, so every clone
// would replay the same math/rand sequence. The Go runtime draws all of
// math/rand, math/rand/v2's top-level functions, map seeds and select
// order from chacha8rand states (one per M, and the global one); ferry
// finds them in the template's memory (a state is recognisable: its
// buffer is the ChaCha8 block of its seed and counter) and gives each clone
// fresh seeds and buffers from crypto/rand. crypto/rand itself asks the
// host on every call and needs nothing. Values the program derived from
// its seeds before the snapshot (map hash seeds, for one) stay as they
// are, as they would in one long-lived instance.

// image is a function's snapshot, shared by its clones.
type image struct {
	file     imageFile
	size     uint64 // bytes of linear memory
	globals  []savedGlobal
	rand     []uint32            // offsets of the chacha8rand states to reseed
	config   wazero.ModuleConfig // the template's base (baseModuleConfig): its env
	initLogs []byte

	// The memfd is closed when the image is dropped and no clone is
	// mapping it: a clone mid-start must not map a closed (or reused) fd.
	mu      sync.Mutex
	mapping int
	dropped bool
}

func (img *image) acquire() bool {
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.dropped {
		return false
	}
	img.mapping++
	return true
}

func (img *image) release() {
	img.mu.Lock()
	defer img.mu.Unlock()
	img.mapping--
	if img.dropped && img.mapping == 0 {
		img.file.close()
	}
}

// drop closes the image once no clone is mapping it; clones keep their
// own mappings.
func (img *image) drop() {
	img.mu.Lock()
	defer img.mu.Unlock()
	if !img.dropped {
		img.dropped = true
		if img.mapping == 0 {
			img.file.close()
		}
	}
}

type savedGlobal struct {
	g     wasmbin.Global
	value uint64
}

// snapshotState is a code's snapshot, made on first need.
type snapshotState struct {
	mu     sync.Mutex
	img    *image
	reason string // why there is no snapshot; "" while one may be made
	logged sync.Once
}

// snapshotable rewrites a reactor module for snapshots, or says why it
// cannot be.
func snapshotable(wasm []byte) (*wasmbin.Module, string) {
	if !imagesSupported {
		return nil, "snapshots need Linux (memfd)"
	}
	m, err := wasmbin.Rewrite(wasm)
	if err != nil {
		return nil, err.Error()
	}
	for _, e := range m.Exports {
		if e == hostabi.ExportStart {
			return nil, "a command module starts afresh for every invocation"
		}
	}
	return m, ""
}

// disable gives up snapshots for c and says why, once, in f's log; c.snap.mu
// is held, or c is not yet shared.
func (c *code) disable(f *Function, reason string) {
	c.snap.reason = reason
	c.snap.logged.Do(func() {
		if sink := f.cfg.LogSink; sink != nil {
			fmt.Fprintf(sink, "ferry: %s: instances start without a snapshot: %s\n", f.cfg.Name, reason)
		}
	})
}

// snapshot returns c's image, making it on first need from a template
// instance. When the template's init fails, res is the failure for the
// invocation that asked; when the image cannot be made, inst is the
// template, to serve as an ordinary instance.
func (c *code) snapshot(f *Function) (img *image, inst *instance, res *Result) {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	if c.snap.img != nil || c.snap.reason != "" {
		return c.snap.img, nil, nil
	}
	base := baseModuleConfig(f.cfg.lambdaEnvironment(newLogStream(time.Now())))
	rnd := &randRecorder{}
	tmpl, res := startInstance(f, c, base, rnd)
	if res != nil {
		return nil, nil, res // as a fresh start would; the next start tries again
	}
	if ev := f.cfg.PrimeEvent; ev != nil {
		initLogs, initDuration := tmpl.initLogs, tmpl.initDuration
		res, keep := tmpl.invoke(f.record(&Request{Payload: ev}))
		if !keep || res.Failed() {
			if !keep {
				tmpl.close()
				tmpl = nil
			}
			c.disable(f, fmt.Sprintf("the priming invocation failed (%s): %s", res.ErrorType, res.Payload))
			if tmpl != nil {
				tmpl.initLogs, tmpl.initDuration = initLogs, initDuration
			}
			return nil, tmpl, nil
		}
		tmpl.initLogs, tmpl.initDuration = initLogs, initDuration
	}
	img, err := capture(tmpl, c, base, rnd.first)
	if err != nil {
		c.disable(f, err.Error())
		return nil, tmpl, nil
	}
	tmpl.close()
	c.snap.img = img
	return img, nil, nil
}

// dropSnapshot gives up c's snapshot after a clone failed to start.
func (c *code) dropSnapshot(f *Function, reason string) {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	if c.snap.img != nil {
		c.snap.img.drop()
		c.snap.img = nil
	}
	c.disable(f, reason)
}

// closeSnapshot releases c's image; clones keep their own mappings.
func (c *code) closeSnapshot() {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	if c.snap.img != nil {
		c.snap.img.drop()
		c.snap.img = nil
		c.snap.reason = "closed"
	}
}

// capture makes the image of an initialised template instance.
func capture(tmpl *instance, c *code, base wazero.ModuleConfig, seed []byte) (*image, error) {
	if tmpl.mem == nil || tmpl.mem.free == nil {
		return nil, errors.New("the instance's memory is not a private mapping")
	}
	mem := tmpl.mem.buf
	img := &image{size: uint64(len(mem)), config: base, initLogs: tmpl.initLogs}
	for _, g := range c.rewritten.Globals {
		if !g.Mutable {
			continue
		}
		eg := tmpl.mod.ExportedGlobal(g.Export)
		if eg == nil {
			return nil, fmt.Errorf("global %d is not exported", g.Index)
		}
		img.globals = append(img.globals, savedGlobal{g: g, value: eg.Get()})
	}
	img.rand = runtimeStates(mem, seed)
	if len(img.rand) == 0 && c.rewritten.IsGo {
		return nil, errors.New("the Go runtime's random state was not found (a Go version ferry does not know?): clones would share it")
	}
	file, err := newImageFile(mem)
	if err != nil {
		return nil, fmt.Errorf("saving the memory image: %w", err)
	}
	img.file = file
	return img, nil
}

// errReleased is restore's error for an image dropped meanwhile (the
// function was reloaded or closed): not a reason to give up snapshots.
var errReleased = errors.New("the snapshot was released")

// restore starts an instance as a clone of img.
func restore(f *Function, c *code, img *image) (*instance, error) {
	start := time.Now()
	if !img.acquire() {
		return nil, errReleased
	}
	defer img.release()
	inst := &instance{f: f, code: c}
	alloc := &memoryAllocator{limit: uint64(f.cfg.Memory) << 20, image: img}
	mc := inst.moduleConfig(img.config, &inst.logs)
	ctx := experimental.WithMemoryAllocator(context.Background(), alloc)
	mod, err := f.engine.runtime.InstantiateModule(ctx, c.compiled, mc)
	inst.mem = alloc.last
	inst.mod = mod
	if err == nil {
		err = alloc.err
	}
	if err != nil {
		inst.close()
		return nil, err
	}
	if err == nil {
		inst.it, err = f.engine.newInterrupter(mod)
	}
	if err != nil {
		inst.close()
		return nil, err
	}
	if inst.mem == nil || uint64(len(inst.mem.buf)) > img.size {
		inst.close()
		return nil, errors.New("the memory was not allocated from the image")
	}
	if delta := (img.size - uint64(len(inst.mem.buf))) >> 16; delta > 0 {
		if _, ok := mod.Memory().Grow(uint32(delta)); !ok {
			inst.close()
			return nil, fmt.Errorf("growing memory to %d bytes failed", img.size)
		}
	}
	for _, s := range img.globals {
		g, ok := mod.ExportedGlobal(s.g.Export).(api.MutableGlobal)
		if !ok {
			inst.close()
			return nil, fmt.Errorf("global %d is not mutable", s.g.Index)
		}
		g.Set(s.value)
	}
	mem := inst.mem.buf
	for _, off := range img.rand {
		// A fresh buffer and seed: the state's next values come from the
		// new buffer, and after it from ChaCha8 under the new seed.
		_, _ = rand.Read(mem[off : off+chachaSeedEnd])
	}
	inst.entry = mod.ExportedFunction(hostabi.ExportInvoke)
	inst.initLogs = img.initLogs
	inst.initDuration = time.Since(start)
	return inst, nil
}

// The layout of Go's internal/chacha8rand.State on wasm (Go 1.22 on):
// buf [32]uint64, seed [4]uint64, i, n, c uint32.
const (
	chachaSeed    = 256
	chachaSeedEnd = 288
	chachaI       = 288
	chachaN       = 292
	chachaC       = 296
	chachaSize    = 300
)

// findChaCha8 returns the offsets of the chacha8rand states in mem: 8-byte
// aligned places whose counters are consistent (c is 0, 4, 8 or 12; n is
// 28 exactly when c is 12, else 32; i ≤ n) and whose buffer is the ChaCha8
// output of their seed at that counter.
func findChaCha8(mem []byte) []uint32 {
	var found []uint32
	le := binary.LittleEndian
	for off := 0; off+chachaSize <= len(mem); off += 8 {
		n := le.Uint32(mem[off+chachaN:])
		if n != 32 && n != 28 {
			continue
		}
		c := le.Uint32(mem[off+chachaC:])
		if c > 12 || c%4 != 0 || (c == 12) != (n == 28) || le.Uint32(mem[off+chachaI:]) > n {
			continue
		}
		seed := mem[off+chachaSeed : off+chachaSeedEnd]
		if bytes.Equal(seed, make([]byte, 32)) {
			continue
		}
		// math/rand/v2's ChaCha8 is the same generator: its outputs are
		// the blocks at counters 0, 4, 8 and 12 (28 of the last).
		g := randv2.NewChaCha8([32]byte(seed))
		for range c / 4 * 32 {
			g.Uint64()
		}
		ok := true
		for k := 0; k < 28 && ok; k++ {
			ok = g.Uint64() == le.Uint64(mem[off+8*k:])
		}
		if ok {
			found = append(found, uint32(off))
		}
	}
	return found
}

// randRecorder is the template's randomness: crypto/rand, the first bytes
// of which it keeps, because the Go runtime seeds its global generator
// with the first 32 bytes it asks for (runtime.randinit).
type randRecorder struct{ first []byte }

func (r *randRecorder) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	if len(r.first) < 32 {
		r.first = append(r.first, p[:min(n, 32-len(r.first))]...)
	}
	return n, err
}

// runtimeStates returns the offsets of the Go runtime's chacha8rand states
// in mem: those found by findChaCha8 that descend from seed. The runtime
// seeds its global state with seed, draws each M's seed from it, and
// reseeds every state from its own output every 124 values; a state the
// program made itself (math/rand/v2.NewChaCha8 with a seed of its own) is
// not the runtime's and must keep its sequence.
func runtimeStates(mem []byte, seed []byte) []uint32 {
	if len(seed) < 32 {
		return nil
	}
	found := findChaCha8(mem)
	if len(found) == 0 {
		return nil
	}
	want := map[[32]byte]uint32{}
	for _, off := range found {
		want[[32]byte(mem[off+chachaSeed:off+chachaSeedEnd])] = off
	}
	// The roots: the global state's seed, and every 4 consecutive values
	// of its first outputs (hashkey, M seeds and the global reseed are
	// drawn from them).
	g := randv2.NewChaCha8([32]byte(seed))
	roots := [][32]byte{[32]byte(seed)}
	var out []uint64
	for range 64 {
		out = append(out, g.Uint64())
	}
	for i := 0; i+4 <= len(out); i++ {
		var s [32]byte
		for k := range 4 {
			binary.LittleEndian.PutUint64(s[8*k:], out[i+k])
		}
		roots = append(roots, s)
	}
	var states []uint32
	take := func(s [32]byte) {
		if off, ok := want[s]; ok {
			states = append(states, off)
			delete(want, s)
		}
	}
	for _, r := range roots {
		take(r)
		// Follow the reseed chain: after 124 values a state reseeds from
		// its own output; MarshalBinary shows the seed in use.
		g := randv2.NewChaCha8(r)
		for range 512 {
			for range 124 {
				g.Uint64()
			}
			b, _ := g.MarshalBinary()
			take([32]byte(b[16:48]))
			if len(want) == 0 {
				break
			}
		}
	}
	return states
}

// Snapshot says whether f's instances start as clones of a snapshot and,
// when they do not, why. Before the first instance starts it says whether
// they will try.
func (f *Function) Snapshot() (ok bool, reason string) {
	c := f.code.Load()
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	return c.rewritten != nil && c.snap.reason == "", c.snap.reason
}
