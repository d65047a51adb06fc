package source

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
)

func paramsClass(name, controller, ns, cm string) *gatewayv1.GatewayClass {
	n := gatewayv1.Namespace(ns)
	return &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: gatewayv1.GatewayClassSpec{
		ControllerName: gatewayv1.GatewayController(controller),
		ParametersRef:  &gatewayv1.ParametersReference{Kind: "ConfigMap", Name: cm, Namespace: &n},
	}}
}

func configMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"http3": "false"}}
}

func TestParametersConfigMaps(t *testing.T) {
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	objs := append(objectsForSource(),
		paramsClass("ours-params", "zlab.co.jp/nghttpx", "sys", "params"),
		paramsClass("ours-elsewhere", "zlab.co.jp/nghttpx", "other", "params"),
		paramsClass("theirs-params", "example.com/x", "sys", "theirs"),
		configMap("sys", "params"), configMap("sys", "theirs"), configMap("sys", "unrelated"), configMap("other", "params"),
	)
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()}
	h := &harness{t: t, fi: fi}
	h.src = New(c, Options{ParametersNamespace: "sys"})
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Only our classes' ConfigMap in the parameters namespace; the one in
	// "other" is left to the translator to reject.
	if len(in.ConfigMaps) != 1 || in.ConfigMaps[0].Namespace != "sys" || in.ConfigMaps[0].Name != "params" {
		t.Errorf("snapshot ConfigMaps %+v, want only sys/params", in.ConfigMaps)
	}
	cms := h.informer(&corev1.ConfigMap{})
	for _, tc := range []struct {
		cm   *corev1.ConfigMap
		want bool
	}{
		{configMap("sys", "params"), true},
		{configMap("sys", "theirs"), false},
		{configMap("sys", "unrelated"), false},
	} {
		changed := tc.cm.DeepCopy()
		changed.Data["http3"] = "true"
		if got := h.triggers(func() { cms.Update(tc.cm, changed) }); got != tc.want {
			t.Errorf("update of ConfigMap %s/%s triggered %v, want %v", tc.cm.Namespace, tc.cm.Name, got, tc.want)
		}
	}

	// Without a parameters namespace (the proxy agent) no ConfigMap is read.
	h2 := newHarness(t, Options{})
	in2, err := h2.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(in2.ConfigMaps) != 0 {
		t.Errorf("ConfigMaps without a parameters namespace: %+v", in2.ConfigMaps)
	}
}

func TestAddParametersCacheOptions(t *testing.T) {
	// Merged with the Ingress operator ConfigMap: its name selector stays on its
	// own namespace and does not hide the parameters namespace.
	bo := IngressCacheOptions(&Ingress{Shim: ingressshim.Options{NghttpxConfigMap: "ops/nghttpx"}})
	AddParametersCacheOptions(bo, "sys")
	var got cache.ByObject
	n := 0
	for k, v := range bo {
		if _, ok := k.(*corev1.ConfigMap); ok {
			got = v
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d ConfigMap entries, want 1", n)
	}
	if got.Field != nil {
		t.Errorf("object-wide field selector %v left in place", got.Field)
	}
	if ops := got.Namespaces["ops"].FieldSelector; ops == nil || ops.String() != "metadata.name=nghttpx" {
		t.Errorf("operator namespace selector %v", ops)
	}
	if sys, ok := got.Namespaces["sys"]; !ok || sys.FieldSelector == nil || !sys.FieldSelector.Empty() {
		t.Errorf("parameters namespace config %+v, want every ConfigMap", sys)
	}
	if len(got.Namespaces) != 2 {
		t.Errorf("namespaces %v", got.Namespaces)
	}

	// Alone, and a no-op without a namespace.
	alone := map[client.Object]cache.ByObject{}
	AddParametersCacheOptions(alone, "")
	if len(alone) != 0 {
		t.Errorf("empty namespace added %v", alone)
	}
	AddParametersCacheOptions(alone, "sys")
	for _, v := range alone {
		if len(v.Namespaces) != 1 || v.Namespaces["sys"].FieldSelector.String() != fields.Everything().String() {
			t.Errorf("parameters alone: %+v", v)
		}
	}
}
