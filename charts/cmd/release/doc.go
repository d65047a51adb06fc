// Command release writes the manifests and the chart of a release (make release,
// hack/release.sh) into a directory:
//
//	install.yaml             namespace, RBAC, admission policies, controller, GatewayClass
//	                         (the chart rendered without CRDs, image tag VERSION)
//	crds-standard.yaml       the Gateway API CRDs of each channel, as the module ships them
//	crds-experimental.yaml
//	nghttpx-gateway-X.Y.Z.tgz the chart, version X.Y.Z and appVersion VERSION
//
// Usage (from charts/): go run ./cmd/release -version vX.Y.Z -out DIR
//
// Contract: it only reads the chart and the module's CRDs and writes into -out;
// it tags nothing and needs no cluster. The image archive and SHA256SUMS are
// hack/release.sh's.
package main
