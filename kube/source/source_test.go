package source

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// testCache drives events through fake informers and serves reads from a fake client.
type testCache struct {
	*informertest.FakeInformers
	reader client.Reader
}

func (c *testCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c *testCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

func objectsForSource() []client.Object {
	certNS := gatewayv1.Namespace("certs")
	return []client.Object{
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "ours"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "zlab.co.jp/nghttpx"}},
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/x"}},
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns", Generation: 1},
			Spec: gatewayv1.GatewaySpec{GatewayClassName: "ours", Listeners: []gatewayv1.Listener{{
				Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
				TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert", Namespace: &certNS}}},
			}}},
		},
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns", Generation: 1},
			Spec:       gatewayv1.GatewaySpec{GatewayClassName: "ours", Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
		},
		&gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns", Generation: 1},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
				Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "a", Port: new(gatewayv1.PortNumber(80))},
				}}}}},
			},
		},
		&gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "r-other", Namespace: "ns", Generation: 1},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "other"}}},
				Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "b", Port: new(gatewayv1.PortNumber(80))},
				}}}}},
			},
		},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "a-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "a"}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "b-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "b"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert", Namespace: "certs"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "ns"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}},
	}
}

type harness struct {
	t        *testing.T
	src      *Source
	fi       *informertest.FakeInformers
	notified atomic.Int64
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(objectsForSource()...).Build()}
	h := &harness{t: t, fi: fi}
	h.src = New(c, opts)
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) informer(obj client.Object) *controllertest.FakeInformer {
	h.t.Helper()
	inf, err := h.fi.FakeInformerFor(context.Background(), obj)
	if err != nil {
		h.t.Fatal(err)
	}
	return inf
}

// triggers reports whether f caused a notification.
func (h *harness) triggers(f func()) bool {
	before := h.notified.Load()
	f()
	return h.notified.Load() != before
}

func TestSnapshotTakesOnlyWhatIsReferenced(t *testing.T) {
	h := newHarness(t, Options{})
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var svcs, sliceNames, secrets []string
	for _, s := range in.Services {
		svcs = append(svcs, s.Name)
	}
	for _, s := range in.EndpointSlices {
		sliceNames = append(sliceNames, s.Name)
	}
	for _, s := range in.Secrets {
		secrets = append(secrets, s.Namespace+"/"+s.Name)
	}
	if !slices.Equal(svcs, []string{"a", "b"}) || !slices.Equal(sliceNames, []string{"a-1", "b-1"}) || !slices.Equal(secrets, []string{"certs/cert"}) {
		t.Errorf("services %v, slices %v, secrets %v", svcs, sliceNames, secrets)
	}
	if len(in.Gateways) != 2 || len(in.HTTPRoutes) != 2 || len(in.GatewayClasses) != 2 {
		t.Errorf("gateways %d routes %d classes %d", len(in.Gateways), len(in.HTTPRoutes), len(in.GatewayClasses))
	}
}

