package adapter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
)

// initTimeout bounds an instance's init phase, as Lambda bounds it.
const initTimeout = 10 * time.Second

// instance is one warm reactor instance: a Lambda execution environment.
// It serves one invocation at a time.
type instance struct {
	f     *Function
	code  *code // what it was instantiated from
	mod   api.Module
	entry api.Function // ferry_invoke
	mem   *linearMemory
	logs  logBuffer
	// it stops the guest's code at the deadline (interrupt.go);
	// interrupted says why it did, once it has: the instance is then done.
	it          *interrupter
	interrupted interruptReason
	// ctx is the context of the current call into the guest: a guest
	// asleep in poll_oneoff wakes when it is done (see sleep).
	ctx *callContext

	fs           *instanceFS   // its /tmp, removed by close
	initDuration time.Duration // reported on the first invocation, then zero
	initLogs     []byte
	lastUsed     time.Time
	buf          []byte // the encoded record, reused across invocations
}

// newInstance starts an instance ready to serve: a clone of the code's
// snapshot when it has one (snapshot.go), else an instance that runs its
// init phase. A failed init is returned as the result of the invocation
// that asked for the instance.
func newInstance(f *Function) (*instance, *Result) {
	c := f.code.Load()
	if c.rewritten != nil {
		img, tmpl, res := c.snapshot(f)
		if res != nil || tmpl != nil {
			return tmpl, res
		}
		if img != nil {
			inst, err := restore(f, c, img)
			if err == nil {
				return inst, nil
			}
			if err != errReleased {
				c.dropSnapshot(f, "restoring the snapshot failed: "+err.Error())
			}
		}
	}
	return startInstance(f, c, baseModuleConfig(f.cfg.lambdaEnvironment(newLogStream(time.Now()))), nil)
}

// startInstance starts an instance of c from scratch with base (see
// baseModuleConfig) and runs its init phase. rnd, when set, is the guest's
// randomness instead of crypto/rand.
func startInstance(f *Function, c *code, base wazero.ModuleConfig, rnd io.Reader) (*instance, *Result) {
	inst := &instance{f: f, code: c}
	alloc := &memoryAllocator{limit: uint64(f.cfg.Memory) << 20}
	mc := inst.moduleConfig(base, &inst.logs)
	if rnd != nil {
		mc = mc.WithRandSource(rnd)
	}
	ctx, cancel := context.WithTimeout(experimental.WithMemoryAllocator(context.Background(), alloc), initTimeout)
	defer cancel()
	start := time.Now()
	err := inst.init(ctx, mc, alloc)
	inst.initDuration = time.Since(start)
	inst.initLogs = bytes.Clone(inst.logs.Bytes())
	inst.logs.reset()
	if err == nil {
		return inst, nil
	}
	// Lambda reports an init failure as the invocation's error and starts
	// a fresh environment for the next invocation.
	doc, ok := err.(guestError)
	if !ok {
		doc = guestError(errorDocument(errExit, fmt.Sprintf("Runtime exited with error: %s", inst.cause(ctx, err))))
	}
	inst.close()
	var logs bytes.Buffer
	logs.Write(inst.initLogs)
	fmt.Fprintf(&logs, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s\n", ms(inst.initDuration), errorTypeOf(doc))
	return nil, &Result{Payload: doc, ErrorType: errorTypeOf(doc), Logs: logs.Bytes(), InitDuration: inst.initDuration}
}

// baseModuleConfig is the part of a guest instance's module config that
// does not depend on the instance: the host's real clocks and randomness
// (wazero's defaults are deterministic fakes), no start functions (the
// caller calls them, under a deadline), and env, in the order of its keys.
// It is built once per snapshot and shared by its clones: wazero's WithEnv
// copies the whole config, its map of variables included, for each
// variable (tens of µs for Lambda's environment).
func baseModuleConfig(env map[string]string) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStartFunctions()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		mc = mc.WithEnv(k, env[k])
	}
	return mc
}

// moduleConfig is base with what is the instance's own: a sleep the
// deadline interrupts, stdout, stderr as log, and its files (/var/task, a
// private /tmp; see newInstanceFS).
func (inst *instance) moduleConfig(base wazero.ModuleConfig, stdout io.Writer) wazero.ModuleConfig {
	return base.
		WithFSConfig(inst.newInstanceFS()).
		WithNanosleep(inst.sleep).
		WithStdout(stdout).
		WithStderr(&inst.logs)
}

