package source

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
)

func ingressFixture(ns, name, class, svc, secret string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: name + ".example",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: new(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80},
				}},
			}}}},
		}}},
	}
	if class != "" {
		ing.Spec.IngressClassName = new(class)
	}
	if secret != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{name + ".example"}, SecretName: secret}}
	}
	return ing
}

func ingressObjects() []client.Object {
	return []client.Object{
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"}, Spec: networkingv1.IngressClassSpec{Controller: "zlab.co.jp/nghttpx"}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		ingressFixture("web", "ours", "nghttpx", "svc-ours", "tls-ours"),
		ingressFixture("web", "classless", "", "svc-classless", ""),
		ingressFixture("web", "theirs", "nginx", "svc-theirs", "tls-theirs"),
		ingressFixture("other", "elsewhere", "nghttpx", "svc-elsewhere", ""),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-ours", Namespace: "web"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-classless", Namespace: "web"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-theirs", Namespace: "web"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-elsewhere", Namespace: "other"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "publish", Namespace: "system"}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "svc-ours-1", Namespace: "web", Labels: map[string]string{discoveryv1.LabelServiceName: "svc-ours"}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "svc-theirs-1", Namespace: "web", Labels: map[string]string{discoveryv1.LabelServiceName: "svc-theirs"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-ours", Namespace: "web"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-theirs", Namespace: "web"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "default-cert", Namespace: "system"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx-config", Namespace: "system"}, Data: map[string]string{"nghttpx-conf": "workers=2"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "system"}},
	}
}

func newIngressHarness(t *testing.T, ing *Ingress) *harness {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(ingressObjects()...).Build()}
	h := &harness{t: t, fi: fi}
	h.src = New(c, Options{Ingress: ing})
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := h.src.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

