package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// TestElectorSurvivesOutage: while every Lease request fails (the API server is
// gone), the leader's leadership ends (its lead context is done) but the
// elector keeps running, and once requests succeed again it leads again.
func TestElectorSurvivesOutage(t *testing.T) {
	cs := fake.NewClientset()
	var down atomic.Bool
	cs.PrependReactor("*", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if down.Load() {
			return true, nil, errors.New("connection refused (test outage)")
		}
		return false, nil, nil
	})
	var leads, ended atomic.Int32
	e := &elector{
		lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "lease"},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: "me_1"},
		},
		name: "lease", lease: 1500 * time.Millisecond, renew: time.Second, retry: 100 * time.Millisecond,
		lead: func(ctx context.Context) {
			leads.Add(1)
			<-ctx.Done()
			ended.Add(1)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	waitUntil := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s not within %s (leads %d, ended %d, campaigns %d)", what, d, leads.Load(), ended.Load(), e.campaigns)
			}
		}
	}
	waitUntil("first leadership", 5*time.Second, func() bool { return leads.Load() == 1 })
	down.Store(true)
	waitUntil("leadership lost in the outage", 5*time.Second, func() bool { return ended.Load() == 1 })
	select {
	case err := <-done:
		t.Fatalf("elector stopped in the outage: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	down.Store(false)
	// Same identity, still the holder: it renews without waiting for expiry.
	waitUntil("leadership again after the outage", 5*time.Second, func() bool { return leads.Load() == 2 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("elector did not stop with its context")
	}
	// lead runs on its own goroutine: it ends soon after.
	waitUntil("the second leadership ended with the context", 5*time.Second, func() bool { return ended.Load() == 2 })
}