// guestError is an error document the guest reported during init.
type guestError []byte

func (g guestError) Error() string { return string(g) }

func (inst *instance) init(ctx context.Context, mc wazero.ModuleConfig, alloc *memoryAllocator) error {
	mod, err := inst.f.engine.runtime.InstantiateModule(ctx, inst.code.compiled, mc)
	inst.mem = alloc.last
	if err != nil {
		return err
	}
	inst.mod = mod
	if inst.it, err = inst.f.engine.newInterrupter(mod); err != nil {
		return err
	}
	if m := inst.code.rewritten; m != nil {
		// The module's data segments are passive (snapshot.go): copy them
		// as instantiating the original module would have.
		for _, seg := range m.Segments {
			if !mod.Memory().Write(seg.Offset, seg.Data) {
				return fmt.Errorf("data segment at %d (%d bytes) is out of bounds of memory", seg.Offset, len(seg.Data))
			}
		}
	}
	// The module's start function, then WASI's: what instantiating
	// would have run, now under the init deadline.
	for _, name := range []string{wasmbin.StartExport, hostabi.ExportInitialize} {
		if _, err := inst.callExport(ctx, name); err != nil {
			return err
		}
	}
	v, err := inst.callExport(ctx, hostabi.ExportABIVersion)
	if err != nil {
		return err
	}
	if v == nil {
		return guestError(errorDocument("Runtime.InvalidABIVersion", "the module does not export "+hostabi.ExportABIVersion))
	}
	if !supported(int32(v[0])) {
		return guestError(errorDocument("Runtime.InvalidABIVersion",
			fmt.Sprintf("the module was built for ferry ABI version %d; this host supports %v", int32(v[0]), hostabi.Versions)))
	}
	call := &hostabi.Call{Outbound: inst.f.outbound}
	r, err := inst.callExport(hostabi.WithCall(ctx, call), hostabi.ExportFerryStart)
	if err != nil {
		return err
	}
	if call.Error != nil {
		return guestError(call.Error)
	}
	if r != nil && r[0] != 0 {
		return fmt.Errorf("ferry_start returned %d", int32(r[0]))
	}
	inst.entry = mod.ExportedFunction(hostabi.ExportInvoke)
	return nil
}

// callExport calls the guest's export name, if it has one (nil results
// when not), under ctx's deadline.
func (inst *instance) callExport(ctx context.Context, name string, params ...uint64) ([]uint64, error) {
	fn := inst.mod.ExportedFunction(name)
	if fn == nil {
		return nil, nil
	}
	deadline, _ := ctx.Deadline()
	inst.ctx = inst.it.begin(ctx, deadline)
	res, err := fn.Call(inst.ctx, params...)
	inst.finish()
	if res == nil && err == nil {
		res = []uint64{}
	}
	return res, err
}

// finish ends a call into the guest (begun with inst.it.begin).
func (inst *instance) finish() {
	if reason := inst.it.finish(); reason != notInterrupted {
		inst.interrupted = reason
	}
}

func supported(v int32) bool {
	for _, s := range hostabi.Versions {
		if v == s {
			return true
		}
	}
	return false
}

// invoke runs one invocation and says whether the instance may serve again.
func (inst *instance) invoke(inv *invocation) (*Result, bool) {
	inv.start()
	inst.buf = inv.rec.Append(inst.buf[:0])
	call := &hostabi.Call{Record: inst.buf, Outbound: inst.f.outbound}
	// The invocation is bounded by its deadline only: like Lambda, a
	// caller that goes away does not stop a running function.
	start := time.Now()
	ctx := inst.it.begin(hostabi.WithCall(context.Background(), call), inv.deadline)
	inst.ctx = ctx
	ret, err := inst.entry.Call(ctx, uint64(len(inst.buf)))
	inst.finish()
	duration := time.Since(start)

	res := &Result{RequestID: inv.requestID, Duration: duration, InitDuration: inst.initDuration}
	keep := err == nil && ret[0] == 0 && inst.interrupted == notInterrupted
	status := "success"
	var platformLine string
	switch {
	case err != nil:
		res.ErrorType, res.Payload, status, platformLine = inst.failure(ctx, err, inv.requestID)
	case call.TooLarge:
		res.ErrorType, res.Payload = errTooLarge, errorDocument(errTooLarge, msgTooLarge)
	case call.Error != nil:
		res.ErrorType, res.Payload = errorTypeOf(call.Error), call.Error
	case !call.Reported:
		res.ErrorType = errNoResponse
		res.Payload = errorDocument(errNoResponse, "the function returned without a response (see hostabi/ABI.md)")
	default:
		res.Payload = call.Response
	}
	if res.ErrorType != "" && status == "success" {
		status = "error"
	}
	res.MaxMemoryUsedMB = inst.memoryUsedMB()
	inst.finishLogs(res, status, platformLine, start)
	return res, keep
}

