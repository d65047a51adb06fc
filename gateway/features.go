package gateway

import "sigs.k8s.io/gateway-api/pkg/features"

// SupportedFeatures lists the Gateway API features (names from
// sigs.k8s.io/gateway-api/pkg/features) this implementation claims in
// GatewayClass status.supportedFeatures. A feature belongs here only once its
// conformance tests pass against the local cluster; the conformance suite reads
// this list from the GatewayClass to decide which tests to run.
func SupportedFeatures() []string {
	return []string{
		string(features.SupportGateway),
		string(features.SupportHTTPRoute),
		string(features.SupportReferenceGrant),
	}
}
