// Package cluster starts a real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager built by hack/build-k8s.sh) on this machine for e2e and
// conformance tests, without Docker. Everything runs inside a private network
// namespace: a bridge holds the node address, pods get their own namespaces on that
// bridge, and LoadBalancer Services get addresses that exist only inside. Pods run
// either under package podrunner (host processes, Options.Node = NodePodRunner, the
// default) or on a real node (package node: kubelet, containerd, kube-proxy,
// kube-scheduler, CoreDNS; Options.Node = NodeReal, images from DefaultNodeImages).
// Traffic to cluster addresses must therefore start inside the namespace: use
// Exec/Command, InNamespace, DialContext or HTTPClient; never send it from the host
// namespace (blackhole routes there catch mistakes while a cluster is up).
//
// Start needs root. Stop (and a failed or panicking Start) removes every process,
// namespace, veth, bridge, route and temporary file; Reap removes what a crashed
// owner left. Start can also attach to an existing cluster through a kubeconfig.
package cluster