func keysOf[T client.Object](items []T) []string {
	var out []string
	for _, o := range items {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func TestIngressSnapshotTakesWhatIngressesReference(t *testing.T) {
	h := newIngressHarness(t, &Ingress{
		Shim: ingressshim.Options{
			WatchNamespace: "web", DefaultTLSSecret: "system/default-cert", NghttpxConfigMap: "system/nghttpx-config",
		},
		PublishService: types.NamespacedName{Namespace: "system", Name: "publish"},
	})
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		// --watch-namespace: the Ingress of namespace other is not even listed.
		{"ingresses", keysOf(ptrs(in.Ingresses)), []string{"web/classless", "web/ours", "web/theirs"}},
		{"ingress classes", keysOf(ptrs(in.IngressClasses)), []string{"/nghttpx", "/nginx"}},
		// Another controller's Ingress references nothing of ours.
		{"services", keysOf(ptrs(in.Services)), []string{"system/publish", "web/svc-classless", "web/svc-ours"}},
		{"endpoint slices", keysOf(ptrs(in.EndpointSlices)), []string{"web/svc-ours-1"}},
		{"secrets", keysOf(ptrs(in.Secrets)), []string{"system/default-cert", "web/tls-ours"}},
		// Only the operator ConfigMap.
		{"config maps", keysOf(ptrs(in.ConfigMaps)), []string{"system/nghttpx-config"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestIngressRelevance(t *testing.T) {
	h := newIngressHarness(t, &Ingress{Shim: ingressshim.Options{NghttpxConfigMap: "system/nghttpx-config", RequireIngressClass: false}})
	objs := map[string]client.Object{}
	for _, o := range ingressObjects() {
		objs[o.GetNamespace()+"/"+o.GetName()] = o
	}
	ours := objs["web/ours"].(*networkingv1.Ingress)
	statusOnly := ours.DeepCopy()
	statusOnly.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.245.0.1"}}
	annotated := ours.DeepCopy()
	annotated.Annotations = map[string]string{"ingress.zlab.co.jp/backend-config": "{}"}
	theirs := objs["web/theirs"].(*networkingv1.Ingress)
	theirs2 := theirs.DeepCopy()
	theirs2.Generation = 2
	moved := theirs.DeepCopy()
	moved.Generation = 2
	moved.Spec.IngressClassName = new("nghttpx")
	classless := objs["web/classless"].(*networkingv1.Ingress)
	classless2 := classless.DeepCopy()
	classless2.Generation = 2
	cm := objs["system/nghttpx-config"].(*corev1.ConfigMap)
	cm2 := cm.DeepCopy()
	cm2.Data = map[string]string{"nghttpx-conf": "workers=4"}
	other := objs["system/unrelated"].(*corev1.ConfigMap)
	svcTheirs := objs["web/svc-theirs"].(*corev1.Service)
	svcOurs := objs["web/svc-ours"].(*corev1.Service)
	secretOurs := objs["web/tls-ours"].(*corev1.Secret)
	secretTheirs := objs["web/tls-theirs"].(*corev1.Secret)

	cases := []struct {
		name string
		want bool
		f    func()
	}{
		{"status-only update of our Ingress (our own status write)", false, func() { h.informer(ours).Update(ours, statusOnly) }},
		{"annotation change of our Ingress", true, func() { h.informer(ours).Update(ours, annotated) }},
		{"spec change of another controller's Ingress", false, func() { h.informer(theirs).Update(theirs, theirs2) }},
		{"Ingress moving to our class", true, func() { h.informer(theirs).Update(theirs, moved) }},
		{"spec change of an Ingress without class", true, func() { h.informer(classless).Update(classless, classless2) }},
		{"new IngressClass", true, func() {
			h.informer(&networkingv1.IngressClass{}).Add(&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
		}},
		{"operator ConfigMap change", true, func() { h.informer(cm).Update(cm, cm2) }},
		{"another ConfigMap", false, func() { h.informer(cm).Add(other) }},
		{"Service of our Ingress", true, func() { h.informer(svcOurs).Delete(svcOurs) }},
		{"Service of another controller's Ingress", false, func() { h.informer(svcTheirs).Delete(svcTheirs) }},
		{"TLS Secret of our Ingress", true, func() { h.informer(secretOurs).Delete(secretOurs) }},
		{"TLS Secret of another controller's Ingress", false, func() { h.informer(secretTheirs).Delete(secretTheirs) }},
	}
	for _, c := range cases {
		if got := h.triggers(c.f); got != c.want {
			t.Errorf("%s: triggered %v, want %v", c.name, got, c.want)
		}
	}

	// With --require-ingress-class an Ingress without class is not ours.
	h = newIngressHarness(t, &Ingress{Shim: ingressshim.Options{RequireIngressClass: true}})
	if h.triggers(func() { h.informer(classless).Update(classless, classless2) }) {
		t.Error("an Ingress without class triggered although classes are required")
	}
}

func TestIngressCacheOptions(t *testing.T) {
	if got := IngressCacheOptions(nil); len(got) != 0 {
		t.Errorf("no Ingress front-end: %v", got)
	}
	got := IngressCacheOptions(&Ingress{Shim: ingressshim.Options{WatchNamespace: "web", NghttpxConfigMap: "system/cfg"}})
	var cm, ing bool
	for o, b := range got {
		switch o.(type) {
		case *corev1.ConfigMap:
			cm = true
			if _, ok := b.Namespaces["system"]; !ok || len(b.Namespaces) != 1 || b.Field == nil || b.Field.String() != "metadata.name=cfg" {
				t.Errorf("ConfigMap cache: namespaces %v field %v", b.Namespaces, b.Field)
			}
		case *networkingv1.Ingress:
			ing = true
			if _, ok := b.Namespaces["web"]; !ok || len(b.Namespaces) != 1 {
				t.Errorf("Ingress cache namespaces %v", b.Namespaces)
			}
		}
	}
	if !cm || !ing {
		t.Errorf("cache options %v: want the ConfigMap and Ingress restricted", got)
	}
}
