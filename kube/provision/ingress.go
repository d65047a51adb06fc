package provision

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The Ingress shim's synthetic Gateways do not exist in the API server, so they
// can own nothing: their objects carry LabelIngress and name their Gateway in
// AnnotationIngressGateway (OwnerGateway reads it, so Prune deletes them when the
// Gateway goes away), and are owned by the IngressClass the Gateway serves, when
// there is one, so deleting the class garbage-collects them as deleting a Gateway
// does. The owner reference neither controls nor blocks deletion: blocking would
// need the right to update ingressclasses/finalizers.
const (
	LabelIngress             = "gateway.nghttpx.dev/ingress"
	AnnotationIngressGateway = "gateway.nghttpx.dev/ingress-gateway"
)

type ingressTarget struct {
	class *networkingv1.IngressClass
}

func (t *ingressTarget) owners() []*metav1ac.OwnerReferenceApplyConfiguration {
	if t.class == nil || t.class.UID == "" {
		return nil
	}
	return []*metav1ac.OwnerReferenceApplyConfiguration{metav1ac.OwnerReference().
		WithAPIVersion(networkingv1.SchemeGroupVersion.String()).
		WithKind("IngressClass").
		WithName(t.class.Name).
		WithUID(t.class.UID).
		WithController(false).
		WithBlockOwnerDeletion(false)}
}

// ForIngress returns the options for a synthetic Gateway of the Ingress shim that
// serves class (nil when the Gateway serves Ingresses without a class and no
// IngressClass is ours): the proxies get --ingress plus IngressArgs, and the
// objects are marked and owned as described above.
func (o Options) ForIngress(class *networkingv1.IngressClass) Options {
	o.ingress = &ingressTarget{class: class}
	return o
}

// EnsureIngress is Ensure for a synthetic Gateway of the Ingress shim.
func (p *Provisioner) EnsureIngress(ctx context.Context, gw *gatewayv1.Gateway, class *networkingv1.IngressClass) error {
	return p.ensure(ctx, gw, p.Options.withDefaults().ForIngress(class))
}
