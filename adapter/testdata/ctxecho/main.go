// Command ctxecho answers with everything Lambda hands a handler besides
// the event: its context and environment. Tests use it to check the host
// ABI's plumbing.
package main

import (
	"context"
	"math/rand"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/ferrywasm/ferry/hostabi/guest/lambda"
)

type reply struct {
	Context     *lambdacontext.LambdaContext `json:"context"`
	TraceValue  any                          `json:"traceValue"`
	TraceEnv    string                       `json:"traceEnv"`
	BaseValue   any                          `json:"baseValue"`
	DeadlineIn  time.Duration                `json:"deadlineIn"`
	Env         map[string]string            `json:"env"`
	Function    string                       `json:"function"`
	MemoryLimit int                          `json:"memoryLimit"`
	Random      int64                        `json:"random"`
	Now         time.Time                    `json:"now"`
	Event       map[string]any               `json:"event"`
}

func handler(ctx context.Context, event map[string]any) (reply, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	env := map[string]string{}
	for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_LAMBDA_INITIALIZATION_TYPE", "_HANDLER", "TZ", "LAMBDA_TASK_ROOT", "GREETING"} {
		env[k] = os.Getenv(k)
	}
	return reply{
		Context:     lc,
		TraceValue:  ctx.Value("x-amzn-trace-id"),
		TraceEnv:    os.Getenv("_X_AMZN_TRACE_ID"),
		BaseValue:   ctx.Value(baseKey{}),
		DeadlineIn:  time.Until(deadline),
		Env:         env,
		Function:    lambdacontext.FunctionName,
		MemoryLimit: lambdacontext.MemoryLimitInMB,
		Random:      rand.Int63(),
		Now:         time.Now(),
		Event:       event,
	}, nil
}

// baseKey is the key of a value the handler's options put in the base
// context every invocation's context derives from.
type baseKey struct{}

func main() {
	lambda.StartWithOptions(handler, lambda.WithContextValue(baseKey{}, "from WithContextValue"))
}
