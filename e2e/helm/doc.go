// Package helm holds the end-to-end test of the Helm chart (build tag e2e): on a
// fresh local cluster (package e2e/cluster, real node by default) the helm
// binary (HELM_BIN, built from the charts module by make e2e) installs
// charts/nghttpx-gateway with its default values, the cluster quickstart of
// docs/quickstart.md is applied from docs/examples/quickstart-cluster.yaml as
// it is written there and must serve 200 over HTTP and HTTPS, helm upgrade of a
// data-plane setting must roll the data plane with no failed request under
// load, and helm uninstall must leave nothing of ours behind (every leftover is
// listed).
//
// Traffic to cluster addresses, helm's included, starts inside the cluster
// network namespace.
//
//	make e2e E2E_ARGS='-run TestHelm -v'
//
// Environment: HELM_BIN (required), and as in package e2e/gateway.
package helm
