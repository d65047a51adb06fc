package status

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

func ingressWriter(t *testing.T, objs ...client.Object) (*Writer, client.Client, *counts) {
	t.Helper()
	n := &counts{}
	base := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).WithStatusSubresource(objs...).Build()
	c := interceptor.NewClient(base, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			n.gets++
			return c.Get(ctx, key, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			n.updates++
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
	return &Writer{Reader: c, Client: c, Log: testr.New(t)}, base, n
}

func TestIngressStatusWrittenOnlyWhenChanged(t *testing.T) {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", UID: "u1"}}
	w, base, n := ingressWriter(t, ing)
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "apps", Name: "web"}
	desired := []IngressStatus{{NamespacedName: key, UID: "u1", Addresses: []string{"10.245.0.3", "lb.example.com", "10.245.0.3"}}}
	if err := w.Ingresses(ctx, desired); err != nil {
		t.Fatal(err)
	}
	var got networkingv1.Ingress
	if err := base.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	want := []networkingv1.IngressLoadBalancerIngress{{IP: "10.245.0.3"}, {Hostname: "lb.example.com"}}
	if !equality.Semantic.DeepEqual(got.Status.LoadBalancer.Ingress, want) {
		t.Errorf("status.loadBalancer.ingress %+v, want %+v", got.Status.LoadBalancer.Ingress, want)
	}
	if n.updates != 1 || w.Counters().Writes.Load() != 1 {
		t.Errorf("%d updates, %d writes counted; want 1", n.updates, w.Counters().Writes.Load())
	}
	// Same again: a GET, no write.
	if err := w.Ingresses(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if n.updates != 1 || w.Counters().Skipped.Load() != 1 {
		t.Errorf("no-op write: %d updates, %d skipped", n.updates, w.Counters().Skipped.Load())
	}
	// With the cache consulted first, an unchanged status costs no GET at all.
	w.Cache = base
	gets := n.gets
	if err := w.Ingresses(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if n.gets != gets || n.updates != 1 {
		t.Errorf("cached no-op: %d GETs, %d updates", n.gets-gets, n.updates)
	}
	// No address any more: the list is cleared.
	if err := w.Ingresses(ctx, []IngressStatus{{NamespacedName: key, UID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	if err := base.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.LoadBalancer.Ingress) != 0 || n.updates != 2 {
		t.Errorf("cleared status %+v after %d updates", got.Status.LoadBalancer.Ingress, n.updates)
	}
	// A recreated Ingress (another UID) and a deleted one are skipped.
	if err := w.Ingresses(ctx, []IngressStatus{
		{NamespacedName: key, UID: "old", Addresses: []string{"10.0.0.9"}},
		{NamespacedName: types.NamespacedName{Namespace: "apps", Name: "gone"}, UID: "u2", Addresses: []string{"10.0.0.9"}},
	}); err != nil {
		t.Fatal(err)
	}
	if n.updates != 2 {
		t.Errorf("wrote a recreated or missing Ingress: %d updates", n.updates)
	}
}

func TestWithoutSynthetic(t *testing.T) {
	res := &translate.Result{
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"}}, {ObjectMeta: metav1.ObjectMeta{Name: "nghttpx-ingress"}}},
		Gateways: []gatewayv1.Gateway{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "sys", Name: "nghttpx"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "gw"}},
		},
		HTTPRoutes: []gatewayv1.HTTPRoute{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web.foo.bar.com"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "route"}},
		},
	}
	synthetic := func(kind, ns, name string) bool {
		return kind == "GatewayClass" && name == "nghttpx-ingress" || kind == "Gateway" && ns == "sys" ||
			kind == "HTTPRoute" && name == "web.foo.bar.com"
	}
	out := WithoutSynthetic(res, synthetic)
	if len(out.GatewayClasses) != 1 || out.GatewayClasses[0].Name != "nghttpx" ||
		len(out.Gateways) != 1 || out.Gateways[0].Name != "gw" ||
		len(out.HTTPRoutes) != 1 || out.HTTPRoutes[0].Name != "route" {
		t.Errorf("filtered result %+v", out)
	}
	if len(res.Gateways) != 2 || res.Gateways[0].Name != "nghttpx" || len(res.HTTPRoutes) != 2 {
		t.Error("the input was modified")
	}
}
