package controller

import (
	"context"
	"errors"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestPollerTracksCurrentHash(t *testing.T) {
	var reported atomic.Value
	reported.Store("old")
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte(`{"modelHash":"` + reported.Load().(string) + `","applied":true}`))
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	var changes atomic.Int64
	p := newPoller(port, nil, func() { changes.Add(1) }, testr.New(t))
	fc := clocktesting.NewFakeClock(time.Now())
	p.clock = fc
	gw := types.NamespacedName{Namespace: "ns", Name: "gw"}
	ctx := context.Background()

	p.set(map[types.NamespacedName]target{gw: {hash: "new", generation: 1, pods: []string{"127.0.0.1"}}})
	p.pollDue(ctx, true) // a pod never asked is polled at once
	if requests.Load() != 1 {
		t.Fatalf("unknown pod polled %d times, want 1", requests.Load())
	}
	p.pollDue(ctx, true)
	if requests.Load() != 1 {
		t.Fatalf("known pod polled again by an unknown-only poll")
	}
	if pr := p.progress(gw); pr != (progress{ready: 1, current: 0}) || changes.Load() != 0 {
		t.Fatalf("pod on the old model: progress %+v, changes %d", pr, changes.Load())
	}
	// Past the grace period the model is overdue, which is a change worth a
	// status pass even though no pod answered differently.
	fc.Step(p.grace)
	p.pollDue(ctx, false)
	if pr := p.progress(gw); !pr.overdue || changes.Load() != 1 {
		t.Fatalf("after the grace period: progress %+v, changes %d", pr, changes.Load())
	}
	reported.Store("new")
	fc.Step(p.fast)
	p.pollDue(ctx, false) // still catching up: polled at the fast interval
	if pr := p.progress(gw); pr != (progress{ready: 1, current: 1, confirmed: true}) || changes.Load() != 2 {
		t.Fatalf("pod caught up: progress %+v, changes %d", pr, changes.Load())
	}
	// A newer model of the same generation: still confirmed, not overdue yet.
	p.set(map[types.NamespacedName]target{gw: {hash: "newer", generation: 1, pods: []string{"127.0.0.1"}}})
	if pr := p.progress(gw); pr != (progress{ready: 1, current: 0, confirmed: true}) {
		t.Fatalf("newer model: progress %+v", pr)
	}
	reported.Store("newer")
	fc.Step(p.fast)
	p.pollDue(ctx, false)
	if changes.Load() != 3 {
		t.Fatalf("catching up on the newer model not reported: changes %d", changes.Load())
	}
	// Caught up: no polling until the slow interval has passed.
	n := requests.Load()
	fc.Step(p.fast)
	p.pollDue(ctx, false)
	if requests.Load() != n {
		t.Errorf("polled again %s after catching up", p.fast)
	}
	fc.Step(p.slow)
	p.pollDue(ctx, false)
	if requests.Load() != n+1 {
		t.Errorf("not polled after the slow interval")
	}
	// A pod that stops answering no longer counts as current.
	srv.Close()
	fc.Step(p.slow)
	p.pollDue(ctx, false)
	if pr := p.progress(gw); pr.current != 0 || changes.Load() != 4 {
		t.Errorf("unreachable pod: progress %+v, changes %d", pr, changes.Load())
	}
	// Gateways that are gone are forgotten.
	p.set(nil)
	if len(p.snapshot()) != 0 {
		t.Errorf("stale gateways kept: %v", p.snapshot())
	}
}

func programmedGateway() *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{}
	g.Generation = 3
	g.Status.Conditions = []metav1.Condition{{
		Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: metav1.Unix(100, 0),
	}}
	return g
}

