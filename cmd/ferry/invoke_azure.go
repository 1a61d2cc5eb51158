package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ferrywasm/ferry/adapter"
	"github.com/ferrywasm/ferry/azure"
	"github.com/ferrywasm/ferry/internal/azurehost"
	"github.com/ferrywasm/ferry/internal/gobuild"
)

// invokeAzure is `ferry invoke --azure-app DIR FUNCTION -e doc.json`: one
// invocation of one function of an Azure Functions app, sent to its custom
// handler as the Functions host would (POST /FUNCTION with doc). The
// handler's reply body goes to stdout; exit 1 when the invocation failed
// (a non-2xx reply included), as the host counts it. build are the
// settings of the custom handler's build.
func invokeAzure(ctx context.Context, dir, function string, doc []byte, cfg adapter.Config, stdout, stderr io.Writer, build ...gobuild.Option) int {
	getenv := func(k string) string {
		if v, ok := cfg.Environment[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	app, err := azure.Load(dir, getenv)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	known := false
	for _, f := range app.Functions {
		known = known || f.Name == function
	}
	if !known {
		return fail(stderr, "invoke", fmt.Errorf("app %s has no function %q", dir, function))
	}
	fc := azurehost.FunctionConfig(app, cfg.Environment)
	fc.Memory, fc.LogFormat, fc.Concurrency, fc.LogSink = cfg.Memory, cfg.LogFormat, 1, stderr
	fc.AllowedOutboundHosts = cfg.AllowedOutboundHosts
	if cfg.Files != "" {
		fc.Files = cfg.Files
	}
	if cfg.Timeout > 0 {
		fc.Timeout = cfg.Timeout
	}
	fmt.Fprintf(stderr, "building %s\n", app.Dir)
	module, err := gobuild.Cached(ctx, app.Dir, build...)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	engine, err := adapter.NewEngine(ctx)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	defer engine.Close(ctx)
	fn, err := engine.LoadFile(ctx, module, fc)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	host, err := azurehost.NewHost(app, fn, azurehost.Options{Log: stderr})
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	defer host.Close(ctx)
	rec, err := host.Call(ctx, function, doc)
	if err != nil {
		return fail(stderr, "invoke", err)
	}
	if rec.Response != nil {
		stdout.Write(rec.Response.Body)
		if n := len(rec.Response.Body); n == 0 || rec.Response.Body[n-1] != '\n' {
			fmt.Fprintln(stdout)
		}
	}
	if rec.Err != nil {
		return 1
	}
	return 0
}
