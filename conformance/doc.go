// Package conformance runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance v1.6.3, GATEWAY-HTTP and GATEWAY-GRPC profiles) against the
// `nghttpx` GatewayClass. The test sits behind the build tag `conformance`
// (`make conformance`, hack/conformance.mk) and writes the report YAML to
// conformance/reports/.
//
// By default it starts the local cluster (e2e/cluster), installs config/default so
// the controller runs as a pod, and then re-executes the test binary inside the
// cluster network namespace (`ip netns exec`): the suite sends its HTTP, TLS, gRPC
// and WebSocket traffic to the Gateways' load-balancer addresses from many places
// that take no custom dialer, so the whole suite process must live there; nothing
// reaches cluster addresses from the host namespace. With CONFORMANCE_KUBECONFIG it
// runs in-process against that cluster instead, which must already have
// nghttpx-gateway installed (hack/kind/up.sh does).
//
// Supported features are read from GatewayClass status.supportedFeatures, what the
// implementation claims (gateway.SupportedFeatures); CONFORMANCE_FEATURES=all runs
// every extended test of both profiles to measure what would pass. Other knobs are the
// CONFORMANCE_* variables documented in hack/conformance.mk.
package conformance
