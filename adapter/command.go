package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ferrywasm/ferry/adapter/internal/wasmbin"
	"github.com/ferrywasm/ferry/hostabi"
)

// invokeCommand runs one invocation of a WASI command module: a fresh
// instance, the event on stdin, the response on stdout (hostabi/ABI.md).
func (f *Function) invokeCommand(inv *invocation) (*Result, error) {
	inv.start()
	inst := &instance{f: f}
	stdout := &limitedBuffer{limit: hostabi.MaxResponseSize}
	alloc := &memoryAllocator{limit: uint64(f.cfg.Memory) << 20}
	env := f.cfg.lambdaEnvironment(newLogStream(time.Now()))
	env["FERRY_REQUEST_ID"] = inv.requestID
	env["FERRY_DEADLINE_MS"] = strconv.FormatInt(inv.rec.DeadlineMs, 10)
	env["FERRY_INVOKED_FUNCTION_ARN"] = string(inv.rec.InvokedFunctionARN)
	env["_X_AMZN_TRACE_ID"] = string(inv.rec.TraceID)
	if len(inv.rec.ClientContext) > 0 {
		env["FERRY_CLIENT_CONTEXT"] = string(inv.rec.ClientContext)
	}
	if len(inv.rec.CognitoIdentity) > 0 {
		env["FERRY_COGNITO_IDENTITY"] = string(inv.rec.CognitoIdentity)
	}
	if len(inv.rec.TenantID) > 0 {
		env["FERRY_TENANT_ID"] = string(inv.rec.TenantID)
	}
	mc := inst.moduleConfig(baseModuleConfig(env), stdout).
		WithStdin(bytes.NewReader(inv.rec.Payload)).
		WithArgs(f.cfg.Name)
	defer inst.fs.remove()
	ctx, cancel := context.WithDeadline(experimental.WithMemoryAllocator(context.Background(), alloc), inv.deadline)
	defer cancel()

	start := time.Now()
	ctx = hostabi.WithCall(ctx, &hostabi.Call{Outbound: f.outbound})
	mod, err := f.engine.runtime.InstantiateModule(ctx, f.code.Load().compiled, mc)
	if err == nil {
		inst.mod = mod
		inst.it, err = f.engine.newInterrupter(mod)
	}
	if inst.it != nil {
		defer inst.it.release()
	}
	for _, name := range []string{wasmbin.StartExport, hostabi.ExportStart} {
		if err == nil {
			_, err = inst.callExport(ctx, name)
		}
	}
	duration := time.Since(start)
	inst.mem = alloc.last
	res := &Result{RequestID: inv.requestID, Duration: duration}
	if mod != nil {
		defer mod.Close(context.Background())
	} else if inst.mem != nil {
		defer inst.mem.Free()
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	res.MaxMemoryUsedMB = inst.memoryUsedMB()
	status := "success"
	var platformLine string
	switch {
	case err != nil:
		res.ErrorType, res.Payload, status, platformLine = inst.failure(ctx, err, inv.requestID)
	case stdout.over:
		res.ErrorType, res.Payload = errTooLarge, errorDocument(errTooLarge, msgTooLarge)
	case isErrorDocument(stdout.Bytes()):
		res.ErrorType, res.Payload = errorTypeOf(stdout.Bytes()), stdout.Bytes()
	default:
		res.Payload = stdout.Bytes()
	}
	if res.ErrorType != "" && status == "success" {
		status = "error"
	}
	inst.finishLogs(res, status, platformLine, start)
	return res, nil
}

// isErrorDocument says whether a command's output is a function error: a
// JSON object with a string errorType member.
func isErrorDocument(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	t, ok := doc["errorType"]
	return ok && len(t) > 0 && t[0] == '"'
}

// limitedBuffer keeps at most limit bytes and notes whether more came.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.over || l.Len()+len(p) > l.limit {
		l.over = true
		return len(p), nil
	}
	return l.Buffer.Write(p)
}
