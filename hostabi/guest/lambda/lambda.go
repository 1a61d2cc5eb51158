// Package lambda is a drop-in replacement for
// github.com/aws/aws-lambda-go/lambda that runs a handler inside ferry.
//
// Porting a Lambda handler means changing one import line:
//
//	import "github.com/aws/aws-lambda-go/lambda"
//
// becomes
//
//	import "github.com/ferrywasm/ferry/hostabi/guest/lambda"
//
// and nothing else. Every function, type and option here is aws-lambda-go's
// own (aliases, or thin wrappers around it), so handler signatures, JSON
// options, errors and panics behave exactly as on AWS.
//
// Built with `ferry build` (GOOS=wasip1, -buildmode=c-shared) the program is
// a ferry reactor: ferry runs main once, Start registers the handler and
// returns, and ferry then calls the handler once per invocation through the
// host ABI (hostabi/ABI.md). Built as a plain WASI command (GOOS=wasip1 go
// build), Start serves one invocation from stdin to stdout. Built for any
// other platform, Start is aws-lambda-go's Start, so the same source still
// deploys to AWS Lambda.
//
// Under ferry, outbound HTTP goes through the host: before main runs, the
// package routes http.DefaultTransport (so http.Get and http.DefaultClient)
// through it, and HTTPClient and Transport serve libraries that build their
// own client, such as the AWS SDK. Only the hosts in the function's
// allowedOutboundHosts are reachable (hostabi/ABI.md, "Outbound HTTP").
package lambda

import (
	"context"
	"net/http"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/fhttp"
)

// HTTPClient returns an HTTP client for libraries that build their own
// instead of using http.DefaultClient. Under ferry its requests go out
// through the host, within the function's allowedOutboundHosts; on any
// other platform it is http.DefaultClient. For the AWS SDK for Go v2:
//
//	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(lambda.HTTPClient()))
func HTTPClient() *http.Client { return fhttp.Client() }

// Transport returns the http.RoundTripper behind HTTPClient, for libraries
// that take a transport (http.DefaultTransport outside ferry).
func Transport() http.RoundTripper { return fhttp.Transport }

// Handler is aws-lambda-go's Handler.
type Handler = awslambda.Handler

// Option is aws-lambda-go's handler option.
type Option = awslambda.Option

// HandlerFunc is aws-lambda-go's generic handler constraint.
type HandlerFunc[TIn, TOut any] = awslambda.HandlerFunc[TIn, TOut]

// The handler options of aws-lambda-go.
var (
	WithContext               = awslambda.WithContext
	WithContextValue          = awslambda.WithContextValue
	WithSetEscapeHTML         = awslambda.WithSetEscapeHTML
	WithSetIndent             = awslambda.WithSetIndent
	WithUseNumber             = awslambda.WithUseNumber
	WithDisallowUnknownFields = awslambda.WithDisallowUnknownFields
	WithEnableSIGTERM         = awslambda.WithEnableSIGTERM
)

// NewHandler is aws-lambda-go's NewHandler.
func NewHandler(handlerFunc interface{}) Handler { return awslambda.NewHandler(handlerFunc) }

// NewHandlerWithOptions is aws-lambda-go's NewHandlerWithOptions.
func NewHandlerWithOptions(handlerFunc interface{}, options ...Option) Handler {
	return awslambda.NewHandlerWithOptions(handlerFunc, options...)
}

// Start runs handler as the function's handler; see the package doc for how
// it behaves on each platform. handler may be any handler aws-lambda-go
// accepts.
func Start(handler interface{}) { StartWithOptions(handler) }

// StartWithOptions is Start with aws-lambda-go's handler options.
func StartWithOptions(handler interface{}, options ...Option) { start(handler, options) }

// StartWithContext is Start with a base context.
//
// Deprecated: use StartWithOptions with WithContext, as aws-lambda-go says.
func StartWithContext(ctx context.Context, handler interface{}) {
	StartWithOptions(handler, WithContext(ctx))
}

// StartHandler starts a Handler.
//
// Deprecated: use Start, as aws-lambda-go says.
func StartHandler(handler Handler) { StartWithOptions(handler) }

// StartHandlerWithContext starts a Handler with a base context.
//
// Deprecated: use StartWithOptions with WithContext, as aws-lambda-go says.
func StartHandlerWithContext(ctx context.Context, handler Handler) {
	StartWithOptions(handler, WithContext(ctx))
}

// StartHandlerFunc is the type-checked variant of Start.
func StartHandlerFunc[TIn any, TOut any, H HandlerFunc[TIn, TOut]](handler H, options ...Option) {
	start(handler, options)
}
