package source

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestNamed: a get starts a watch for that one object and reads it (or nothing
// when it does not exist); later changes notify; a sweep stops the watches the
// last snapshot did not use.
func TestNamed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "tls"}, Data: map[string][]byte{"k": []byte("v")}})
	n := NewNamed(ctx, cs)
	var notified atomic.Int64
	n.setNotify(func() { notified.Add(1) })

	var s corev1.Secret
	if err := n.get(ctx, types.NamespacedName{Namespace: "a", Name: "tls"}, &s); err != nil || string(s.Data["k"]) != "v" {
		t.Fatalf("get existing Secret: %v, %+v", err, s)
	}
	var cm corev1.ConfigMap
	if err := n.get(ctx, types.NamespacedName{Namespace: "b", Name: "ca"}, &cm); err != nil || cm.Name != "" {
		t.Fatalf("get missing ConfigMap: %v, %+v", err, cm)
	}
	if got := n.Watched(); len(got) != 2 {
		t.Fatalf("watched %v, want the two objects asked for", got)
	}
	if notified.Load() != 0 {
		t.Fatalf("the initial lists notified %d times", notified.Load())
	}
	// The missing ConfigMap appears: a snapshot must follow.
	if _, err := cs.CoreV1().ConfigMaps("b").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "ca"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return notified.Load() > 0 })
	n.sweep() // both used since the last sweep: kept
	// Only the Secret is asked for again; the ConfigMap's watch is stopped.
	if err := n.get(ctx, types.NamespacedName{Namespace: "a", Name: "tls"}, &s); err != nil {
		t.Fatal(err)
	}
	n.sweep()
	if got := n.Watched(); !slices.Equal(got, []string{"Secret a/tls"}) {
		t.Fatalf("after the sweep watched %v, want only Secret a/tls", got)
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatal("timed out")
}

// A read the API server refuses (the grant has not landed) must read as missing
// within the sync timeout, not stall the snapshot, and be retried once allowed.
func TestNamedDenied(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "ca"}, Data: map[string]string{"ca.crt": "x"}})
	var allowed atomic.Bool
	deny := func(action k8stesting.Action) (bool, runtime.Object, error) {
		if allowed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "ca", errors.New("no grant"))
	}
	cs.PrependReactor("list", "configmaps", deny)
	cs.PrependWatchReactor("configmaps", func(action k8stesting.Action) (bool, kwatch.Interface, error) {
		if allowed.Load() {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "ca", errors.New("no grant"))
	})
	n := NewNamed(ctx, cs)
	var notified atomic.Int64
	n.setNotify(func() { notified.Add(1) })

	k := types.NamespacedName{Namespace: "b", Name: "ca"}
	var cm corev1.ConfigMap
	t0 := time.Now()
	if err := n.get(ctx, k, &cm); err != nil || cm.Name != "" {
		t.Fatalf("denied get: %v, %+v; want no error and nothing read", err, cm)
	}
	if took := time.Since(t0); took >= namedSyncTimeout {
		t.Fatalf("denied get took %s, want it to give up before the %s timeout", took, namedSyncTimeout)
	}
	waitFor(t, func() bool { return notified.Load() > 0 }) // a retry is scheduled
	allowed.Store(true)
	if err := n.get(ctx, k, &cm); err != nil || cm.Data["ca.crt"] != "x" {
		t.Fatalf("get after the grant: %v, %+v", err, cm)
	}
}

// A pinned read (the proxy's --nghttpx-secret Secret, read besides the
// snapshots) keeps its watch through sweeps, and its changes notify.
func TestNamedPinned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "nghttpx-km"}, Data: map[string][]byte{"k": []byte("1")}})
	n := NewNamed(ctx, cs)
	var notified atomic.Int64
	n.setNotify(func() { notified.Add(1) })
	k := types.NamespacedName{Namespace: "kube-system", Name: "nghttpx-km"}
	var s corev1.Secret
	if err := n.GetPinned(ctx, k, &s); err != nil || string(s.Data["k"]) != "1" {
		t.Fatalf("pinned get: %v, %+v", err, s)
	}
	n.sweep()
	n.sweep() // no snapshot asked for it twice over
	if got := n.Watched(); !slices.Equal(got, []string{"Secret kube-system/nghttpx-km"}) {
		t.Fatalf("after sweeps watched %v, want the pinned Secret", got)
	}
	s.Data["k"] = []byte("2")
	if _, err := cs.CoreV1().Secrets("kube-system").Update(ctx, &s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return notified.Load() > 0 })
	waitFor(t, func() bool {
		var again corev1.Secret
		return n.GetPinned(ctx, k, &again) == nil && string(again.Data["k"]) == "2"
	})
}
