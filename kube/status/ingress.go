package status

import (
	"context"
	"errors"
	"net"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// IngressStatus is what we write into one Ingress's status.
type IngressStatus struct {
	types.NamespacedName
	// UID of the Ingress the translation saw; a recreated Ingress is skipped
	// (the next translation covers it).
	UID types.UID
	// Addresses are IPs or host names, in the order they should appear.
	Addresses []string
}

// LoadBalancerIngress turns addresses into status.loadBalancer.ingress entries:
// an IP where the address parses as one, a host name otherwise; duplicates are
// dropped.
func LoadBalancerIngress(addrs []string) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	seen := map[string]bool{}
	for _, a := range addrs {
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		if net.ParseIP(a) != nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	return out
}

// Ingresses writes status.loadBalancer.ingress of every Ingress in desired: the
// whole field is ours (an Ingress has one controller). Like every write of the
// Writer it starts from a fresh GET, is skipped when nothing changes (the cache is
// asked first) and retried on conflict.
func (w *Writer) Ingresses(ctx context.Context, desired []IngressStatus) error {
	var errs []error
	for _, d := range desired {
		lb := LoadBalancerIngress(d.Addresses)
		obj := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name, UID: d.UID}}
		errs = append(errs, w.update(ctx, obj, func() client.Object { return &networkingv1.Ingress{} }, func(o client.Object) {
			o.(*networkingv1.Ingress).Status.LoadBalancer.Ingress = slices.Clone(lb)
		}, func(o client.Object) any { return normalLB(o.(*networkingv1.Ingress).Status.LoadBalancer.Ingress) }))
	}
	return errors.Join(errs...)
}

// normalLB treats a nil and an empty list alike, so that an Ingress without
// addresses is not rewritten to say the same.
func normalLB(lb []networkingv1.IngressLoadBalancerIngress) []networkingv1.IngressLoadBalancerIngress {
	if len(lb) == 0 {
		return nil
	}
	return lb
}

// Synthetic tells whether an object of the given kind is one the Ingress shim
// made up (ingressshim.Result.Synthetic).
type Synthetic func(kind, namespace, name string) bool

// WithoutSynthetic returns res without the Ingress shim's synthetic objects:
// they do not exist in the API server, and a real object of the same name must
// never receive their status. res is not modified.
func WithoutSynthetic(res *translate.Result, synthetic Synthetic) *translate.Result {
	if synthetic == nil {
		return res
	}
	out := *res
	out.GatewayClasses = slices.DeleteFunc(slices.Clone(res.GatewayClasses), func(o gatewayv1.GatewayClass) bool {
		return synthetic("GatewayClass", "", o.Name)
	})
	out.Gateways = slices.DeleteFunc(slices.Clone(res.Gateways), func(o gatewayv1.Gateway) bool {
		return synthetic("Gateway", o.Namespace, o.Name)
	})
	out.HTTPRoutes = slices.DeleteFunc(slices.Clone(res.HTTPRoutes), func(o gatewayv1.HTTPRoute) bool {
		return synthetic("HTTPRoute", o.Namespace, o.Name)
	})
	return &out
}
