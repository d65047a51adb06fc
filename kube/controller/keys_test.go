package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

func keysFixture(t *testing.T, objs ...client.Object) (*keyRotator, client.Client, *gatewayv1.Gateway) {
	t.Helper()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw", UID: "uid-1"}}
	r := &keyRotator{client: cl, reader: cl, periods: keys.Periods{QUIC: time.Hour, Tickets: 2 * time.Hour},
		rand: rand.Reader, clock: clock.RealClock{}, log: logr.Discard(), wake: make(chan struct{}, 1)}
	m := provision.KeysSecretMeta(gw, provision.Options{})
	r.set(map[types.NamespacedName]keyTarget{{Namespace: m.Namespace, Name: m.Name}: {
		gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}, meta: corev1.Secret{ObjectMeta: m}}})
	return r, cl, gw
}

func getKeys(t *testing.T, cl client.Client) (*corev1.Secret, keys.State) {
	t.Helper()
	var s corev1.Secret
	if err := cl.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: "gw-nghttpx-keys"}, &s); err != nil {
		t.Fatalf("keys Secret: %v", err)
	}
	st, err := keys.Decode(s.Data, s.Annotations)
	if err != nil {
		t.Fatalf("keys Secret unreadable: %v", err)
	}
	return &s, st
}

func TestKeyRotatorCreatesRotatesPrunes(t *testing.T) {
	ctx := context.Background()
	r, cl, gw := keysFixture(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(t0)
	r.clock = fc

	next, err := r.sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("next rotation %s, want %s", next, t0.Add(time.Hour))
	}
	s, st := getKeys(t, cl)
	if s.Labels[provision.LabelManagedBy] != provision.ManagedBy || s.Labels[provision.LabelKeys] != "true" || s.Labels[provision.LabelGatewayName] != "gw" {
		t.Errorf("labels %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != gw.UID || s.OwnerReferences[0].Kind != "Gateway" {
		t.Errorf("owner references %+v, want the Gateway", s.OwnerReferences)
	}
	if len(st.QUIC.Keys) != 2 || len(st.Tickets.Keys) != 2 {
		t.Fatalf("new Secret holds %d QUIC and %d ticket keys", len(st.QUIC.Keys), len(st.Tickets.Keys))
	}
	rv := s.ResourceVersion

	// Nothing due: no write.
	fc.SetTime(t0.Add(59 * time.Minute))
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s2, _ := getKeys(t, cl); s2.ResourceVersion != rv {
		t.Error("the Secret was written before a period ended")
	}

	// QUIC is due, tickets are not.
	fc.SetTime(t0.Add(time.Hour))
	next, err = r.sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, st2 := getKeys(t, cl)
	if !bytes.Equal(st2.QUIC.Keys[0], st.QUIC.Keys[1]) || len(st2.QUIC.Keys) != 3 {
		t.Error("QUIC: the announced key does not encrypt after a period")
	}
	if !bytes.Equal(keys.TicketKeys(st2.Tickets.Keys), keys.TicketKeys(st.Tickets.Keys)) {
		t.Error("tickets rotated before their period")
	}
	if !next.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("next rotation %s, want %s", next, t0.Add(2*time.Hour))
	}
	if r.counters.Creates.Load() != 1 || r.counters.Rotations.Load() != 1 {
		t.Errorf("creates %d rotations %d, want 1 and 1", r.counters.Creates.Load(), r.counters.Rotations.Load())
	}

	// The Gateway is no longer ours: its Secret goes.
	r.set(map[types.NamespacedName]keyTarget{})
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	var gone corev1.Secret
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "ns", Name: "gw-nghttpx-keys"}, &gone); !apierrors.IsNotFound(err) {
		t.Errorf("keys Secret of a Gateway that is not ours any more: %v", err)
	}
}

// A stale read (the cache lagging behind our last write) conflicts instead of
// rotating twice.
func TestKeyRotatorStaleReadConflicts(t *testing.T) {
	ctx := context.Background()
	r, cl, _ := keysFixture(t)
	t0 := time.Now()
	fc := clocktesting.NewFakeClock(t0)
	r.clock = fc
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	stale, _ := getKeys(t, cl)
	fc.SetTime(t0.Add(time.Hour))
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	r.reader = staleReader{Client: cl, s: stale}
	fc.SetTime(t0.Add(time.Hour + time.Second))
	if _, err := r.sync(ctx); !apierrors.IsConflict(err) {
		t.Fatalf("sync on a stale read: %v, want a conflict", err)
	}
	if r.counters.Rotations.Load() != 1 {
		t.Errorf("%d rotations, want 1", r.counters.Rotations.Load())
	}
}

type staleReader struct {
	client.Client
	s *corev1.Secret
}

func (r staleReader) Get(_ context.Context, _ client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	r.s.DeepCopyInto(o.(*corev1.Secret))
	return nil
}

func TestKeyRotatorLeavesForeignSecret(t *testing.T) {
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw-nghttpx-keys"}, Data: map[string][]byte{"x": []byte("y")}}
	r, cl, _ := keysFixture(t, foreign)
	if _, err := r.sync(context.Background()); err == nil {
		t.Error("no error for a Secret that is not ours")
	}
	var s corev1.Secret
	if err := cl.Get(context.Background(), client.ObjectKeyFromObject(foreign), &s); err != nil || string(s.Data["x"]) != "y" || len(s.Data) != 1 {
		t.Errorf("foreign Secret touched: %v %v", err, s.Data)
	}
}

// The loop sleeps until a period ends and keeps rotating.
func TestKeyRotatorLoop(t *testing.T) {
	r, cl, _ := keysFixture(t)
	r.periods = keys.Periods{QUIC: 40 * time.Millisecond, Tickets: 60 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	time.Sleep(700 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, st := getKeys(t, cl)
	n := r.counters.Rotations.Load()
	// About 17 QUIC and 11 ticket periods, some coinciding; allow for a slow machine.
	if n < 8 || n > 30 {
		t.Errorf("%d rotations in 700 ms with 40/60 ms periods", n)
	}
	if len(st.QUIC.Keys) != keys.QUICKeep || len(st.Tickets.Keys) != keys.TicketKeep {
		t.Errorf("after %d rotations: %d QUIC and %d ticket keys, want %d and %d", n, len(st.QUIC.Keys), len(st.Tickets.Keys), keys.QUICKeep, keys.TicketKeep)
	}
}

// A new leader carries on the schedule stored in the Secret: it neither
// rotates early nor recreates the keys.
func TestKeyRotatorNewLeaderKeepsSchedule(t *testing.T) {
	ctx := context.Background()
	r, cl, _ := keysFixture(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r.clock = clocktesting.NewFakeClock(t0)
	if _, err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := getKeys(t, cl)

	next, _, _ := keysFixture(t) // the other replica, now leading, same API server
	next.client, next.reader = cl, cl
	next.clock = clocktesting.NewFakeClock(t0.Add(30 * time.Minute))
	at, err := next.sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := getKeys(t, cl); s2.ResourceVersion != s.ResourceVersion {
		t.Error("a new leader rewrote keys that were not due")
	}
	if !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("new leader's next rotation %s, want %s (the stored schedule)", at, t0.Add(time.Hour))
	}
}
