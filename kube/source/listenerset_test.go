package source

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func listenerSetObjects() []client.Object {
	gwNS := gatewayv1.Namespace("ns")
	httpRoute := func(name string, parent gatewayv1.ParentReference, backend string) *gatewayv1.HTTPRoute {
		return &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Generation: 1},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{parent}},
				Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backend), Port: new(gatewayv1.PortNumber(80))},
				}}}}},
			},
		}
	}
	listenerSet := func(name, gw string) *gatewayv1.ListenerSet {
		return &gatewayv1.ListenerSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Generation: 1},
			Spec: gatewayv1.ListenerSetSpec{
				ParentRef: gatewayv1.ParentGatewayReference{Name: gatewayv1.ObjectName(gw), Namespace: &gwNS},
				Listeners: []gatewayv1.ListenerEntry{{
					Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
					TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: gatewayv1.ObjectName(name + "-cert")}}},
				}},
			},
		}
	}
	lsKind := gatewayv1.Kind("ListenerSet")
	return []client.Object{
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "ours"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "zlab.co.jp/nghttpx"}},
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/x"}},
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns", Generation: 1},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: "ours",
				Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
				AllowedListeners: &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{
					From:     new(gatewayv1.NamespacesFromSelector),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"listeners": "yes"}},
				}},
			},
		},
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: "ns", Generation: 1},
			Spec:       gatewayv1.GatewaySpec{GatewayClassName: "theirs", Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
		},
		listenerSet("ls", "gw"),
		listenerSet("foreign-ls", "foreign"),
		httpRoute("via-ls", gatewayv1.ParentReference{Kind: &lsKind, Name: "ls"}, "c"),
		httpRoute("via-foreign-ls", gatewayv1.ParentReference{Kind: &lsKind, Name: "foreign-ls"}, "d"),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "team"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "team"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ls-cert", Namespace: "team"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "foreign-ls-cert", Namespace: "team"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}},
	}
}

func newListenerSetHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(listenerSetObjects()...).Build()}
	h := &harness{t: t, fi: fi, src: New(c, opts)}
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestListenerSetSnapshot(t *testing.T) {
	for _, opts := range []Options{{}, {Gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}}} {
		h := newListenerSetHarness(t, opts)
		in, err := h.src.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var sets, svcs, secrets []string
		for _, s := range in.ListenerSets {
			sets = append(sets, s.Namespace+"/"+s.Name)
		}
		for _, s := range in.Services {
			svcs = append(svcs, s.Namespace+"/"+s.Name)
		}
		for _, s := range in.Secrets {
			secrets = append(secrets, s.Namespace+"/"+s.Name)
		}
		// Only the ListenerSet of our Gateway, and what it and its routes reference.
		if !slices.Equal(sets, []string{"team/ls"}) || !slices.Equal(svcs, []string{"team/c"}) || !slices.Equal(secrets, []string{"team/ls-cert"}) {
			t.Errorf("scope %v: listenerSets %v, services %v, secrets %v", opts.Gateway, sets, svcs, secrets)
		}
	}
}

func TestListenerSetRelevance(t *testing.T) {
	h := newListenerSetHarness(t, Options{})
	if _, err := h.src.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	objs := map[string]client.Object{}
	for _, o := range listenerSetObjects() {
		objs[o.GetNamespace()+"/"+o.GetName()] = o
	}
	ls := objs["team/ls"].(*gatewayv1.ListenerSet)
	statusOnly := ls.DeepCopy()
	statusOnly.Status.Conditions = []metav1.Condition{{Type: "Accepted", Status: "True"}}
	specChange := ls.DeepCopy()
	specChange.Generation = 2
	foreign := objs["team/foreign-ls"].(*gatewayv1.ListenerSet)
	foreign2 := foreign.DeepCopy()
	foreign2.Generation = 2
	moved := foreign.DeepCopy()
	moved.Generation = 2
	moved.Spec.ParentRef.Name = "gw"
	route := objs["team/via-ls"].(*gatewayv1.HTTPRoute)
	route2 := route.DeepCopy()
	route2.Generation = 2
	ns := objs["/team"].(*corev1.Namespace)
	ns2 := ns.DeepCopy()
	ns2.Labels = map[string]string{"listeners": "yes"}

	cases := []struct {
		name string
		want bool
		f    func()
	}{
		{"status-only ListenerSet update (our own write)", false, func() { h.informer(ls).Update(ls, statusOnly) }},
		{"ListenerSet spec change", true, func() { h.informer(ls).Update(ls, specChange) }},
		{"ListenerSet deleted", true, func() { h.informer(ls).Delete(ls) }},
		{"ListenerSet of another controller's Gateway", false, func() { h.informer(ls).Update(foreign, foreign2) }},
		{"ListenerSet moved to our Gateway", true, func() { h.informer(ls).Update(foreign, moved) }},
		{"route attached through a ListenerSet", true, func() { h.informer(route).Update(route, route2) }},
		{"referenced Secret of a ListenerSet listener", true, func() { h.informer(&corev1.Secret{}).Delete(objs["team/ls-cert"].(metav1.Object)) }},
		{"Secret of another controller's ListenerSet", false, func() {
			h.informer(&corev1.Secret{}).Delete(objs["team/foreign-ls-cert"].(metav1.Object))
		}},
		{"Namespace labels when a Gateway selects ListenerSet namespaces", true, func() { h.informer(ns).Update(ns, ns2) }},
	}
	for _, c := range cases {
		if got := h.triggers(c.f); got != c.want {
			t.Errorf("%s: triggered %v, want %v", c.name, got, c.want)
		}
	}
}
