package source

import (
	"context"
	"slices"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func cmCertificate(ns, name, secret string, ready cmmeta.ConditionStatus, reason string) *cmv1.Certificate {
	c := &cmv1.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec:       cmv1.CertificateSpec{SecretName: secret},
	}
	if ready != "" {
		c.Status.Conditions = []cmv1.CertificateCondition{{Type: cmv1.CertificateConditionReady, Status: ready, Reason: reason}}
	}
	return c
}

// certHarness is the source harness plus a Gateway in "web" whose listener
// references the missing Secret web/site-tls, and Certificates.
func certHarness(t *testing.T) *harness {
	t.Helper()
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	objs := append(objectsForSource(),
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "web", Generation: 1},
			Spec: gatewayv1.GatewaySpec{GatewayClassName: "ours", Listeners: []gatewayv1.Listener{{
				Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
				TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "site-tls"}}},
			}}},
		},
		cmCertificate("web", "site", "site-tls", cmmeta.ConditionFalse, "Issuing"),
		cmCertificate("web", "unrelated", "unrelated-tls", cmmeta.ConditionFalse, "Issuing"),
		// certs/cert exists: its Certificate is not needed.
		cmCertificate("certs", "cert", "cert", cmmeta.ConditionTrue, "Ready"),
		// Same Secret name, wrong namespace.
		cmCertificate("elsewhere", "site", "site-tls", cmmeta.ConditionFalse, "Issuing"),
	)
	fi := &informertest.FakeInformers{Scheme: s}
	c := &testCache{FakeInformers: fi, reader: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()}
	h := &harness{t: t, fi: fi}
	h.src = New(c, Options{})
	if err := h.src.Start(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	return h
}

func certKeys(in []cmv1.Certificate) []string {
	var out []string
	for _, c := range in {
		out = append(out, c.Namespace+"/"+c.Name)
	}
	return out
}

func TestCertificatesOnlyOnceWatched(t *testing.T) {
	h := certHarness(t)
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Certificates) != 0 {
		t.Errorf("Certificates %v in a snapshot before WatchCertificates (CRD not known to be installed)", certKeys(in.Certificates))
	}
	// Without the watch, no Certificate event can reach the Source at all; the
	// proxies never call WatchCertificates.
	if !h.triggers(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.src.WatchCertificates(ctx, func() { h.notified.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}) {
		t.Error("WatchCertificates did not ask for a rebuild")
	}
	in, err = h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := certKeys(in.Certificates); !slices.Equal(got, []string{"web/site"}) {
		t.Errorf("Certificates in the snapshot %v, want only web/site (writes the missing, referenced web/site-tls)", got)
	}
}

func TestCertificateRelevance(t *testing.T) {
	h := certHarness(t)
	if err := h.src.WatchCertificates(context.Background(), func() { h.notified.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := h.src.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	inf := h.informer(&cmv1.Certificate{})
	site := cmCertificate("web", "site", "site-tls", cmmeta.ConditionFalse, "Issuing")
	readyNow := site.DeepCopy()
	readyNow.Status.Conditions[0].Status, readyNow.Status.Conditions[0].Reason = cmmeta.ConditionTrue, "Ready"
	renewal := site.DeepCopy()
	renewal.Status.RenewalTime = &metav1.Time{Time: time.Unix(1e9, 0)}
	renewal.Status.Revision = new(int(3))
	retarget := site.DeepCopy()
	retarget.Spec.SecretName = "other-tls"
	retarget.Generation = 2
	existing := cmCertificate("certs", "cert", "cert", cmmeta.ConditionTrue, "Ready")
	existingExpired := existing.DeepCopy()
	existingExpired.Status.Conditions[0].Status = cmmeta.ConditionFalse
	cases := []struct {
		name string
		want bool
		f    func()
	}{
		{"Ready changes on a Certificate of a missing Secret", true, func() { inf.Update(site, readyNow) }},
		{"other status changes (renewal time, revision)", false, func() { inf.Update(site, renewal) }},
		{"Certificate moved away from the missing Secret", true, func() { inf.Update(site, retarget) }},
		{"new Certificate for the missing Secret", true, func() { inf.Add(cmCertificate("web", "site2", "site-tls", "", "")) }},
		{"Certificate of the missing Secret deleted", true, func() { inf.Delete(site) }},
		{"Certificate of an unreferenced Secret", false, func() { inf.Add(cmCertificate("web", "x", "unrelated-tls", "", "")) }},
		{"same Secret name in another namespace", false, func() { inf.Add(cmCertificate("elsewhere", "y", "site-tls", "", "")) }},
		{"Certificate of an existing Secret", false, func() { inf.Update(existing, existingExpired) }},
	}
	for _, c := range cases {
		if got := h.triggers(c.f); got != c.want {
			t.Errorf("%s: triggered %v, want %v", c.name, got, c.want)
		}
	}
}

// When the CRD goes away, snapshots drop the Certificates and the informer stops.
func TestUnwatchCertificates(t *testing.T) {
	h := certHarness(t)
	if err := h.src.WatchCertificates(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	if in, err := h.src.Snapshot(context.Background()); err != nil || len(in.Certificates) != 1 {
		t.Fatalf("snapshot while watching: %v, Certificates %v", err, certKeys(in.Certificates))
	}
	if !h.triggers(func() {
		if err := h.src.UnwatchCertificates(context.Background(), func() { h.notified.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}) {
		t.Error("UnwatchCertificates did not ask for a rebuild")
	}
	if _, ok := h.fi.InformersByGVK[cmv1.SchemeGroupVersion.WithKind("Certificate")]; ok {
		t.Error("the Certificate informer was not removed")
	}
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Certificates) != 0 {
		t.Errorf("Certificates %v in a snapshot after UnwatchCertificates", certKeys(in.Certificates))
	}
}

// A Certificate informer that never syncs (say, RBAC forbids listing) gives up
// when ctx ends and leaves snapshots as they were.
func TestWatchCertificatesGivesUp(t *testing.T) {
	h := certHarness(t)
	h.fi.InformersByGVK[cmv1.SchemeGroupVersion.WithKind("Certificate")] = newUnsyncedInformer()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := h.src.WatchCertificates(ctx, func() {}); err == nil {
		t.Fatal("WatchCertificates succeeded with an informer that never syncs")
	}
	if _, ok := h.fi.InformersByGVK[cmv1.SchemeGroupVersion.WithKind("Certificate")]; ok {
		t.Error("the unsynced informer was not removed")
	}
	in, err := h.src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Certificates) != 0 {
		t.Errorf("Certificates %v in a snapshot after the watch failed", certKeys(in.Certificates))
	}
}

func newUnsyncedInformer() *controllertest.FakeInformer { return controllertest.NewFakeInformer() }
