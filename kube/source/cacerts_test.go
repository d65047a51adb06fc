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
)

func TestFrontendCABundles(t *testing.T) {
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	other := gatewayv1.Namespace("other")
	mtls := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "mtls", Namespace: "ns", Generation: 1},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "ours",
			TLS: &gatewayv1.GatewayTLSConfig{Frontend: &gatewayv1.FrontendTLSConfig{
				Default: gatewayv1.TLSConfig{Validation: &gatewayv1.FrontendTLSValidation{CACertificateRefs: []gatewayv1.ObjectReference{
					{Kind: "ConfigMap", Name: "ca"}}}},
				PerPort: []gatewayv1.TLSPortConfig{{Port: 8443, TLS: gatewayv1.TLSConfig{Validation: &gatewayv1.FrontendTLSValidation{
					CACertificateRefs: []gatewayv1.ObjectReference{
						{Kind: "ConfigMap", Name: "ca-b", Namespace: &other},
						{Kind: "Secret", Name: "ca-secret"},
						{Kind: "Service", Name: "not-a-bundle"},
					}}}}},
			}},
			Listeners: []gatewayv1.Listener{{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType}}},
	}
	objs := append(objectsForSource(), mtls,
		configMap("ns", "ca"), configMap("other", "ca-b"), configMap("ns", "unrelated"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca-secret", Namespace: "ns"}})
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()}
	h := &harness{t: t, fi: fi}
	h.src = New(c, Options{})
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var cms []string
	for _, cm := range in.ConfigMaps {
		cms = append(cms, cm.Namespace+"/"+cm.Name)
	}
	if len(cms) != 2 || cms[0] != "ns/ca" || cms[1] != "other/ca-b" {
		t.Errorf("snapshot ConfigMaps %v, want [ns/ca other/ca-b]", cms)
	}
	found := false
	for _, sec := range in.Secrets {
		found = found || sec.Namespace == "ns" && sec.Name == "ca-secret"
	}
	if !found {
		t.Errorf("snapshot lacks the CA Secret ns/ca-secret")
	}
	inf := h.informer(&corev1.ConfigMap{})
	for _, tc := range []struct {
		cm   *corev1.ConfigMap
		want bool
	}{
		{configMap("ns", "ca"), true},
		{configMap("other", "ca-b"), true},
		{configMap("ns", "unrelated"), false},
	} {
		changed := tc.cm.DeepCopy()
		changed.Data["ca.crt"] = "new"
		if got := h.triggers(func() { inf.Update(tc.cm, changed) }); got != tc.want {
			t.Errorf("update of ConfigMap %s/%s triggered %v, want %v", tc.cm.Namespace, tc.cm.Name, got, tc.want)
		}
	}
}

func TestClusterWideConfigMaps(t *testing.T) {
	byObject := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: nil},
	}
	AddParametersCacheOptions(byObject, "sys")
	byObject[&corev1.ConfigMap{}] = cache.ByObject{Field: fields.OneTermEqualSelector("metadata.name", "x")}
	ClusterWideConfigMaps(byObject)
	for k := range byObject {
		if _, ok := k.(*corev1.ConfigMap); ok {
			t.Errorf("ConfigMaps still restricted: %+v", byObject[k])
		}
	}
	if len(byObject) != 1 {
		t.Errorf("other kinds changed: %v", byObject)
	}
}
