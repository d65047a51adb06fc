package translate

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// nsName is a namespace/name key.
type nsName struct{ Namespace, Name string }

func (k nsName) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

func keyOf(m metav1.Object) nsName { return nsName{m.GetNamespace(), m.GetName()} }

func compareKeys(a, b nsName) int {
	if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// index gives the translator fast, deterministic lookups into an Input. Where the
// Input holds the same object twice, the later one wins.
type index struct {
	classes  []*gatewayv1.GatewayClass
	gateways []*gatewayv1.Gateway
	routes   []*gatewayv1.HTTPRoute
	// grpcRoutes sorted by namespace/name.
	grpcRoutes []*gatewayv1.GRPCRoute
	// listenerSets sorted by namespace/name.
	listenerSets []*gatewayv1.ListenerSet

	gatewayByKey map[nsName]*gatewayv1.Gateway
	services     map[nsName]*corev1.Service
	secrets      map[nsName]*corev1.Secret
	namespaces   map[string]*corev1.Namespace
	configMaps   map[nsName]*corev1.ConfigMap
	// slices by namespace/service name, sorted by slice name.
	slices map[nsName][]*discoveryv1.EndpointSlice
	// grants by the namespace they live in (the target namespace), sorted by name.
	grants map[string][]*gatewayv1beta1.ReferenceGrant
	ext    extensionIndex
	// certs are cert-manager Certificates by the Secret they write.
	certs *CertificateIndex
}

// dedupSorted returns pointers to the last occurrence of each key, sorted by key.
func dedupSorted[T any](items []T, key func(*T) nsName) []*T {
	byKey := make(map[nsName]*T, len(items))
	for i := range items {
		byKey[key(&items[i])] = &items[i]
	}
	out := make([]*T, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *T) int { return compareKeys(key(a), key(b)) })
	return out
}

func newIndex(in *load.Input) *index {
	x := &index{
		gatewayByKey: map[nsName]*gatewayv1.Gateway{},
		services:     map[nsName]*corev1.Service{},
		secrets:      map[nsName]*corev1.Secret{},
		namespaces:   map[string]*corev1.Namespace{},
		configMaps:   map[nsName]*corev1.ConfigMap{},
		slices:       map[nsName][]*discoveryv1.EndpointSlice{},
		grants:       map[string][]*gatewayv1beta1.ReferenceGrant{},
		ext:          newExtensionIndex(&in.Extensions),
		certs:        NewCertificateIndex(in.Certificates),
	}
	x.classes = dedupSorted(in.GatewayClasses, func(c *gatewayv1.GatewayClass) nsName { return nsName{Name: c.Name} })
	x.gateways = dedupSorted(in.Gateways, func(g *gatewayv1.Gateway) nsName { return keyOf(g) })
	x.routes = dedupSorted(in.HTTPRoutes, func(r *gatewayv1.HTTPRoute) nsName { return keyOf(r) })
	x.grpcRoutes = dedupSorted(in.GRPCRoutes, func(r *gatewayv1.GRPCRoute) nsName { return keyOf(r) })
	x.listenerSets = dedupSorted(in.ListenerSets, func(s *gatewayv1.ListenerSet) nsName { return keyOf(s) })
	for _, g := range x.gateways {
		x.gatewayByKey[keyOf(g)] = g
	}
	for _, s := range dedupSorted(in.Services, func(s *corev1.Service) nsName { return keyOf(s) }) {
		x.services[keyOf(s)] = s
	}
	for _, s := range dedupSorted(in.Secrets, func(s *corev1.Secret) nsName { return keyOf(s) }) {
		x.secrets[keyOf(s)] = s
	}
	for _, n := range dedupSorted(in.Namespaces, func(n *corev1.Namespace) nsName { return nsName{Name: n.Name} }) {
		x.namespaces[n.Name] = n
	}
	for _, s := range dedupSorted(in.EndpointSlices, func(s *discoveryv1.EndpointSlice) nsName { return keyOf(s) }) {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := nsName{s.Namespace, svc}
		x.slices[k] = append(x.slices[k], s)
	}
	for _, g := range dedupSorted(in.ReferenceGrants, func(g *gatewayv1beta1.ReferenceGrant) nsName { return keyOf(g) }) {
		x.grants[g.Namespace] = append(x.grants[g.Namespace], g)
	}
	for _, c := range dedupSorted(in.ConfigMaps, func(c *corev1.ConfigMap) nsName { return keyOf(c) }) {
		x.configMaps[keyOf(c)] = c
	}
	return x
}

// namespaceLabels returns the labels of a namespace. Kubernetes sets
// kubernetes.io/metadata.name on every namespace; it is added here too so that
// selectors on it work when the Input has no Namespace objects (standalone mode).
func (x *index) namespaceLabels(ns string) labels.Set {
	out := labels.Set{corev1.LabelMetadataName: ns}
	if n := x.namespaces[ns]; n != nil {
		for k, v := range n.Labels {
			out[k] = v
		}
		out[corev1.LabelMetadataName] = ns
	}
	return out
}

// refTarget describes the object a cross-namespace reference points to.
type refTarget struct {
	Group, Kind, Namespace, Name string
}

// referenceAllowed reports whether an object of fromGroup/fromKind in fromNS may
// reference to. Same-namespace references are always allowed; others need a
// ReferenceGrant in the target namespace.
func (x *index) referenceAllowed(fromGroup, fromKind, fromNS string, to refTarget) bool {
	if fromNS == to.Namespace {
		return true
	}
	for _, g := range x.grants[to.Namespace] {
		fromOK := slices.ContainsFunc(g.Spec.From, func(f gatewayv1beta1.ReferenceGrantFrom) bool {
			return string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS
		})
		if !fromOK {
			continue
		}
		toOK := slices.ContainsFunc(g.Spec.To, func(t gatewayv1beta1.ReferenceGrantTo) bool {
			return string(t.Group) == to.Group && string(t.Kind) == to.Kind &&
				(t.Name == nil || *t.Name == "" || string(*t.Name) == to.Name)
		})
		if toOK {
			return true
		}
	}
	return false
}
