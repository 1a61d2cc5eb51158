// Package hostabi is the host side of ferry's host ABI: the wazero host
// module "ferry" through which a guest reads its invocation and reports its
// result. The contract itself, including what the guest exports, is in
// ABI.md beside this file.
//
// The host module is stateless: the invocation in progress travels in the
// context.Context of the call into the guest (see WithCall), because wazero
// hands that same context to every host function the guest calls. That lets
// one host module serve every instance in a runtime without a lookup table.
package hostabi

import (
	"context"
	"errors"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/ferrywasm/ferry/hostabi/guest/wire/record"
)

// Version is the ABI version this host implements (ABI.md).
const Version = 1

// Versions lists every ABI version a guest may report from ferry_abi_version.
var Versions = []int32{1}

// ModuleName is the import module name of the host functions.
const ModuleName = "ferry"

// Names of the guest's exports, as in ABI.md.
const (
	ExportInitialize = "_initialize"
	ExportStart      = "_start"
	ExportABIVersion = "ferry_abi_version"
	ExportFerryStart = "ferry_start"
	ExportInvoke     = "ferry_invoke"
)

// MaxResponseSize is Lambda's limit on a synchronous response payload.
const MaxResponseSize = 6291556

// Invocation is one invocation record as the guest reads it with
// ferry.invocation_read; Append encodes it.
type Invocation = record.Invocation

// Call is the host side of one invocation (or of the init phase) in
// progress: the record the guest reads and what it reported.
type Call struct {
	// Record is the encoded invocation record (see record.Invocation).
	Record []byte

	// Response is set by response_write, Error by error_write; the last
	// write wins, and a write of one clears the other.
	Response []byte
	Error    []byte
	// Reported is true once the guest called either.
	Reported bool
	// TooLarge is set when the guest tried to respond with more than
	// MaxResponseSize bytes.
	TooLarge bool

	// Outbound is what the guest may reach with the http_* imports; nil
	// refuses every request.
	Outbound *Outbound

	outMu    sync.Mutex
	outbound *outbound // the requests the guest opened, created on first use
}

type callKey struct{}

// WithCall returns a context carrying c, to be passed to the guest call.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// Instantiate instantiates the "ferry" host module into r. Call it once per
// runtime, before instantiating guests.
func Instantiate(ctx context.Context, r wazero.Runtime) (api.Closer, error) {
	i32 := api.ValueTypeI32
	return r.NewHostModuleBuilder(ModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(invocationRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "buf_len").
		Export("invocation_read").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(responseWrite), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "len").
		Export("response_write").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(errorWrite), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "len").
		Export("error_write").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpRequest), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("head", "head_len").
		Export("http_request").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpBodyWrite), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("handle", "buf", "len").
		Export("http_body_write").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpSend), []api.ValueType{i32}, []api.ValueType{i32}).
		WithParameterNames("handle").
		Export("http_send").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpHeaderRead), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("handle", "which", "buf", "buf_len").
		Export("http_header_read").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpBodyRead), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("handle", "buf", "buf_len").
		Export("http_body_read").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpClose), []api.ValueType{i32}, []api.ValueType{i32}).
		WithParameterNames("handle").
		Export("http_close").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(httpError), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "buf_len").
		Export("http_error").
		Instantiate(ctx)
}

const failed = uint64(0xffffffff) // -1 as an i32 result

func invocationRead(ctx context.Context, m api.Module, stack []uint64) {
	buf, bufLen := uint32(stack[0]), uint32(stack[1])
	c := callFrom(ctx)
	if c == nil || uint64(bufLen) < uint64(len(c.Record)) || !m.Memory().Write(buf, c.Record) {
		stack[0] = failed
		return
	}
	stack[0] = uint64(len(c.Record))
}

func responseWrite(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = write(ctx, m, stack, false)
}

func errorWrite(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = write(ctx, m, stack, true)
}

func write(ctx context.Context, m api.Module, stack []uint64, isError bool) uint64 {
	buf, n := uint32(stack[0]), uint32(stack[1])
	c := callFrom(ctx)
	if c == nil {
		return failed
	}
	if !isError && n > MaxResponseSize {
		c.Reported, c.TooLarge, c.Response, c.Error = true, true, nil, nil
		return failed
	}
	b, ok := m.Memory().Read(buf, n)
	if !ok {
		// The guest passed a range outside its memory: a guest bug, reported
		// as such rather than trapping, so the error names the cause.
		c.Reported, c.Response = true, nil
		c.Error = []byte(`{"errorMessage":"ferry: response range outside guest memory","errorType":"Runtime.InvalidResponse"}`)
		return failed
	}
	// Copy: the guest owns its memory and may reuse it after the call.
	c.Reported, c.TooLarge = true, false
	if isError {
		c.Error, c.Response = append(c.Error[:0], b...), nil
	} else {
		c.Response, c.Error = append(c.Response[:0], b...), nil
	}
	return 0
}

// ErrNoEntryPoint is returned by Mode for a module that is neither a ferry
// reactor nor a WASI command.
var ErrNoEntryPoint = errors.New("module exports neither ferry_invoke (a ferry reactor, see hostabi/ABI.md) nor _start (a WASI command)")

// Mode says how the host drives a guest module.
type Mode int

const (
	// Reactor modules export ferry_invoke: one warm instance serves many
	// invocations, one at a time.
	Reactor Mode = iota + 1
	// Command modules are plain WASI commands: one instance per invocation,
	// event on stdin, response on stdout.
	Command
)

func (m Mode) String() string {
	switch m {
	case Reactor:
		return "reactor"
	case Command:
		return "command"
	}
	return "unknown"
}

// ModeOf picks the mode of a compiled module from its exports. A module
// that exports _start is a command even if it also exports ferry_invoke:
// a Go program built as a command (not -buildmode=c-shared) exports both,
// and its runtime is only initialised by _start.
func ModeOf(m wazero.CompiledModule) (Mode, error) {
	exports := m.ExportedFunctions()
	if _, ok := exports[ExportStart]; ok {
		return Command, nil
	}
	if _, ok := exports[ExportInvoke]; ok {
		if _, ok := exports[ExportABIVersion]; !ok {
			return 0, errors.New("module exports ferry_invoke but not ferry_abi_version (see hostabi/ABI.md)")
		}
		if _, ok := m.ExportedMemories()["memory"]; !ok {
			return 0, errors.New("module exports ferry_invoke but no memory named \"memory\"")
		}
		return Reactor, nil
	}
	return 0, ErrNoEntryPoint
}
