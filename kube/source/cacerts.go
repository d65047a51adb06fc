package source

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Client CA bundles of Gateways (spec.tls.frontend caCertificateRefs) are
// ConfigMaps or Secrets in any namespace: the referenced ones are listed in
// snapshots and their changes trigger a rebuild. Both roles therefore cache
// ConfigMaps cluster-wide (ClusterWideConfigMaps; RBAC list/watch configmaps).

// ClusterWideConfigMaps drops any namespace or field restriction on cached
// ConfigMaps (the Ingress operator ConfigMap, GatewayClass parameters), which
// then come from one cluster-wide informer that also holds CA bundles.
func ClusterWideConfigMaps(byObject map[client.Object]cache.ByObject) {
	for k := range byObject {
		if _, ok := k.(*corev1.ConfigMap); ok {
			delete(byObject, k)
		}
	}
}

// addFrontendCAs records the CA bundles g's client certificate validation names.
func (r *refs) addFrontendCAs(g *gatewayv1.Gateway) {
	if g.Spec.TLS == nil || g.Spec.TLS.Frontend == nil {
		return
	}
	f := g.Spec.TLS.Frontend
	vs := []*gatewayv1.FrontendTLSValidation{f.Default.Validation}
	for _, pp := range f.PerPort {
		vs = append(vs, pp.TLS.Validation)
	}
	for _, v := range vs {
		if v == nil {
			continue
		}
		for _, ref := range v.CACertificateRefs {
			if ref.Group != "" {
				continue
			}
			switch ref.Kind {
			case "ConfigMap":
				r.addRef(r.caConfigMaps, g.Namespace, ref.Namespace, string(ref.Name))
			case "Secret":
				r.addRef(r.secrets, g.Namespace, ref.Namespace, string(ref.Name))
			}
		}
	}
}

// caWatched watches ConfigMaps for the CA bundles in use.
func (s *Source) caWatched() []watch {
	return []watch{{&corev1.ConfigMap{}, func(old, cur client.Object) bool {
		return either(old, cur, func(c *corev1.ConfigMap) bool { return s.refs.caConfigMaps[client.ObjectKeyFromObject(c)] })
	}}}
}

// caSnapshot adds the referenced CA bundle ConfigMaps to in (once each).
func (s *Source) caSnapshot(ctx context.Context, in *load.Input, r *refs) error {
	for _, k := range sortedKeys(r.caConfigMaps) {
		if slices.ContainsFunc(in.ConfigMaps, func(c corev1.ConfigMap) bool { return client.ObjectKeyFromObject(&c) == k }) {
			continue
		}
		var cm corev1.ConfigMap
		if err := s.get(ctx, k, &cm); err != nil {
			return err
		}
		if cm.Name != "" {
			in.ConfigMaps = append(in.ConfigMaps, cm)
		}
	}
	return nil
}
