package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/status"
)

// recorded is one Event as the API server would get it.
type recorded struct {
	kind, object, eventType, reason, action, note string
}

// memRecorder keeps Events in memory with the object they regard.
type memRecorder struct{ got []recorded }

func (m *memRecorder) Eventf(regarding, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	o := regarding.(client.Object)
	m.got = append(m.got, recorded{o.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(o).String(),
		eventtype, reason, action, fmt.Sprintf(note, args...)})
}

func (m *memRecorder) take() []recorded {
	out := m.got
	m.got = nil
	return out
}

// tlsSecret is a kubernetes.io/tls Secret with a self-signed certificate
// valid until notAfter.
func tlsSecret(t *testing.T, ns, name string, notAfter time.Time) *corev1.Secret {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"},
		DNSNames: []string{"www.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		}}
}

// gatewayController is a Controller with what translation, status writing,
// provisioning, metrics and Events use, over a fake API server; its series are
// on their own registry.
func gatewayController(t *testing.T, objs ...client.Object) (*Controller, client.Client, *memRecorder, *prometheus.Registry) {
	t.Helper()
	s, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&gatewayv1.GatewayClass{}, &gatewayv1.Gateway{}, &gatewayv1.HTTPRoute{}, &gatewayv1.GRPCRoute{}).Build()
	opts := Options{Namespace: "system", Version: "v1.2.3-test", Log: testr.New(t)}.withDefaults()
	rec := &memRecorder{}
	m := newCtrlMetrics()
	c := &Controller{
		opts: opts, cache: &readerCache{FakeInformers: &informertest.FakeInformers{Scheme: s}, reader: cl}, log: opts.Log,
		writer:  &status.Writer{Reader: cl, Client: cl, Cache: cl, Log: opts.Log, Observer: m},
		metrics: m, events: &objectEvents{recorder: rec, metrics: m, log: opts.Log},
		batch: &source.Batcher{},
	}
	c.prov = &provision.Provisioner{Client: cl, Reader: cl, Log: opts.Log, Observer: m}
	c.poll = newPoller(int(opts.Provision.AdminPort), nil, c.batch.Notify, opts.Log)
	c.src = source.New(c.cache, source.Options{})
	reg := prometheus.NewRegistry()
	registerMetrics(reg, c)
	return c, cl, rec, reg
}

// gatewayObjects: our class, a Gateway whose https listener has a certificate
// expiring in 10 days and whose https-2 listener names a missing Secret, and
// an HTTPRoute whose backend Service does not exist.
func gatewayObjects(t *testing.T, notAfter time.Time) []client.Object {
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", UID: "gw-uid", Generation: 1},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "nghttpx", Listeners: []gatewayv1.Listener{
			{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType, Hostname: new(gatewayv1.Hostname("www.example.com")),
				TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert"}}}},
			{Name: "https-2", Port: 443, Protocol: gatewayv1.HTTPSProtocolType, Hostname: new(gatewayv1.Hostname("other.example.com")),
				TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "missing"}}}},
		}},
	}
	rt := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "site", UID: "route-uid", Generation: 1},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web", SectionName: new(gatewayv1.SectionName("https"))}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: "nowhere", Port: new(gatewayv1.PortNumber(80))}}}}}},
		},
	}
	return []client.Object{
		&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx", UID: "class-uid"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		gw, rt, tlsSecret(t, "apps", "cert", notAfter),
	}
}

