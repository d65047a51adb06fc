// Package node runs a real Kubernetes node inside a local cluster's network
// namespace: containerd (Debian's, with its own root, state and socket under the
// node's state directory), runc, the CNI bridge/host-local/portmap plugins on the pod
// range, kubelet, kube-proxy (iptables mode), kube-scheduler, CoreDNS as a Deployment
// behind the kube-dns Service, and a small load-balancer controller that gives
// LoadBalancer Services an address from the load-balancer range (kube-proxy then
// forwards it). Images are imported from archives with `ctr images import`; nothing is
// ever pulled.
//
// Contract:
//   - Everything the node starts shares one private mount namespace (a holder process)
//     entered with the cluster's network namespace, so containerd's and kubelet's
//     mounts never reach the host and vanish when the node stops.
//   - Pod cgroups live under a per-node cgroup root (cgroup v1, kubelet's
//     failCgroupV1: false, cgroupfs driver); Stop and Reap kill what is left there.
//   - kubelet's kernel tunables (vm.overcommit_memory, kernel.panic, ...) are masked
//     inside that mount namespace, so the host's settings are never changed.
//   - Start checks its prerequisites first and fails with an error naming what is
//     missing (binary, package, kernel feature, cgroup controller); nothing is skipped.
//   - Services annotated podrunner.ProxyProtocolAnnotation (v1/v2) get their address
//     with ipMode Proxy: kube-proxy leaves it alone and a user-space forwarder here
//     sends the PROXY header, then the client's bytes, to the Service's cluster IP
//     (UDP ports without a header), as the pod runner's forwarder does.
package node
