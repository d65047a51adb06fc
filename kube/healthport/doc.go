// Package healthport serves the original nghttpx Ingress controller's health port
// (its --healthz-port, 11249 there): /healthz for liveness and /readyz for
// readiness in the Kubernetes API server's format (200 "ok"; 500 naming the
// failed checks; /healthz/NAME for one check; ?verbose lists every check;
// ?exclude=NAME skips one), /metrics when a handler is given, and, with
// Profiling, net/http/pprof under /debug/pprof/ (the index and named profiles,
// profile and symbol: the handlers the original registers).
//
// Contract: the checks are the caller's; this package only serves them. Start
// listens before it returns control to the HTTP server and shuts the server down
// when its context ends. It does not need leader election: every replica answers
// its own probes.
package healthport
