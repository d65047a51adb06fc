package controller

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/status"
)

func testIngress(name, host, annotation string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web", UID: types.UID("uid-" + name), Generation: 1},
		Spec: networkingv1.IngressSpec{
			IngressClassName: new("nghttpx"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: new(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "echo", Port: networkingv1.ServiceBackendPort{Number: 8080}},
				}}},
			}}}},
		},
	}
	if annotation != "" {
		ing.Annotations = map[string]string{"ingress.zlab.co.jp/backend-config": annotation}
	}
	return ing
}

// ingressController is a Controller with only what syncIngresses and the
// translation use: a fake API server as cache and writer, a fake recorder.
func ingressController(t *testing.T, objs ...client.Object) (*Controller, client.Client, *events.FakeRecorder) {
	t.Helper()
	s, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithStatusSubresource(&networkingv1.Ingress{}).Build()
	rec := events.NewFakeRecorder(100)
	opts := Options{Namespace: "system", Ingress: &IngressOptions{}, Log: testr.New(t)}.withDefaults()
	c := &Controller{
		opts: opts, cache: &readerCache{FakeInformers: &informertest.FakeInformers{Scheme: s}, reader: cl}, log: opts.Log,
		writer: &status.Writer{Reader: cl, Client: cl, Cache: cl, Log: opts.Log},
		ing:    &ingressFrontEnd{opts: *opts.Ingress, recorder: rec},
	}
	c.prov = &provision.Provisioner{Client: cl, Reader: cl, Log: opts.Log}
	return c, cl, rec
}

// readerCache serves reads from a client; informers are fakes (unused here).
type readerCache struct {
	*informertest.FakeInformers
	reader client.Reader
}

func (c *readerCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c *readerCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

func (c *Controller) translateForTest(t *testing.T, cl client.Client) {
	t.Helper()
	ctx := context.Background()
	src := source.New(c.cache, source.Options{Ingress: c.opts.Ingress.source()})
	in, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.in, c.out = in, c.build(ctx, in)
}

func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestIngressStatusEventsAndSyntheticObjects(t *testing.T) {
	ctx := context.Background()
	c, cl, rec := ingressController(t,
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx", UID: "class-uid"}, Spec: networkingv1.IngressClassSpec{Controller: ingressshim.DefaultIngressClassController}},
		testIngress("good", "foo.bar.com", ""),
		testIngress("broken", "bar.baz.com", `{"echo": {"8080": {"weight": "heavy"}}}`),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "web"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}},
	)
	c.translateForTest(t, cl)
	if c.out.Ingress == nil || len(c.out.Ingress.Ingresses) != 2 {
		t.Fatalf("shim result %+v", c.out.Ingress)
	}
	syn := c.out.Ingress.Gateways
	if len(syn) != 1 || syn[0].Namespace != "system" || syn[0].Name != "nghttpx" {
		t.Fatalf("synthetic Gateways %+v, want system/nghttpx (the controller's namespace)", syn)
	}
	// The status writer never sees the synthetic objects.
	res := status.WithoutSynthetic(c.out.Translation, c.synthetic())
	for _, g := range res.Gateways {
		t.Errorf("synthetic Gateway %s/%s left for the status writer", g.Namespace, g.Name)
	}
	for _, r := range res.HTTPRoutes {
		t.Errorf("synthetic HTTPRoute %s/%s left for the status writer", r.Namespace, r.Name)
	}
	for _, gc := range res.GatewayClasses {
		t.Errorf("synthetic GatewayClass %s left for the status writer", gc.Name)
	}

	// The data plane is provisioned like a Gateway's, owned by the IngressClass.
	if err := c.ensureGateway(ctx, &syn[0]); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "system", Name: "nghttpx-nghttpx"}, &svc); err != nil {
		t.Fatal(err)
	}
	if refs := svc.OwnerReferences; len(refs) != 1 || refs[0].Kind != "IngressClass" || refs[0].UID != "class-uid" {
		t.Errorf("data-plane Service owners %+v", refs)
	}

	// No address yet: nothing to write; the broken Ingress gets its event.
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	evs := drain(rec)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning InvalidAnnotation ") || !strings.Contains(evs[0], "weight") {
		t.Fatalf("events %q, want one InvalidAnnotation warning about the weight", evs)
	}
	// The load balancer assigns an address: both Ingresses show it.
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.245.0.7"}}
	if err := cl.Status().Update(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "broken"} {
		var ing networkingv1.Ingress
		if err := cl.Get(ctx, types.NamespacedName{Namespace: "web", Name: name}, &ing); err != nil {
			t.Fatal(err)
		}
		if lb := ing.Status.LoadBalancer.Ingress; len(lb) != 1 || lb[0].IP != "10.245.0.7" {
			t.Errorf("Ingress %s status %+v, want 10.245.0.7", name, lb)
		}
	}
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("events recorded again: %q", evs)
	}
	writes := c.writer.Counters().Writes.Load()
	// A new translation with the same result records and writes nothing.
	c.translateForTest(t, cl)
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("unchanged translation recorded %q", evs)
	}
	if got := c.writer.Counters().Writes.Load(); got != writes {
		t.Errorf("unchanged translation wrote %d statuses", got-writes)
	}
	// A different problem is a new event.
	var broken networkingv1.Ingress
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "web", Name: "broken"}, &broken); err != nil {
		t.Fatal(err)
	}
	broken.Annotations["ingress.zlab.co.jp/backend-config"] = `{"echo": {"8080": {"proto": "h3"}}}`
	if err := cl.Update(ctx, &broken); err != nil {
		t.Fatal(err)
	}
	c.translateForTest(t, cl)
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drain(rec); len(evs) != 1 || !strings.Contains(evs[0], "h3") {
		t.Errorf("events after the annotation changed: %q", evs)
	}
}

func TestIngressPublishService(t *testing.T) {
	ctx := context.Background()
	c, cl, _ := ingressController(t,
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"}, Spec: networkingv1.IngressClassSpec{Controller: ingressshim.DefaultIngressClassController}},
		testIngress("good", "foo.bar.com", ""),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "front", Namespace: "system"},
			Spec:   corev1.ServiceSpec{ExternalIPs: []string{"192.0.2.10"}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}}}},
	)
	c.ing.opts.PublishService = types.NamespacedName{Namespace: "system", Name: "front"}
	c.translateForTest(t, cl)
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	var ing networkingv1.Ingress
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "web", Name: "good"}, &ing); err != nil {
		t.Fatal(err)
	}
	lb := ing.Status.LoadBalancer.Ingress
	if len(lb) != 2 || lb[0].Hostname != "lb.example.com" || lb[1].IP != "192.0.2.10" {
		t.Errorf("status %+v, want the publish Service's host name and external IP", lb)
	}
}

// Nothing is recorded or written for the Ingresses of a terminating namespace:
// their Services may be gone first, and the namespace takes no new Events.
func TestIngressTerminatingNamespace(t *testing.T) {
	ctx := context.Background()
	c, cl, rec := ingressController(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"}, Spec: networkingv1.IngressClassSpec{Controller: ingressshim.DefaultIngressClassController}},
		testIngress("good", "foo.bar.com", ""), // its Service is already gone
	)
	c.translateForTest(t, cl)
	if len(c.out.Ingress.Ingresses) != 1 || len(c.out.Ingress.Ingresses[0].Events) == 0 {
		t.Fatalf("want the shim to report the missing Service: %+v", c.out.Ingress.Ingresses)
	}
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("events recorded in a terminating namespace: %q", evs)
	}
}
