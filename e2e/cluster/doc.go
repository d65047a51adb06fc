// Package cluster starts a real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager built by hack/build-k8s.sh) on this machine for e2e and
// conformance tests, without Docker. Everything runs inside a private network
// namespace: a bridge holds the node address, pods (run by package podrunner) get
// their own namespaces on that bridge, and LoadBalancer Services get addresses that
// exist only inside. Traffic to cluster addresses must therefore start inside the
// namespace: use Exec/Command, InNamespace, DialContext or HTTPClient; never send it
// from the host namespace (blackhole routes there catch mistakes while a cluster is up).
//
// Start needs root. Stop (and a failed or panicking Start) removes every process,
// namespace, veth, bridge, route and temporary file; Reap removes what a crashed
// owner left. Start can also attach to an existing cluster through a kubeconfig.
package cluster
