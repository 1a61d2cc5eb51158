// Command sdk exercises the azfunc guest SDK's edges: a panicking handler,
// the request context's deadline, headers frozen at WriteHeader.
package main

import (
	"fmt"
	"log"
	"net/http"

	"github.com/ferrywasm/ferry/hostabi/guest/azfunc"
)

func main() {
	http.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic(fmt.Errorf("boom %s", r.URL.Query().Get("n")))
	})
	http.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		_, ok := r.Context().Deadline()
		fmt.Fprintf(w, "deadline=%v host=%s", ok, r.Host)
	})
	http.HandleFunc("/frozen", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		w.WriteHeader(http.StatusAccepted)
		w.Header().Set("X-After", "1") // ignored, as net/http ignores it
		w.Write([]byte("<html>"))
	})
	log.Fatal(azfunc.Serve(nil))
}
