package source

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// refs is what the in-scope Gateways and their HTTPRoutes reference: the objects
// whose changes matter. It is rebuilt with every snapshot.
type refs struct {
	classes  map[string]bool
	gateways map[types.NamespacedName]bool
	// listenerSets of in-scope Gateways: routes may name them as parents.
	listenerSets map[types.NamespacedName]bool
	services     map[types.NamespacedName]bool
	secrets      map[types.NamespacedName]bool
	// missingSecrets are referenced Secrets that did not exist at the snapshot:
	// the cert-manager Certificates that write them matter.
	missingSecrets map[types.NamespacedName]bool
	// grantNamespaces are namespaces some reference crosses into: their
	// ReferenceGrants decide whether it is allowed.
	grantNamespaces map[string]bool
	// namespaceLabels is set when a listener selects route namespaces by label.
	namespaceLabels bool
	// configMaps are the GatewayClass parameters ConfigMaps of our classes.
	configMaps map[types.NamespacedName]bool
	// caConfigMaps are client CA bundles of Gateways (spec.tls.frontend).
	caConfigMaps map[types.NamespacedName]bool
	// ingressClasses are the IngressClasses of our Ingress controller.
	ingressClasses map[string]bool
}

func newRefs() *refs {
	return &refs{
		classes:         map[string]bool{},
		gateways:        map[types.NamespacedName]bool{},
		listenerSets:    map[types.NamespacedName]bool{},
		services:        map[types.NamespacedName]bool{},
		secrets:         map[types.NamespacedName]bool{},
		missingSecrets:  map[types.NamespacedName]bool{},
		grantNamespaces: map[string]bool{},
		ingressClasses:  map[string]bool{},
		caConfigMaps:    map[types.NamespacedName]bool{},
	}
}

// scope decides which Gateways a Source serves.
type scope struct {
	controllerName string
	// gateway limits the scope to one Gateway when its Name is set.
	gateway types.NamespacedName
}

func (s scope) one() bool { return s.gateway.Name != "" }

// computeRefs collects the references of the in-scope Gateways, their
// ListenerSets and of the routes that name either as a parent. It also returns
// the ListenerSets of in-scope Gateways.
func computeRefs(sc scope, classes []gatewayv1.GatewayClass, gws []gatewayv1.Gateway, sets []gatewayv1.ListenerSet,
	routes []gatewayv1.HTTPRoute) (*refs, []gatewayv1.ListenerSet) {
	r := newRefs()
	for i := range classes {
		if string(classes[i].Spec.ControllerName) == sc.controllerName {
			r.classes[classes[i].Name] = true
		}
	}
	for i := range gws {
		g := &gws[i]
		if !r.classes[string(g.Spec.GatewayClassName)] || !sc.inScope(g) {
			continue
		}
		r.gateways[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = true
		r.addFrontendCAs(g)
		r.addBackendClientCertificate(g)
		for _, l := range g.Spec.Listeners {
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
				r.addRef(r.secrets, g.Namespace, ref.Namespace, string(ref.Name))
			}
		}
	}
	inScopeSets := r.addListenerSets(gws, sets)
	for i := range routes {
		rt := &routes[i]
		if !r.namesGateway(rt) {
			continue
		}
		for _, rule := range rt.Spec.Rules {
			for _, b := range rule.BackendRefs {
				r.addBackend(rt.Namespace, b.BackendObjectReference)
				for _, f := range b.Filters {
					r.addFilter(rt.Namespace, f)
				}
			}
			for _, f := range rule.Filters {
				r.addFilter(rt.Namespace, f)
			}
		}
	}
	return r, inScopeSets
}

func (s scope) inScope(g *gatewayv1.Gateway) bool {
	return !s.one() || g.Namespace == s.gateway.Namespace && g.Name == s.gateway.Name
}

func (r *refs) addFilter(from string, f gatewayv1.HTTPRouteFilter) {
	if f.RequestMirror != nil {
		r.addBackend(from, f.RequestMirror.BackendRef)
	}
}

func (r *refs) addBackend(from string, b gatewayv1.BackendObjectReference) {
	if b.Group != nil && *b.Group != "" || b.Kind != nil && *b.Kind != "Service" {
		return
	}
	r.addRef(r.services, from, b.Namespace, string(b.Name))
}

func (r *refs) addRef(set map[types.NamespacedName]bool, from string, ns *gatewayv1.Namespace, name string) {
	to := from
	if ns != nil && *ns != "" {
		to = string(*ns)
	}
	if to != from {
		r.grantNamespaces[to] = true
	}
	set[types.NamespacedName{Namespace: to, Name: name}] = true
}

// namesGateway reports whether a route has an in-scope Gateway, or a
// ListenerSet of one, as a parent.
func (r *refs) namesGateway(rt *gatewayv1.HTTPRoute) bool {
	return r.parentsName(rt.Namespace, rt.Spec.ParentRefs)
}

// parentsName reports whether parentRefs of a route in namespace routeNS name
// an in-scope Gateway or a ListenerSet of one.
func (r *refs) parentsName(routeNS string, parentRefs []gatewayv1.ParentReference) bool {
	for _, p := range parentRefs {
		if p.Group != nil && *p.Group != gatewayv1.GroupName {
			continue
		}
		ns := routeNS
		if p.Namespace != nil && *p.Namespace != "" {
			ns = string(*p.Namespace)
		}
		k := types.NamespacedName{Namespace: ns, Name: string(p.Name)}
		switch {
		case p.Kind == nil || *p.Kind == "Gateway":
			if r.gateways[k] {
				return true
			}
		case *p.Kind == "ListenerSet":
			if r.listenerSets[k] {
				return true
			}
		}
	}
	return false
}

// hasOurParentStatus reports whether our controller wrote a parent status on rt:
// such a route must be rebuilt when it stops naming our Gateways, to clear it.
func hasOurParentStatus(rt *gatewayv1.HTTPRoute, controllerName string) bool {
	return routeStatusOurs(&rt.Status.RouteStatus, controllerName)
}

func routeStatusOurs(st *gatewayv1.RouteStatus, controllerName string) bool {
	for _, p := range st.Parents {
		if string(p.ControllerName) == controllerName {
			return true
		}
	}
	return false
}

func serviceKeyOfSlice(labels map[string]string, ns string) (types.NamespacedName, bool) {
	name := labels["kubernetes.io/service-name"]
	return types.NamespacedName{Namespace: ns, Name: name}, name != ""
}

// namespaceLabelsChanged is true for a created or deleted Namespace too.
func namespaceLabelsChanged(old, cur *corev1.Namespace) bool {
	if old == nil || cur == nil {
		return true
	}
	if len(old.Labels) != len(cur.Labels) {
		return true
	}
	for k, v := range old.Labels {
		if w, ok := cur.Labels[k]; !ok || w != v {
			return true
		}
	}
	return false
}

func sortedKeys(m map[types.NamespacedName]bool) []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
	return out
}