// The series read from the registry after driving translation, status
// writes, provisioning, leadership and batching.
func TestControllerMetrics(t *testing.T) {
	ctx := context.Background()
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	c, cl, _, reg := gatewayController(t, gatewayObjects(t, notAfter)...)
	c.translateForTest(t, cl)
	c.metrics.build.Observe(0.02) // as sync does
	c.observeTranslation()

	for kind, want := range map[string]float64{"GatewayClass": 1, "Gateway": 1, "HTTPRoute": 1, "GRPCRoute": 0, "Ingress": 0} {
		if got := testutil.ToFloat64(c.metrics.managed.WithLabelValues(kind)); got != want {
			t.Errorf("managed_objects{kind=%q} = %v, want %v", kind, got, want)
		}
	}
	if got := testutil.ToFloat64(c.metrics.certExpiry.WithLabelValues("apps", "cert")); got != float64(notAfter.Unix()) {
		t.Errorf("certificate expiry %v, want %d", got, notAfter.Unix())
	}
	if n := testutil.CollectAndCount(c.metrics.certExpiry); n != 1 {
		t.Errorf("%d certificate series, want 1 (the missing Secret has none)", n)
	}

	res := status.WithoutSynthetic(c.out.Translation, c.synthetic())
	if err := c.writer.Write(ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := c.writer.Write(ctx, res); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"GatewayClass", "Gateway", "HTTPRoute"} {
		for result, want := range map[string]float64{"written": 1, "unchanged": 1, "error": 0} {
			if got := testutil.ToFloat64(c.metrics.statusUpdates.WithLabelValues(kind, result)); got != want {
				t.Errorf("status_updates_total{kind=%q,result=%q} = %v, want %v", kind, result, got, want)
			}
		}
	}
	// The unchanged second pass came from the cache: only the writes are timed.
	if n := testutil.CollectAndCount(c.metrics.statusDuration); n != 3 {
		t.Errorf("%d status duration series, want 3", n)
	}

	if err := c.ensureGateway(ctx, &res.Gateways[0]); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ServiceAccount", "Service", "Deployment"} {
		if got := testutil.ToFloat64(c.metrics.provision.WithLabelValues(provision.ActionApply, kind)); got != 1 {
			t.Errorf("provision_actions_total{action=apply,kind=%q} = %v, want 1", kind, got)
		}
	}

	c.leader.Store(true)
	c.batch.Notify()
	c.batch.Notify()
	want := fmt.Sprintf(`
# HELP nghttpx_gateway_batch_pending_events Watch notifications waiting for the next batch (the work queue's depth).
# TYPE nghttpx_gateway_batch_pending_events gauge
nghttpx_gateway_batch_pending_events 2
# HELP nghttpx_gateway_build_info Always 1: the controller's version (as --version prints it) and Go version.
# TYPE nghttpx_gateway_build_info gauge
nghttpx_gateway_build_info{go_version=%q,version="v1.2.3-test"} 1
# HELP nghttpx_gateway_leader 1 while this replica is the elected leader (provisions, writes status, records Events), else 0.
# TYPE nghttpx_gateway_leader gauge
nghttpx_gateway_leader 1
# HELP nghttpx_gateway_status_writes_total Status updates written.
# TYPE nghttpx_gateway_status_writes_total counter
nghttpx_gateway_status_writes_total 3
# HELP nghttpx_gateway_provision_applies_total Server-side applies of data-plane objects.
# TYPE nghttpx_gateway_provision_applies_total counter
nghttpx_gateway_provision_applies_total 3
`, goruntime.Version())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nghttpx_gateway_batch_pending_events", "nghttpx_gateway_build_info",
		"nghttpx_gateway_leader", "nghttpx_gateway_status_writes_total", "nghttpx_gateway_provision_applies_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c.metrics.build); n != 1 {
		t.Errorf("build histogram: %d series", n)
	}
	names := map[string]bool{}
	for _, n := range MetricNames() {
		names[n] = true
	}
	for _, n := range []string{"nghttpx_gateway_build_duration_seconds", "nghttpx_gateway_status_updates_total", "nghttpx_gateway_leader",
		"nghttpx_gateway_keys_rotations_total", "nghttpx_gateway_watch_events_total"} {
		if !names[n] {
			t.Errorf("MetricDescs lacks %s", n)
		}
	}
}

