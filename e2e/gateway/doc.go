// Package gateway holds the end-to-end suite of nghttpx-gateway (build tag e2e):
// the controller runs as Pods from config/default with its own ServiceAccount, every
// Gateway gets its own data plane, and the tests check traffic and status while
// routes, endpoints, Gateways and the controller itself change.
//
// By default TestMain starts the local process cluster (package e2e/cluster, root
// needed) with our image mapped to a freshly built binary and nghttpx; with
// E2E_KUBECONFIG it uses that cluster instead (hack/kind). Traffic to cluster
// addresses always starts inside the cluster network namespace; each data plane's
// /status is read through the API server's pod proxy.
//
// The TestRealPods* tests need E2E_NODE=real (kubelet, containerd; they skip,
// saying so, on the pod runner) and root on the node's host: they prove Pod
// Security admission ("restricted"), the read-only root filesystem (kubectl
// exec), readiness and liveness (SIGSTOP of the proxy's host process), eBPF
// steering (the kernel's list of loaded programs) and draining across a rolling
// restart under load.
//
//	make e2e                          (hack/e2e.mk: builds everything first)
//	NGHTTPX_BIN=... go test -tags e2e -count=1 ./e2e/gateway/ [-run TestScaleUnderLoad]
//
// Environment: NGHTTPX_BIN (required for the local cluster), E2E_GATEWAY_BIN (skip
// the build), E2E_KUBECONFIG, E2E_ARTIFACTS (where a failing feature saves objects
// and logs; default $CACHE_DIR/e2e-artifacts/<time>), E2E_STATE_DIR (keep the
// cluster's logs), E2E_V=1 (cluster and pod runner logs), and K8S_BIN_DIR/ECHO_BIN
// as in package e2e/cluster.
package gateway
