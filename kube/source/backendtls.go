package source

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// BackendTLSPolicies that target a referenced Service are listed in snapshots
// (the controller also keeps those carrying an ancestor entry of ours, so the
// translator can clear it); their CA ConfigMaps join the CA bundles in use
// (cacerts.go). A policy event matters when its spec changed and it targets a
// referenced Service or has our status.

// backendTLSWatched watches BackendTLSPolicies.
func (s *Source) backendTLSWatched() []watch {
	return []watch{{&gatewayv1.BackendTLSPolicy{}, s.backendTLSRelevant}}
}

func (s *Source) backendTLSRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(p *gatewayv1.BackendTLSPolicy) bool {
		return s.refs.targetsService(p) || !s.scope.one() && hasOurAncestorStatus(p, s.scope.controllerName)
	})
}

// targetsService reports whether p targets a Service the in-scope routes use.
func (r *refs) targetsService(p *gatewayv1.BackendTLSPolicy) bool {
	for _, t := range p.Spec.TargetRefs {
		if t.Group == "" && t.Kind == "Service" && r.services[types.NamespacedName{Namespace: p.Namespace, Name: string(t.Name)}] {
			return true
		}
	}
	return false
}

func hasOurAncestorStatus(p *gatewayv1.BackendTLSPolicy, controllerName string) bool {
	for _, a := range p.Status.Ancestors {
		if string(a.ControllerName) == controllerName {
			return true
		}
	}
	return false
}

// backendTLSSnapshot adds the relevant policies to in and their CA ConfigMaps to
// r.caConfigMaps; call it before caSnapshot. Without the CRD there are none.
func (s *Source) backendTLSSnapshot(ctx context.Context, in *load.Input, r *refs) error {
	var l gatewayv1.BackendTLSPolicyList
	if err := s.cache.List(ctx, &l); err != nil {
		if meta.IsNoMatchError(err) {
			return nil
		}
		return fmt.Errorf("list %T: %w", &l, err)
	}
	for _, p := range l.Items {
		if !r.targetsService(&p) && (s.scope.one() || !hasOurAncestorStatus(&p, s.scope.controllerName)) {
			continue
		}
		in.BackendTLSPolicies = append(in.BackendTLSPolicies, p)
		for _, ref := range p.Spec.Validation.CACertificateRefs {
			if ref.Group == "" && ref.Kind == "ConfigMap" {
				r.caConfigMaps[types.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}] = true
			}
		}
	}
	return nil
}

// addBackendClientCertificate records the Secret of g's spec.tls.backend
// clientCertificateRef.
func (r *refs) addBackendClientCertificate(g *gatewayv1.Gateway) {
	if g.Spec.TLS == nil || g.Spec.TLS.Backend == nil || g.Spec.TLS.Backend.ClientCertificateRef == nil {
		return
	}
	ref := g.Spec.TLS.Backend.ClientCertificateRef
	if ref.Group != nil && *ref.Group != "" || ref.Kind != nil && *ref.Kind != "Secret" {
		return
	}
	r.addRef(r.secrets, g.Namespace, ref.Namespace, string(ref.Name))
}