// Events: what the user must act on, once per transition, on the object it is
// about; an unchanged rebuild records nothing, nor does a new leader for what
// the status already shows.
func TestObjectEvents(t *testing.T) {
	ctx := context.Background()
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	c, cl, rec, _ := gatewayController(t, gatewayObjects(t, notAfter)...)
	c.translateForTest(t, cl)
	c.observeTranslation()
	res := status.WithoutSynthetic(c.out.Translation, c.synthetic())
	// The API server refuses Deployments.
	fail := true
	c.prov.Client = interceptor.NewClient(cl.(client.WithWatch), interceptor.Funcs{
		Apply: func(ctx context.Context, cw client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if _, ok := obj.(*appsv1ac.DeploymentApplyConfiguration); ok && fail {
				return errors.New("deployments.apps is forbidden")
			}
			return cw.Apply(ctx, obj, opts...)
		}})
	if keys, errs := c.ensureGateways(ctx, res); len(keys) != 1 || len(errs) != 1 {
		t.Fatalf("ensureGateways: %v, %v; want one Gateway, one error", keys, errs)
	}
	if v := testutil.ToFloat64(c.metrics.provisionFails); v != 1 {
		t.Errorf("provision_failures_total = %v, want 1", v)
	}
	c.recordEvents(res)
	got := rec.take()
	type brief struct{ kind, object, reason string }
	var briefs []brief
	for _, e := range got {
		if e.eventType != corev1.EventTypeWarning {
			t.Errorf("%+v: type %s, want Warning", e, e.eventType)
		}
		briefs = append(briefs, brief{e.kind, e.object, e.reason})
	}
	want := []brief{
		{"Gateway", "apps/web", ReasonRefNotResolved},
		{"HTTPRoute", "apps/site", ReasonRefNotResolved},
		{"Gateway", "apps/web", ReasonProvisioningFailed},
		{"Gateway", "apps/web", ReasonCertificateExpiring},
	}
	if !slices.Equal(briefs, want) {
		t.Fatalf("events %+v\nwant %+v", got, want)
	}
	for _, check := range []struct {
		i             int
		action, words string
	}{
		{0, actionTranslate, "Listener https-2 has references that cannot be resolved (InvalidCertificateRef)"},
		{1, actionTranslate, "parent Gateway apps/web/https"},
		{2, actionProvision, "deployments.apps is forbidden"},
		{3, actionCheckCert, "Secret apps/cert (listener https) expires on " + notAfter.UTC().Format(time.RFC3339) + ", in 10 days"},
	} {
		if e := got[check.i]; e.action != check.action || !strings.Contains(e.note, check.words) {
			t.Errorf("event %d: action %s note %q, want %s and %q", check.i, e.action, e.note, check.action, check.words)
		}
	}
	if v := testutil.ToFloat64(c.metrics.events.WithLabelValues(ReasonRefNotResolved)); v != 2 {
		t.Errorf("events_total{reason=RefNotResolved} = %v, want 2", v)
	}

	// Status written, rebuilt from what the API server now holds: nothing new.
	if err := c.writer.Write(ctx, res); err != nil {
		t.Fatal(err)
	}
	c.translateForTest(t, cl)
	c.observeTranslation()
	c.recordEvents(status.WithoutSynthetic(c.out.Translation, c.synthetic()))
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("unchanged rebuild recorded %+v", evs)
	}

	// A new leader: the rejections are in the stored status already; only the
	// in-memory ones (provisioning, certificates) are recorded once more.
	c.events.active = nil
	c.recordEvents(status.WithoutSynthetic(c.out.Translation, c.synthetic()))
	var reasons []string
	for _, e := range rec.take() {
		reasons = append(reasons, e.reason)
	}
	if !slices.Equal(reasons, []string{ReasonProvisioningFailed, ReasonCertificateExpiring}) {
		t.Errorf("new leader recorded %v", reasons)
	}

	// Provisioning works again, then fails again: a new Event.
	res = status.WithoutSynthetic(c.out.Translation, c.synthetic())
	fail = false
	if _, errs := c.ensureGateways(ctx, res); len(errs) != 0 {
		t.Fatal(errs)
	}
	c.recordEvents(res)
	fail = true
	c.prov.Forget()
	if _, errs := c.ensureGateways(ctx, res); len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	c.recordEvents(res)
	if evs := rec.take(); len(evs) != 1 || evs[0].reason != ReasonProvisioningFailed || evs[0].object != "apps/web" {
		t.Errorf("second provisioning failure: %+v", evs)
	}
}

func TestCertificateEventsWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	gws := []gatewayv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "g", UID: "u"}}}
	cert := func(d time.Duration) listenerCert {
		return listenerCert{gateway: types.NamespacedName{Namespace: "a", Name: "g"}, listener: "https",
			secret: types.NamespacedName{Namespace: "a", Name: fmt.Sprint(d)}, notAfter: now.Add(d)}
	}
	evs, next := certificateEvents(gws, []listenerCert{cert(20 * 24 * time.Hour), cert(-time.Hour), cert(30 * 24 * time.Hour)}, now)
	if len(evs) != 1 || !strings.Contains(evs[0].note, "expired on") {
		t.Errorf("events %+v, want one for the expired certificate", evs)
	}
	if want := now.Add(6 * 24 * time.Hour); !next.Equal(want) {
		t.Errorf("next check %s, want %s (20 days - 14)", next, want)
	}
}

func TestDataPlaneEvent(t *testing.T) {
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "g", UID: "u"}}
	g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending",
		Message: "The data plane has not applied the latest configuration: none of 2 ready pods runs it."}}
	for _, tc := range []struct {
		pr   progress
		want bool
	}{
		{progress{ready: 2, overdue: true}, true},                  // pods up, not applying
		{progress{ready: 0, overdue: true, confirmed: true}, true}, // pods went away
		{progress{ready: 0, overdue: true}, false},                 // a new Gateway's pods still starting
		{progress{ready: 2}, false},                                // within the grace period
	} {
		ev, ok := dataPlaneEvent(g, tc.pr)
		if ok != tc.want {
			t.Errorf("%+v: event %v, want %v", tc.pr, ok, tc.want)
		}
		if ok && (ev.reason != ReasonDataPlaneNotReady || ev.obj.GetObjectKind().GroupVersionKind().Kind != "Gateway" ||
			!strings.Contains(ev.note, "none of 2 ready pods")) {
			t.Errorf("event %+v", ev)
		}
	}
	g.Status.Conditions[0].Status = metav1.ConditionTrue
	if _, ok := dataPlaneEvent(g, progress{ready: 2, overdue: true}); ok {
		t.Error("event while Programmed=True")
	}
}

func TestTruncateNote(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	got := truncateNote(long)
	if len(got) > maxNote || !strings.HasSuffix(got, "...") || !utf8.ValidString(got) {
		t.Errorf("truncated to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if truncateNote("short") != "short" {
		t.Error("a short note changed")
	}
}
