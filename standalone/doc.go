// Package standalone runs the data planes of every Gateway found in a directory of
// YAML files on this machine, without a cluster: the embedded default behind
// `nghttpx-gateway run` and `make run`.
//
// Contract: it watches the directory, rebuilds through the pure pipeline when a file
// changes (batched) and when a stapled OCSP response reaches its nextUpdate
// (translate.Result.OCSPRecheck), applies each Gateway's configuration to its own
// nghttpx, and reports every object's status when it changes. Each Gateway is one
// dataplane/instance (its ports, RequestMirror tee and nghttpx) on 127.0.0.1. Ingresses in the directory are
// served through the Ingress shim (Runner.Ingress): each Ingress's events are
// reported when they change, and the synthetic Gateway as the Ingress data plane it
// is (its GatewayClass and HTTPRoutes are not the user's and are not reported). A
// file that fails to decode is reported and the last good configuration keeps
// serving.
package standalone
