//go:build !wasip1

package lambda

import awslambda "github.com/aws/aws-lambda-go/lambda"

// start is aws-lambda-go's own outside WebAssembly, so a ported handler
// still runs on AWS Lambda unchanged.
func start(handler interface{}, options []Option) {
	awslambda.StartWithOptions(handler, options...)
}
