// Package azfunc runs an Azure Functions custom handler written in Go
// inside ferry.
//
// A custom handler is an HTTP server: the Functions host POSTs each
// invocation to /<FunctionName> (or, with enableForwardingHttpRequest,
// forwards an HTTP-triggered request at its own path), and the handler
// answers with an HTTP response. Porting one to ferry changes the line
// that starts the server:
//
//	log.Fatal(http.ListenAndServe(listenAddr, mux))
//
// becomes
//
//	log.Fatal(azfunc.ListenAndServe(listenAddr, mux))
//
// (or azfunc.Serve(mux)), and nothing else: the handler's routes, JSON
// and output bindings stay as they are.
//
// Built with `ferry build` (GOOS=wasip1, -buildmode=c-shared), the program
// is a ferry reactor: ferry runs main once, ListenAndServe registers the
// handler and returns, and each invocation's HTTP request (hostabi/guest/wire/httpmsg)
// is served through the handler in memory. Built for any other platform,
// ListenAndServe is net/http's, listening on the address given (Serve
// listens on $FUNCTIONS_CUSTOMHANDLER_PORT), so the same source still
// deploys to Azure Functions as a classic custom handler.
package azfunc

import (
	"net/http"
	"os"

	"github.com/ferrywasm/ferry/hostabi/guest/internal/fhttp"
)

// Port is the port a custom handler listens on outside ferry:
// $FUNCTIONS_CUSTOMHANDLER_PORT, which the Functions host sets, else 8080
// as in Azure's samples.
func Port() string {
	if p := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"); p != "" {
		return p
	}
	return "8080"
}

// Serve serves handler (nil means http.DefaultServeMux) as the app's
// custom handler: on ferry, as ListenAndServe; elsewhere it is
// http.ListenAndServe(":"+Port(), handler).
func Serve(handler http.Handler) error { return ListenAndServe(":"+Port(), handler) }

// ListenAndServe has net/http's signature, so that a port changes one
// identifier. On ferry addr is ignored (invocations arrive through the
// host ABI) and it does not return: once the handler is registered, the
// program's main ends there (its deferred calls run) and ferry starts
// serving invocations, so log.Fatal(azfunc.ListenAndServe(…)) works as it
// does with net/http. Elsewhere it is http.ListenAndServe.
func ListenAndServe(addr string, handler http.Handler) error {
	if handler == nil {
		handler = http.DefaultServeMux
	}
	return serve(addr, handler)
}

// HTTPClient returns a client whose requests ferry makes on the guest's
// behalf (http.DefaultClient already does), for libraries that take a
// client, such as the Azure SDK's transport option. Natively it is
// http.DefaultClient.
func HTTPClient() *http.Client { return fhttp.Client() }