// failure classifies an invocation that ended the instance: timeout, out
// of memory, or exit/trap.
func (inst *instance) failure(ctx context.Context, err error, requestID string) (errorType string, doc []byte, status, logLine string) {
	prefix := "RequestId: " + requestID + " Error: "
	switch cause := inst.cause(ctx, err); {
	case cause == "timeout":
		msg := fmt.Sprintf(timeoutLogLine, inst.f.cfg.Timeout.Seconds())
		return errTimeout, errorDocument(errTimeout, prefix+msg), "timeout",
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + requestID + " " + msg
	case cause == "out of memory":
		return errOutOfMemory, errorDocument(errOutOfMemory, prefix+msgOutOfMemory), "error",
			fmt.Sprintf("ferry: the function ran out of memory (Memory Size: %d MB)", inst.f.cfg.Memory)
	default:
		return errExit, errorDocument(errExit, prefix+"Runtime exited with error: "+cause), "error", ""
	}
}

// cause says why a call into the guest failed, in words fit for Lambda's
// "Runtime exited with error: …".
func (inst *instance) cause(ctx context.Context, err error) string {
	if inst.interrupted == interruptedByDeadline || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	if inst.interrupted == interruptedByClose {
		return "the host is shutting down"
	}
	if inst.mem != nil && inst.mem.exhausted.Load() {
		return "out of memory"
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Sprintf("exit status %d", exit.ExitCode())
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // drop wazero's wasm stack trace; it goes to the log
	}
	return msg
}

func (inst *instance) finishLogs(res *Result, status, platformLine string, start time.Time) {
	if platformLine != "" {
		inst.logs.WriteString(platformLine + "\n")
	}
	if inst.logs.truncated {
		inst.logs.Buffer.WriteString(truncatedNotice)
	}
	var out bytes.Buffer
	// The platform lines take about 350 bytes in the text format: room
	// for them up front, or writeLog's appends reallocate twice.
	out.Grow(len(inst.initLogs) + inst.logs.Len() + 512)
	writeLog(&out, inst.f.cfg.LogFormat, &report{
		requestID:    res.RequestID,
		memorySize:   inst.f.cfg.Memory,
		duration:     res.Duration,
		initDuration: inst.initDuration,
		maxMemoryMB:  res.MaxMemoryUsedMB,
		status:       status,
	}, inst.initLogs, inst.logs.Bytes(), start)
	res.Logs = out.Bytes()
	if sink := inst.f.cfg.LogSink; sink != nil {
		sink.Write(res.Logs)
	}
	inst.logs.reset()
	inst.initLogs, inst.initDuration = nil, 0
}

func (inst *instance) memoryUsedMB() int {
	if inst.mem == nil {
		return 0
	}
	return inst.mem.peakMB()
}

// sleep is the guest's nanosleep (WASI poll_oneoff on a clock): a guest
// asleep past its deadline wakes at the deadline, so the timeout stops it
// at once instead of after the sleep.
func (inst *instance) sleep(ns int64) {
	var done <-chan struct{}
	if inst.ctx != nil {
		done = inst.ctx.Done()
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

func (inst *instance) close() {
	if inst.it != nil {
		inst.it.release()
	}
	if inst.mod != nil {
		_ = inst.mod.Close(context.Background())
	} else if inst.mem != nil {
		inst.mem.Free()
	}
	inst.fs.remove()
}

// newLogStream returns a CloudWatch log stream name the way Lambda makes
// them: date, version, random id.
func newLogStream(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b[:])
}
