// Package podrunner is the kubelet stand-in of the local e2e cluster (package
// e2e/cluster). It registers one Ready Node and keeps its Lease fresh, binds
// unscheduled pods to it, and runs every container as a local process chosen by
// image from an ImageMap, each pod in its own network namespace joined by a veth to
// the cluster bridge. It reports pod status the way kubelet does (phase, IPs,
// conditions, container states, readiness probes), honours preStop and the grace
// period on deletion, restarts crashed containers, serves container logs on the
// kubelet endpoint for the API server, and acts as a small cloud provider: Services
// of type LoadBalancer get an address from a private range and user-space TCP/UDP
// forwarding (optionally with a PROXY protocol header) to ready endpoints.
//
// It must run as root inside a process whose cluster network namespace already holds
// the bridge; it never sends traffic from the host network namespace.
//
// Why it still exists: make e2e and make conformance run on a real node (package
// e2e/node, the default E2E_NODE=real). The stand-in remains for E2E_NODE=podrunner
// (machines without containerd or overlayfs), for e2e/cluster's own tests of it, and
// for the kube/controller smoke test (the controller in the test process), which
// make e2e runs only with E2E_NODE=podrunner: on the real node, e2e/gateway's
// TestBasic, TestRouteChangeUnderLoad and TestDeleteGateway cover its path.
package podrunner
