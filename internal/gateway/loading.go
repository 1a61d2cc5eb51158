package gateway

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// loading is what a Server knows while a config's functions load: those
// still pending with their timeouts, and a channel closed at the next
// deployment (a function more, or all of them).
type loading struct {
	pending map[string]time.Duration
	changed chan struct{}
}

// retryAfter is the Retry-After a request gets when a function it waited
// for is still loading: builds and compilations take seconds.
const retryAfter = "5"

// DeployLoading serves d, the functions loaded so far, while those in
// pending (name → timeout) load. A request for a pending function, or for
// a path no loaded function's route takes (a pending one may), waits for
// the next deployment, up to the function's timeout (the longest pending
// one for a path), then gets 503 with Retry-After: a Lambda-shaped
// ServiceException on the Invoke API. /readyz stays 503 until Deploy.
func (s *Server) DeployLoading(d Deployment, pending map[string]time.Duration) error {
	return s.deploy(d, &loading{pending: maps.Clone(pending), changed: make(chan struct{})})
}

// loadDeadline is the request context key of when a request waiting for
// functions to load gives up: set on its first wait, kept across the
// deployments it is dispatched to again.
type loadDeadline struct{}

// waitLoading holds a request that routed on dep to no function, for
// function (or, for "", for a route or the queue), while functions load,
// then dispatches it again on the newest deployment, or answers 503 past
// the deadline. A request that routed on a deployment since replaced is
// dispatched again at once. It reports false, having done nothing, when
// nothing that could serve the request is loading: the caller answers as
// usual (404).
func (s *Server) waitLoading(w http.ResponseWriter, r *http.Request, function string, dep *deployed) bool {
	if now := s.deployment.Load(); now != dep {
		now.router.ServeHTTP(w, r)
		return true
	}
	l := s.loading.Load()
	if l == nil || len(l.pending) == 0 {
		return false
	}
	timeout, ok := l.pending[function]
	if function == "" {
		for _, t := range l.pending {
			timeout = max(timeout, t)
		}
	} else if !ok {
		return false
	}
	deadline, ok := r.Context().Value(loadDeadline{}).(time.Time)
	if !ok {
		deadline = time.Now().Add(timeout)
		r = r.WithContext(context.WithValue(r.Context(), loadDeadline{}, deadline))
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-l.changed:
		if d := s.deployment.Load(); d != nil {
			d.router.ServeHTTP(w, r)
		}
	case <-t.C:
		w.Header().Set("Retry-After", retryAfter)
		what := "the function " + function
		if function == "" {
			what = "the functions"
		}
		msg := fmt.Sprintf("ferry is still building and compiling %s (state Pending); retry in %s s", what, retryAfter)
		if strings.HasPrefix(r.URL.Path, "/2015-03-31/") {
			serviceError(w, http.StatusServiceUnavailable, "ServiceException", "Message", msg, nil)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"message":"Service Unavailable"}`+"\n")
	case <-r.Context().Done():
	}
	return true
}

// waitingNotFound is a router's not-found handler while functions load: a
// pending function may take the path.
func (s *Server) waitingNotFound(nf http.Handler, dep *deployed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.waitLoading(w, r, "", dep) {
			nf.ServeHTTP(w, r)
		}
	})
}
