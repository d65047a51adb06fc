package provision

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// syntheticGateway is what the Ingress shim makes for IngressClass nghttpx: no
// UID, it exists nowhere but in the translation.
func syntheticGateway(name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "system"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "nghttpx-ingress", Listeners: []gatewayv1.Listener{
			{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
		}},
	}
}

func TestEnsureIngressGateway(t *testing.T) {
	p, c := newProvisioner(t)
	p.Options.IngressArgs = []string{"--nghttpx-https-port=8443", "--watch-namespace=web"}
	ctx := context.Background()
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx", UID: "class-uid"}}
	if err := p.EnsureIngress(ctx, syntheticGateway("nghttpx"), class); err != nil {
		t.Fatal(err)
	}
	// Without an IngressClass (Ingresses without class, none of ours): no owner.
	if err := p.EnsureIngress(ctx, syntheticGateway("default"), nil); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "system", Name: "nghttpx-nghttpx"}
	sa, svc, dep := &corev1.ServiceAccount{}, &corev1.Service{}, &appsv1.Deployment{}
	for _, o := range []client.Object{sa, svc, dep} {
		if err := c.Get(ctx, key, o); err != nil {
			t.Fatalf("get %T: %v", o, err)
		}
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "IngressClass" || refs[0].Name != "nghttpx" || refs[0].UID != "class-uid" ||
			refs[0].APIVersion != "networking.k8s.io/v1" || refs[0].Controller == nil || *refs[0].Controller ||
			refs[0].BlockOwnerDeletion == nil || *refs[0].BlockOwnerDeletion {
			t.Errorf("%T owner references %+v, want the IngressClass (not controller, not blocking)", o, refs)
		}
		if gw, ok := OwnerGateway(o); !ok || gw != (types.NamespacedName{Namespace: "system", Name: "nghttpx"}) {
			t.Errorf("%T: OwnerGateway = %v, %v", o, gw, ok)
		}
		if !Owned(o) {
			t.Errorf("%T not Owned", o)
		}
	}
	args := dep.Spec.Template.Spec.Containers[0].Args
	i := slices.Index(args, "--ingress")
	if i < 0 || !slices.Equal(args[i+1:i+3], p.Options.IngressArgs) || !slices.Contains(args, "--gateway-name=nghttpx") {
		t.Errorf("proxy args %v: want --ingress followed by the Ingress flags", args)
	}
	var other appsv1.Deployment
	if err := c.Get(ctx, types.NamespacedName{Namespace: "system", Name: "default-nghttpx"}, &other); err != nil {
		t.Fatal(err)
	}
	if len(other.OwnerReferences) != 0 {
		t.Errorf("owner references %+v without an IngressClass", other.OwnerReferences)
	}
	// A real Gateway's proxy gets no Ingress flags.
	if err := p.Ensure(ctx, testGateway()); err != nil {
		t.Fatal(err)
	}
	_, _, real := getAll(t, c)
	if slices.Contains(real.Spec.Template.Spec.Containers[0].Args, "--ingress") {
		t.Errorf("real Gateway's proxy args %v", real.Spec.Template.Spec.Containers[0].Args)
	}

	// Pruning by the annotation: the synthetic Gateway "default" is gone.
	keep := map[types.NamespacedName]bool{{Namespace: "system", Name: "nghttpx"}: true, {Namespace: "apps", Name: "web"}: true}
	if err := p.Prune(ctx, keep); err != nil {
		t.Fatal(err)
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps.Items {
		names = append(names, d.Namespace+"/"+d.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"apps/web-nghttpx", "system/nghttpx-nghttpx"}) {
		t.Errorf("deployments after prune %v", names)
	}
	if p.Counters().Deletes.Load() != 3 {
		t.Errorf("pruned %d objects, want 3", p.Counters().Deletes.Load())
	}
}
