// A handler not yet ported: it still imports aws-lambda-go's lambda.
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() error { return nil }) }
