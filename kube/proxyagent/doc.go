// Package proxyagent is the `proxy` role: it runs in a data-plane pod next to
// nghttpx and serves exactly one Gateway.
//
// Contract: it watches (read-only) what a translation of its Gateway needs and
// reacts only to what that Gateway references (package source); it runs the same
// pipeline as every other role for that one Gateway, with the model bound to the
// wildcard address, and applies the result to its dataplane/instance. Its admin port
// serves /healthz, /readyz (200 only after the first successful apply and until
// draining starts) and /status (the applied model.Hash, the applier counters and
// the detected nghttpx features), which the controller polls to decide Programmed
// (and OCSPStapled=False/Unsupported when features.ocsp is false), and, with
// Options.Metrics, /metrics (request metrics from the access log, apply
// counters, build info; no token: they hold no secret). The port is
// open to the cluster (kubelet probes the pod IP); with a keys Secret, /status
// answers only requests carrying that Secret's admin token in
// keys.AdminTokenHeader (401 otherwise, 503 before the Secret was read). A stapled OCSP
// response's nextUpdate schedules a rebuild (internal/recheck), so an expired
// response stops being stapled with no object changing. On shutdown (SIGTERM) it fails
// readiness, keeps serving and applying for the drain period, then stops nghttpx
// gracefully. It never writes to the API server. Its data plane is one
// dataplane/instance: nghttpx, its ports and the RequestMirror tee on 127.0.0.1,
// which runs until nghttpx has stopped.
//
// For a synthetic Gateway of the Ingress shim (Options.Ingress, `proxy --ingress`
// plus the Ingress controller's flags, which the controller passes on) it also
// watches Ingresses, IngressClasses and the operator ConfigMap and runs the shim
// with the controller's options, so it computes the model the controller expects.
// With the shim's DeferredShutdownPeriod (the original's --deferred-shutdown-period)
// it drains at least that long, and on SIGTERM rebuilds with ShuttingDown so
// /nghttpx-healthz answers 503 (a route table change: no reload) while the
// Ingress rules keep serving.
//
// Secrets and ConfigMaps (Options.Clientset): read one by name (source.Named),
// which is all RBAC lets a proxy do; the controller grants each proxy the ones
// its Gateway references (kube/provision access.go).
//
// Shared keys (Options.KeysSecret, keys.go): the agent reads its Gateway's keys
// Secret from its cache (pod Secret volumes are not refreshed everywhere), adds
// the QUIC secret file and the TLS ticket key files to the rendered Files under
// the Gateway's state directory (the applier writes them 0600 atomically and
// reloads nghttpx when they change) and points the render options at them.
// Without the Secret nghttpx runs with its own per-process keys; readiness never
// waits for it. A Secret that goes away or turns malformed keeps the last keys.
package proxyagent
