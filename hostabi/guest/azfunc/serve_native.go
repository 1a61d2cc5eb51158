//go:build !wasip1

package azfunc

import "net/http"

func serve(addr string, handler http.Handler) error { return http.ListenAndServe(addr, handler) }
