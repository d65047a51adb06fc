// Package ingress holds the end-to-end suite of the Ingress front-end (build tag
// e2e): the controller runs as Pods from config/default with its own ServiceAccount
// (plus --nghttpx-configmap), the test installs the IngressClass nghttpx (controller
// zlab.co.jp/nghttpx), and the Ingresses of the original nghttpx Ingress controller
// are served by the data plane provisioned for that class's synthetic Gateway in the
// controller's namespace. The features: the original README example (host routing
// to two Services of one echo Deployment, Ingress status), a TLS Ingress (308
// redirect, certificate by SNI), a weighted backend-config, and a broken annotation
// next to a healthy Ingress (an Event on the broken one only).
//
// Like package e2e/gateway, TestMain starts the local process cluster (root needed)
// with our image mapped to a freshly built binary and nghttpx, or uses
// E2E_KUBECONFIG; traffic to cluster addresses starts inside the cluster network
// namespace only.
//
//	NGHTTPX_BIN=... E2E_GATEWAY_BIN=bin/nghttpx-gateway go test -tags e2e -count=1 ./e2e/ingress/
//
// Environment: as in package e2e/gateway (NGHTTPX_BIN, E2E_GATEWAY_BIN,
// E2E_KUBECONFIG, E2E_ARTIFACTS, E2E_STATE_DIR, E2E_V, K8S_BIN_DIR, ECHO_BIN).
package ingress