func TestHoldProgrammed(t *testing.T) {
	now := metav1.Unix(200, 0)
	storedFalse := []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending", LastTransitionTime: metav1.Unix(50, 0)}}
	storedTrue := []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed",
		Message: "1 of 1 ready data-plane pods run the current configuration.", ObservedGeneration: 3, LastTransitionTime: metav1.Unix(60, 0)}}
	cases := []struct {
		name       string
		stored     []metav1.Condition
		renderErr  error
		pr         progress
		wantStatus metav1.ConditionStatus
		wantReason string
		wantLTT    int64
	}{
		{"no ready pod", storedFalse, nil, progress{}, "False", "Pending", 50},
		{"new Gateway generation not applied yet", storedTrue, nil, progress{ready: 1}, "False", "Pending", 200},
		{"route change catching up", storedTrue, nil, progress{ready: 1, confirmed: true}, "True", "Programmed", 60},
		{"route change overdue", storedTrue, nil, progress{ready: 1, confirmed: true, overdue: true, problem: "rejected"}, "False", "Pending", 200},
		{"pods on an old model", storedTrue, nil, progress{ready: 2}, "False", "Pending", 200},
		{"one of two current", storedFalse, nil, progress{ready: 2, current: 1}, "True", "Programmed", 200},
		{"all current, unchanged", storedTrue, nil, progress{ready: 2, current: 2}, "True", "Programmed", 60},
		{"render error", nil, errors.New("bad"), progress{ready: 1, current: 1}, "False", "Invalid", 200},
	}
	for _, c := range cases {
		g := programmedGateway()
		holdProgrammed(g, c.stored, c.renderErr, c.pr, now)
		got := meta.FindStatusCondition(g.Status.Conditions, "Programmed")
		if got.Status != c.wantStatus || got.Reason != c.wantReason || got.LastTransitionTime.Unix() != c.wantLTT || got.Message == "" {
			t.Errorf("%s: got %s/%s ltt %d %q", c.name, got.Status, got.Reason, got.LastTransitionTime.Unix(), got.Message)
		}
		if c.pr.problem != "" && !strings.Contains(got.Message, c.pr.problem) {
			t.Errorf("%s: message %q lacks the pod's problem", c.name, got.Message)
		}
	}
	// A Gateway the translator did not program stays as it is.
	g := programmedGateway()
	g.Status.Conditions[0].Status, g.Status.Conditions[0].Reason = metav1.ConditionFalse, "AddressNotAssigned"
	holdProgrammed(g, nil, nil, progress{ready: 1, current: 1}, now)
	if g.Status.Conditions[0].Reason != "AddressNotAssigned" {
		t.Errorf("translator's False overridden: %+v", g.Status.Conditions[0])
	}
}

// TestPollerStatusLimit: a /status body over maxStatusBytes is not trusted (the
// pod counts as not reporting), one just under it is.
func TestPollerStatusLimit(t *testing.T) {
	var pad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"modelHash":"h","applied":true,"error":"` + strings.Repeat("x", int(pad.Load())) + `"}`))
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	p := newPoller(port, nil, nil, testr.New(t))
	frame := int64(len(`{"modelHash":"h","applied":true,"error":""}`))
	pad.Store(maxStatusBytes - frame)
	if got := p.ask(context.Background(), types.NamespacedName{}, "127.0.0.1"); got.hash != "h" {
		t.Fatalf("a body of exactly the limit: hash %q, want h", got.hash)
	}
	pad.Store(maxStatusBytes - frame + 1)
	if got := p.ask(context.Background(), types.NamespacedName{}, "127.0.0.1"); got.hash != "" {
		t.Fatalf("a body one byte over the limit was used: hash %q", got.hash)
	}
}

// TestPollerSendsAdminToken: the poller sends the Gateway's admin token.
func TestPollerSendsAdminToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(keys.AdminTokenHeader) != "tok-ns/gw" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"modelHash":"h","applied":true}`))
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	p := newPoller(port, nil, nil, testr.New(t))
	gw := types.NamespacedName{Namespace: "ns", Name: "gw"}
	if got := p.ask(context.Background(), gw, "127.0.0.1"); got.hash != "" {
		t.Fatalf("without a token the pod answered: %+v", got)
	}
	p.token = func(g types.NamespacedName) string { return "tok-" + g.String() }
	if got := p.ask(context.Background(), gw, "127.0.0.1"); got.hash != "h" {
		t.Fatalf("with the token: %+v", got)
	}
}