func TestRelevanceFiltering(t *testing.T) {
	h := newHarness(t, Options{})
	// Before the first snapshot everything counts.
	if !h.triggers(func() {
		h.informer(&corev1.Secret{}).Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "y"}})
	}) {
		t.Error("event before the first snapshot ignored")
	}
	if _, err := h.src.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	objs := map[string]client.Object{}
	for _, o := range objectsForSource() {
		objs[o.GetNamespace()+"/"+o.GetName()] = o
	}
	gw := objs["ns/gw"].(*gatewayv1.Gateway)
	statusOnly := gw.DeepCopy()
	statusOnly.Status.Conditions = []metav1.Condition{{Type: "Accepted", Status: "True"}}
	specChange := gw.DeepCopy()
	specChange.Generation = 2
	route := objs["ns/r"].(*gatewayv1.HTTPRoute)
	routeStatus := route.DeepCopy()
	routeStatus.Status.Parents = []gatewayv1.RouteParentStatus{{ControllerName: "zlab.co.jp/nghttpx"}}
	sliceA := objs["ns/a-1"].(*discoveryv1.EndpointSlice)
	sliceA2 := sliceA.DeepCopy()
	sliceA2.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}
	unrelatedSlice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "z-1", Namespace: "ns",
		Labels: map[string]string{discoveryv1.LabelServiceName: "z"}}}
	ns := objs["/ns"].(*corev1.Namespace)
	ns2 := ns.DeepCopy()
	ns2.Labels = map[string]string{"team": "a"}

	cases := []struct {
		name string
		want bool
		f    func()
	}{
		{"status-only Gateway update (our own write)", false, func() { h.informer(gw).Update(gw, statusOnly) }},
		{"Gateway spec change", true, func() { h.informer(gw).Update(gw, specChange) }},
		{"status-only HTTPRoute update", false, func() { h.informer(route).Update(route, routeStatus) }},
		{"referenced EndpointSlice change", true, func() { h.informer(sliceA).Update(sliceA, sliceA2) }},
		{"unreferenced EndpointSlice created", false, func() { h.informer(sliceA).Add(unrelatedSlice) }},
		{"unreferenced Secret deleted", false, func() { h.informer(&corev1.Secret{}).Delete(objs["ns/unrelated"].(metav1.Object)) }},
		{"referenced Secret in another namespace", true, func() { h.informer(&corev1.Secret{}).Delete(objs["certs/cert"].(metav1.Object)) }},
		{"ReferenceGrant where a reference crosses into", true, func() {
			h.informer(&gatewayv1beta1.ReferenceGrant{}).Add(&gatewayv1beta1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "certs"}})
		}},
		{"ReferenceGrant elsewhere", false, func() {
			h.informer(&gatewayv1beta1.ReferenceGrant{}).Add(&gatewayv1beta1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "elsewhere"}})
		}},
		{"Namespace labels without selectors", false, func() { h.informer(ns).Update(ns, ns2) }},
		{"GatewayClass of another controller", false, func() { h.informer(&gatewayv1.GatewayClass{}).Add(objs["/theirs"].(metav1.Object)) }},
		{"route of another Gateway for the controller", true, func() {
			r := objs["ns/r-other"].(*gatewayv1.HTTPRoute)
			r2 := r.DeepCopy()
			r2.Generation = 2
			h.informer(r).Update(r, r2)
		}},
	}
	for _, c := range cases {
		if got := h.triggers(c.f); got != c.want {
			t.Errorf("%s: triggered %v, want %v", c.name, got, c.want)
		}
	}
}

func TestProxyScopeIgnoresOtherGateways(t *testing.T) {
	h := newHarness(t, Options{Gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}})
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Gateways) != 1 || in.Gateways[0].Name != "gw" {
		t.Fatalf("gateways in a proxy snapshot: %+v", in.Gateways)
	}
	if len(in.Services) != 1 || in.Services[0].Name != "a" {
		t.Errorf("services in a proxy snapshot: %+v", in.Services)
	}
	r := &gatewayv1.HTTPRoute{}
	other := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r-other", Namespace: "ns", Generation: 1},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "other"}}}}}
	other2 := other.DeepCopy()
	other2.Generation = 2
	if h.triggers(func() { h.informer(r).Update(other, other2) }) {
		t.Error("a route of another Gateway triggered the proxy")
	}
	sliceB := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "b-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "b"}}}
	if h.triggers(func() { h.informer(sliceB).Add(sliceB) }) {
		t.Error("an endpoint of another Gateway's backend triggered the proxy")
	}
	gwOther := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "ns"}, Spec: gatewayv1.GatewaySpec{GatewayClassName: "ours"}}
	if h.triggers(func() { h.informer(gwOther).Add(gwOther) }) {
		t.Error("another Gateway triggered the proxy")
	}
}
