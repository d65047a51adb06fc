package source

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// listenerSetParent returns the Gateway a ListenerSet names as its parent.
func listenerSetParent(s *gatewayv1.ListenerSet) (types.NamespacedName, bool) {
	ref := s.Spec.ParentRef
	if ref.Group != nil && *ref.Group != gatewayv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return types.NamespacedName{}, false
	}
	k := types.NamespacedName{Namespace: s.Namespace, Name: string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	return k, true
}

// listenerSetRelevant: spec changes of ListenerSets that name (or named) an
// in-scope Gateway; their status is ours and never triggers.
func (s *Source) listenerSetRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(ls *gatewayv1.ListenerSet) bool {
		k, ok := listenerSetParent(ls)
		return ok && s.refs.gateways[k]
	})
}

// skipMissingKind reports whether a failed informer may be left out: the
// ListenerSet kind on a cluster whose Gateway API CRDs predate it (before
// v1.5). The Source then serves Gateways without ListenerSets.
// The GRPCRoute kind likewise (CRDs before v1.1): GRPCRoutes are then ignored.
func (s *Source) skipMissingKind(obj client.Object, err error) bool {
	if !meta.IsNoMatchError(err) {
		return false
	}
	switch obj.(type) {
	case *gatewayv1.ListenerSet:
		s.mu.Lock()
		s.noListenerSets = true
		s.mu.Unlock()
		s.opts.Log.Info("the ListenerSet CRD is not installed; ListenerSets are ignored", "error", err.Error())
	case *gatewayv1.GRPCRoute:
		s.mu.Lock()
		s.noGRPCRoutes = true
		s.mu.Unlock()
		s.opts.Log.Info("the GRPCRoute CRD is not installed; GRPCRoutes are ignored", "error", err.Error())
	default:
		return false
	}
	return true
}

// addListenerSets records the ListenerSets of in-scope Gateways (routes may
// name them as parents), the Secrets their listeners reference, and whether
// namespace labels matter (a Gateway selecting ListenerSet namespaces, or a
// ListenerSet listener selecting route namespaces). It returns those sets.
func (r *refs) addListenerSets(gws []gatewayv1.Gateway, sets []gatewayv1.ListenerSet) []gatewayv1.ListenerSet {
	for i := range gws {
		g := &gws[i]
		if !r.gateways[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] {
			continue
		}
		if al := g.Spec.AllowedListeners; al != nil && al.Namespaces != nil && al.Namespaces.From != nil &&
			*al.Namespaces.From == gatewayv1.NamespacesFromSelector {
			r.namespaceLabels = true
		}
	}
	var out []gatewayv1.ListenerSet
	for i := range sets {
		s := &sets[i]
		if k, ok := listenerSetParent(s); !ok || !r.gateways[k] {
			continue
		}
		out = append(out, *s)
		r.listenerSets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = true
		for _, l := range s.Spec.Listeners {
			if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil &&
				*ar.Namespaces.From == gatewayv1.NamespacesFromSelector {
				r.namespaceLabels = true
			}
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				if ref.Group != nil && *ref.Group != "" || ref.Kind != nil && *ref.Kind != "Secret" {
					continue
				}
				r.addRef(r.secrets, s.Namespace, ref.Namespace, string(ref.Name))
			}
		}
	}
	return out
}
