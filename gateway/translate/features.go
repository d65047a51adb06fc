package translate

import (
	"slices"

	"sigs.k8s.io/gateway-api/pkg/features"
)

// SupportedFeatures lists the Gateway API features (names from
// sigs.k8s.io/gateway-api/pkg/features) this implementation claims in
// GatewayClass status.supportedFeatures. A feature belongs here only once its
// conformance tests pass against the local cluster; the conformance suite reads
// this list from the GatewayClass to decide which tests to run, and `make test`
// runs them all, so a claimed feature that breaks fails CI.
func SupportedFeatures() []string {
	fs := []features.FeatureName{
		// Core.
		features.SupportGateway,
		features.SupportHTTPRoute,
		features.SupportGRPCRoute,
		features.SupportReferenceGrant,
		// Extended, each proven by its conformance tests.
		features.SupportGatewayPort8080,
		features.SupportGatewayAddressEmpty,
		features.SupportGatewayInfrastructure,
		features.SupportGatewayStaticAddresses,
		features.SupportListenerSet,
		features.SupportBackendTLSPolicy,
		features.SupportBackendTLSPolicySANValidation,
		features.SupportGatewayBackendClientCertificate,
		features.SupportGatewayFrontendClientCertificateValidation,
		features.SupportGatewayFrontendClientCertificateValidationInsecureFallback,
		features.SupportGatewayHTTPListenerIsolation,
		features.SupportGatewayHTTPSListenerDetectMisdirectedRequests,
		features.SupportHTTPRouteQueryParamMatching,
		features.SupportHTTPRouteCORS,
		features.SupportHTTPRouteRetry,
		features.SupportHTTPRouteRequestMirror,
		features.SupportHTTPRouteRequestMultipleMirrors,
		features.SupportHTTPRouteRequestPercentageMirror,
		features.SupportHTTPRouteMethodMatching,
		features.SupportHTTPRouteResponseHeaderModification,
		features.SupportHTTPRouteBackendRequestHeaderModification,
		features.SupportHTTPRoutePortRedirect,
		features.SupportHTTPRouteSchemeRedirect,
		features.SupportHTTPRoutePathRedirect,
		features.SupportHTTPRouteHostRewrite,
		features.SupportHTTPRoutePathRewrite,
		features.SupportHTTPRoute303RedirectStatusCode,
		features.SupportHTTPRoute307RedirectStatusCode,
		features.SupportHTTPRoute308RedirectStatusCode,
		features.SupportHTTPRouteBackendProtocolH2C,
		features.SupportHTTPRouteBackendProtocolWebSocket,
		features.SupportHTTPRouteParentRefPort,
		features.SupportHTTPRouteDestinationPortMatching,
		features.SupportHTTPRouteNamedRouteRule,
		features.SupportHTTPRouteRequestTimeout,
		features.SupportHTTPRouteBackendTimeout,
		features.SupportGRPCRouteNamedRouteRule,
	}
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, string(f))
	}
	slices.Sort(out)
	return out
}
