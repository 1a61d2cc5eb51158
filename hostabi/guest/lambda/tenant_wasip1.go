//go:build wasip1

package lambda

import (
	"context"
	"reflect"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// tenantID is the tenant of the invocation in progress (an instance serves
// one invocation at a time).
//
// aws-lambda-go's runtime API loop (invoke_loop.go) puts the
// Lambda-Runtime-Aws-Tenant-Id header in LambdaContext.TenantID. ferry
// invokes through lambda.Function, whose go1.x RPC request has no tenant
// field, so withTenant adds it to the context the handler receives. Every
// other value the loop sets (deadline, request id, ARN, client context,
// Cognito identity, the trace id value and _X_AMZN_TRACE_ID) Function sets
// the same way; DESIGN.md says which test compares the two.
var tenantID string

var (
	contextType = reflect.TypeFor[context.Context]()
	// optionsHandlerType is the type NewHandler returns. Start uses such a
	// handler as it is, with the options it was built with (its base
	// context among them); wrapping it would drop them, so it is not
	// wrapped and its handler sees no TenantID.
	optionsHandlerType = reflect.TypeOf(awslambda.NewHandler(nil))
)

// withTenant returns handler, of any kind aws-lambda-go accepts, so that
// the context it receives carries the invocation's tenant id. A function
// keeps its exact type (reflect.MakeFunc), so aws-lambda-go decodes its
// event and encodes its result as before; a handler that takes no context
// cannot see the tenant and is returned as it is.
func withTenant(handler interface{}) interface{} {
	if h, ok := handler.(Handler); ok {
		if reflect.TypeOf(h) == optionsHandlerType {
			return h
		}
		return tenantHandler{h}
	}
	v := reflect.ValueOf(handler)
	if !v.IsValid() || v.Kind() != reflect.Func || v.Type().NumIn() == 0 || v.Type().In(0) != contextType {
		return handler // invalid handlers keep aws-lambda-go's own error
	}
	return reflect.MakeFunc(v.Type(), func(args []reflect.Value) []reflect.Value {
		ctx := addTenant(args[0].Interface().(context.Context))
		args[0] = reflect.ValueOf(&ctx).Elem()
		return v.Call(args)
	}).Interface()
}

// tenantHandler is a Handler whose context carries the tenant id.
type tenantHandler struct{ h Handler }

func (t tenantHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return t.h.Invoke(addTenant(ctx), payload)
}

// addTenant returns ctx with a copy of its LambdaContext that holds the
// tenant id, as aws-lambda-go's loop builds it.
func addTenant(ctx context.Context) context.Context {
	if tenantID == "" {
		return ctx
	}
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return ctx
	}
	withTenant := *lc
	withTenant.TenantID = tenantID
	return lambdacontext.NewContext(ctx, &withTenant)
}
