package source

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func backendTLSPolicy(name, svc, cm string) *gatewayv1.BackendTLSPolicy {
	return &gatewayv1.BackendTLSPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1},
		Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{Kind: "Service", Name: gatewayv1.ObjectName(svc)}}},
			Validation: gatewayv1.BackendTLSPolicyValidation{
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: gatewayv1.ObjectName(cm)}},
				Hostname:          "abc.example.com",
			},
		},
	}
}

// Policies of referenced Services (a, used by route r) are listed with their CA
// ConfigMaps; others are not, and only the former's changes trigger. The
// Gateway's backend client certificate Secret counts as referenced.
func TestBackendTLSPolicies(t *testing.T) {
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	used, unused := backendTLSPolicy("used", "a", "ca"), backendTLSPolicy("unused", "nobody", "ca-unused")
	objs := objectsForSource()
	for i, o := range objs {
		if g, ok := o.(*gatewayv1.Gateway); ok && g.Name == "other" {
			g = g.DeepCopy()
			g.Spec.TLS = &gatewayv1.GatewayTLSConfig{Backend: &gatewayv1.GatewayBackendTLS{
				ClientCertificateRef: &gatewayv1.SecretObjectReference{Name: "client"}}}
			objs[i] = g
		}
	}
	objs = append(objs, used, unused, configMap("ns", "ca"), configMap("ns", "ca-unused"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "ns"}})
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
	var names []string
	for _, p := range in.BackendTLSPolicies {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"used"}) {
		t.Errorf("snapshot policies %v, want [used]", names)
	}
	var cms []string
	for _, cm := range in.ConfigMaps {
		cms = append(cms, cm.Namespace+"/"+cm.Name)
	}
	if !slices.Equal(cms, []string{"ns/ca"}) {
		t.Errorf("snapshot ConfigMaps %v, want [ns/ca]", cms)
	}
	if !slices.ContainsFunc(in.Secrets, func(s corev1.Secret) bool { return s.Namespace == "ns" && s.Name == "client" }) {
		t.Errorf("snapshot lacks the backend client certificate Secret ns/client")
	}

	pinf := h.informer(&gatewayv1.BackendTLSPolicy{})
	for _, tc := range []struct {
		p    *gatewayv1.BackendTLSPolicy
		want bool
	}{{used, true}, {unused, false}} {
		changed := tc.p.DeepCopy()
		changed.Generation++
		changed.Spec.Validation.Hostname = "new.example.com"
		if got := h.triggers(func() { pinf.Update(tc.p, changed) }); got != tc.want {
			t.Errorf("spec update of policy %s triggered %v, want %v", tc.p.Name, got, tc.want)
		}
		statusOnly := tc.p.DeepCopy()
		statusOnly.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{{ControllerName: "zlab.co.jp/nghttpx"}}
		if h.triggers(func() { pinf.Update(tc.p, statusOnly) }) {
			t.Errorf("status-only update of policy %s triggered a rebuild", tc.p.Name)
		}
	}
	cinf := h.informer(&corev1.ConfigMap{})
	for _, tc := range []struct {
		cm   *corev1.ConfigMap
		want bool
	}{{configMap("ns", "ca"), true}, {configMap("ns", "ca-unused"), false}} {
		changed := tc.cm.DeepCopy()
		changed.Data["ca.crt"] = "new"
		if got := h.triggers(func() { cinf.Update(tc.cm, changed) }); got != tc.want {
			t.Errorf("update of ConfigMap %s triggered %v, want %v", tc.cm.Name, got, tc.want)
		}
	}
}
