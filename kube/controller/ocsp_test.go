package controller

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/proxyagent"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// The poller reads what the proxy agent's real /status handler reports about
// its nghttpx's OCSP support.
func TestPollerReadsProxyOCSPSupport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		feat   *features.Features
		noOCSP int
	}{
		{"cannot staple", &features.Features{OCSP: false, MRuby: true}, 1},
		{"can staple", &features.Features{OCSP: true, MRuby: true}, 0},
		{"features not reported (older proxy)", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := proxyagent.New(proxyagent.Options{
				Gateway: types.NamespacedName{Namespace: "ns", Name: "gw"}, StateDir: t.TempDir(), Features: tc.feat,
				NewDataPlane: func(string) (proxyagent.DataPlane, error) { return nil, nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()
			_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
			port, _ := strconv.Atoi(portStr)
			p := newPoller(port, nil, nil, testr.New(t))
			gw := types.NamespacedName{Namespace: "ns", Name: "gw"}
			p.set(map[types.NamespacedName]target{gw: {hash: "h", generation: 1, pods: []string{"127.0.0.1"}}})
			p.pollDue(context.Background(), true)
			if pr := p.progress(gw); pr.noOCSP != tc.noOCSP || pr.ready != 1 {
				t.Errorf("progress %+v, want noOCSP %d of 1 ready", pr, tc.noOCSP)
			}
		})
	}
}

func TestHoldOCSP(t *testing.T) {
	now := metav1.NewTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	earlier := metav1.NewTime(now.Add(-time.Hour))
	typ := translate.ListenerConditionOCSPStapled
	gw := func(status metav1.ConditionStatus, reason string, ltt metav1.Time) *gatewayv1.Gateway {
		return &gatewayv1.Gateway{Status: gatewayv1.GatewayStatus{Listeners: []gatewayv1.ListenerStatus{
			{Name: "https", Conditions: []metav1.Condition{
				{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: earlier},
				{Type: typ, Status: status, Reason: reason, Message: "translated", LastTransitionTime: ltt},
			}},
			{Name: "http", Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}}},
		}}}
	}
	cond := func(g *gatewayv1.Gateway) *metav1.Condition {
		return meta.FindStatusCondition(g.Status.Listeners[0].Conditions, typ)
	}

	// All pods can staple: the translator's condition stands.
	g := gw(metav1.ConditionTrue, translate.OCSPReasonStapled, earlier)
	holdOCSP(g, nil, progress{ready: 2}, now)
	if c := cond(g); c.Status != metav1.ConditionTrue || c.Reason != translate.OCSPReasonStapled {
		t.Errorf("pods can staple: %+v", c)
	}

	// One of two ready pods cannot: False/Unsupported, transition now.
	g = gw(metav1.ConditionTrue, translate.OCSPReasonStapled, earlier)
	stored := gw(metav1.ConditionTrue, translate.OCSPReasonStapled, earlier)
	holdOCSP(g, stored, progress{ready: 2, noOCSP: 1}, now)
	c := cond(g)
	if c.Status != metav1.ConditionFalse || c.Reason != translate.OCSPReasonUnsupported || !c.LastTransitionTime.Equal(&now) ||
		!strings.Contains(c.Message, "1 of 2 ready data-plane pods") {
		t.Errorf("a pod cannot staple: %+v", c)
	}
	if n := len(g.Status.Listeners[1].Conditions); n != 1 {
		t.Errorf("listener without the OCSP condition got %d conditions", n)
	}
	if p := meta.FindStatusCondition(g.Status.Listeners[0].Conditions, "Programmed"); p.Status != metav1.ConditionTrue {
		t.Errorf("Programmed changed: %+v", p)
	}

	// Already False on the server (e.g. Missing before): the transition time stays.
	g = gw(metav1.ConditionFalse, translate.OCSPReasonMissing, earlier)
	stored = gw(metav1.ConditionFalse, translate.OCSPReasonMissing, earlier)
	holdOCSP(g, stored, progress{ready: 1, noOCSP: 1}, now)
	if c := cond(g); c.Reason != translate.OCSPReasonUnsupported || !c.LastTransitionTime.Equal(&earlier) {
		t.Errorf("stored False: %+v, want Unsupported keeping %v", c, earlier)
	}
}

// A translation naming an OCSP recheck time marks the inputs dirty and wakes
// the batch at that time (plus the timer's delay), not before.
func TestScheduleOCSPRecheck(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	// The batcher has its own clock: the fake one runs timer callbacks under its lock.
	c := &Controller{batch: &source.Batcher{}, ocspT: &recheck.Timer{Clock: clk}}
	at := clk.Now().Add(time.Hour)
	c.scheduleOCSPRecheck(at)
	clk.Step(time.Hour)
	if c.dirty.Load() {
		t.Fatal("rebuild requested before nextUpdate plus the delay")
	}
	clk.Step(recheck.DefaultDelay)
	if !c.dirty.Load() {
		t.Fatal("no rebuild requested after nextUpdate")
	}
	// The next translation has nothing stapled: nothing is scheduled.
	c.dirty.Store(false)
	c.scheduleOCSPRecheck(clk.Now().Add(time.Minute))
	c.scheduleOCSPRecheck(time.Time{})
	clk.Step(time.Hour)
	if c.dirty.Load() {
		t.Error("a cleared recheck still requested a rebuild")
	}
}
