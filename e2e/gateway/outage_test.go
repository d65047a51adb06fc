//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// envInt is a positive integer from the environment, else def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// restartCounts are the restart counts of every container of the pods that
// selector matches in ns, by pod/container.
func (s *suite) restartCounts(ctx context.Context, t *testing.T, ns, selector string) map[string]int32 {
	t.Helper()
	pods, err := e2eutil.Pods(ctx, s.cs, ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.ContainerStatuses {
			out[p.Name+"/"+c.Name] = c.RestartCount
		}
	}
	return out
}

// acceptedCond is our Accepted condition of the route on gateway.
func (s *suite) acceptedCond(ctx context.Context, t *testing.T, ns, name, gateway string) metav1.Condition {
	t.Helper()
	var r gatewayv1.HTTPRoute
	if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
		t.Fatal(err)
	}
	p := s.ourParent(&r, gateway)
	if p == nil {
		t.Fatalf("route %s/%s has no status of ours", ns, name)
	}
	c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
	if c == nil {
		t.Fatalf("route %s/%s has no Accepted condition", ns, name)
	}
	return *c
}

// waitAPI polls the API server's /readyz (2 s per try) until it answers ok.
func (s *suite) waitAPI(ctx context.Context, t *testing.T, timeout time.Duration) {
	t.Helper()
	err := wait(ctx, timeout, 100*time.Millisecond, func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		b, err := s.cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		return err == nil && strings.TrimSpace(string(b)) == "ok"
	})
	if err != nil {
		t.Fatalf("API server not ready %s after the outage", timeout)
	}
}

// wait polls ok every interval until it is true or timeout passes.
func wait(ctx context.Context, timeout, interval time.Duration, ok func() bool) error {
	end := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(end) {
			return fmt.Errorf("not within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
	return nil
}

// h2cTransport speaks HTTP/2 without TLS from inside the cluster network.
func (s *suite) h2cTransport(conns int) *http.Transport {
	tr := s.transport(conns)
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return tr
}

// serveAfter creates a route for path with marker set as x-e2e-version and
// returns how long after the create it was first served (polling every 50 ms).
func (s *suite) serveAfter(ctx context.Context, t *testing.T, sc *scenario, name, path string, limit time.Duration) time.Duration {
	t.Helper()
	s.create(ctx, t, newRoute(sc.ns, name, "gw", sc.tg.host, rule(path, "echo", addHeader("x-e2e-version", name))))
	t0 := time.Now()
	tg := target{addr: sc.tg.addr, host: sc.tg.host, path: path}
	var last string
	err := wait(ctx, time.Minute, 50*time.Millisecond, func() bool {
		status, e, body, err := s.get(ctx, tg)
		switch {
		case err != nil:
			last = err.Error()
		case e == nil:
			last = fmt.Sprintf("status %d: %.200s", status, body)
		default:
			last = fmt.Sprintf("status %d, x-e2e-version %q", status, e.header("x-e2e-version"))
			return status == http.StatusOK && e.header("x-e2e-version") == name
		}
		return false
	})
	took := time.Since(t0)
	if err != nil {
		t.Fatalf("route %s (%s) not served within a minute of its creation; last: %s", name, path, last)
	}
	if took > limit {
		t.Errorf("route %s created after the outage served after %s, want within %s", name, took.Round(time.Millisecond), limit)
	}
	return took
}

// TestOutageControlPlane (issue #19): the API server, then etcd, frozen
// (SIGSTOP) for E2E_OUTAGE_SECONDS each (default 10; 60 for the full run) under
// HTTP/1.1 and h2c load: no request fails, a route created right after each
// return is served within 2 s, no container restarts and the existing route's
// Accepted condition is not rewritten.
func TestOutageControlPlane(t *testing.T) {
	outage := time.Duration(envInt(t, "E2E_OUTAGE_SECONDS", 10)) * time.Second
	f := features.New("control-plane outage").
		Setup(oneGateway("outage", 1)).
		Assess("API server and etcd frozen under load", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			if s.c.Netns == "" {
				t.Skip("needs the local cluster: its API server and etcd are frozen")
			}
			ctrlSel := "app.kubernetes.io/name=" + controllerApp
			dpSel := dataPlaneSelector(sc.ns, "gw")
			ctrlBefore := s.restartCounts(ctx, t, systemNS, ctrlSel)
			dpBefore := s.restartCounts(ctx, t, sc.ns, dpSel)
			condBefore := s.acceptedCond(ctx, t, sc.ns, "route", "gw")
			_, leaderBefore := s.leader(ctx, t)

			budget := 2*outage + 3*time.Minute
			h2tg := sc.tg
			h2tg.path = "/outage/h2"
			h1 := s.startLoad(t, sc.tg, 4, 100, budget)
			h2 := s.startLoadOn(t, s.h2cTransport(4), h2tg, 4, 100, budget)
			time.Sleep(2 * time.Second)

			var serveTimes []string
			for _, phase := range []struct{ proc, route string }{
				{cluster.ProcAPIServer, "after-apiserver"},
				{cluster.ProcEtcd, "after-etcd"},
			} {
				if err := s.c.Pause(phase.proc); err != nil {
					t.Fatal(err)
				}
				resumed := false
				resume := func() {
					if !resumed {
						resumed = true
						if err := s.c.Resume(phase.proc); err != nil {
							t.Errorf("resume %s: %v", phase.proc, err)
						}
					}
				}
				t.Cleanup(resume) // never leave the cluster frozen
				t.Logf("%s stopped (SIGSTOP) for %s", phase.proc, outage)
				time.Sleep(outage)
				resume()
				t0 := time.Now()
				s.waitAPI(ctx, t, time.Minute)
				apiBack := time.Since(t0)
				took := s.serveAfter(ctx, t, sc, phase.route, "/"+phase.route, 2*time.Second)
				t.Logf("%s resumed: API ready after %s; route %s created then served %s after its creation",
					phase.proc, apiBack.Round(time.Millisecond), phase.route, took.Round(time.Millisecond))
				serveTimes = append(serveTimes, fmt.Sprintf("%s: %s", phase.route, took.Round(time.Millisecond)))
				time.Sleep(2 * time.Second)
			}
			time.Sleep(3 * time.Second)
			r1, r2 := h1.stop(), h2.stop()
			requireNoFailures(t, "HTTP/1.1 keep-alive load across the outages", r1, 1000)
			requireNoFailures(t, "h2c load across the outages", r2, 1000)

			// Status resumes: the routes created after the outages get Accepted.
			t0 := time.Now()
			for _, n := range []string{"after-apiserver", "after-etcd"} {
				s.waitRouteAccepted(ctx, t, sc.ns, n, "gw", 2*time.Minute)
			}
			statusBack := time.Since(t0)
			_, leaderAfter := s.leader(ctx, t)
			condAfter := s.acceptedCond(ctx, t, sc.ns, "route", "gw")
			if !condAfter.LastTransitionTime.Equal(&condBefore.LastTransitionTime) || condAfter.ObservedGeneration != condBefore.ObservedGeneration ||
				condAfter.Status != condBefore.Status {
				t.Errorf("route Accepted changed across the outage: %s gen %d at %s -> %s gen %d at %s", condBefore.Status, condBefore.ObservedGeneration,
					condBefore.LastTransitionTime, condAfter.Status, condAfter.ObservedGeneration, condAfter.LastTransitionTime)
			}
			for what, m := range map[string][2]map[string]int32{
				"controller": {ctrlBefore, s.restartCounts(ctx, t, systemNS, ctrlSel)},
				"data plane": {dpBefore, s.restartCounts(ctx, t, sc.ns, dpSel)},
			} {
				if fmt.Sprint(m[0]) != fmt.Sprint(m[1]) {
					t.Errorf("%s containers restarted or were replaced across the outage: %v -> %v", what, m[0], m[1])
				}
			}
			for pod, l := range s.controllerLogs(ctx, t) {
				if strings.Contains(l, "leader election lost") {
					t.Errorf("controller %s logged \"leader election lost\" (the manager's exit)", pod)
				}
				t.Logf("controller %s: %d \"not leading\" and %d \"elected leader\" log lines", pod,
					strings.Count(l, "not leading (any more)"), strings.Count(l, "elected leader"))
			}
			t.Logf("outage %s each (API server, then etcd); HTTP/1.1 %s; h2c %s; post-outage routes served after %v; "+
				"their status Accepted %s after the last return; leader %s -> %s; restarts controller %v data plane %v; route Accepted since %s (gen %d) kept",
				outage, r1, r2, serveTimes, statusBack.Round(time.Millisecond), leaderBefore, leaderAfter,
				ctrlBefore, dpBefore, condBefore.LastTransitionTime, condBefore.ObservedGeneration)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestOutageLargeApply (issue #19): E2E_LARGE_APPLY_ROUTES HTTPRoutes (default
// 200; 1000 for the full run) created at once, the leading controller killed
// (pod deleted with grace 0) a quarter of the way in: the standby finishes,
// every route ends Accepted exactly once, and both data-plane replicas serve
// every route (the same table: the same model hash, confirmed by the controller).
func TestOutageLargeApply(t *testing.T) {
	n := envInt(t, "E2E_LARGE_APPLY_ROUTES", 200)
	f := features.New("leader killed during a large apply").
		Setup(oneGateway("large", 1)).
		Assess("every route accepted and served by every replica", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			s.scaleDataPlane(ctx, t, sc.ns, "gw", 2)
			ips := s.readyPodIPs(ctx, t, sc.ns, "gw", 2)
			lease, leader := s.leader(ctx, t)
			oldHolder := *lease.Spec.HolderIdentity
			host := func(i int) string { return fmt.Sprintf("r%04d.large.example", i) }
			name := func(i int) string { return fmt.Sprintf("r%04d", i) }

			var created atomic.Int32
			var killedAt time.Time
			var killOnce sync.Once
			kill := func() {
				killOnce.Do(func() {
					killedAt = time.Now()
					if err := s.cs.CoreV1().Pods(systemNS).Delete(ctx, leader, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
						t.Errorf("delete leader pod %s: %v", leader, err)
					}
				})
			}
			t0 := time.Now()
			idx := make(chan int)
			var wg sync.WaitGroup
			var errMu sync.Mutex
			var errs []string
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range idx {
						r := newRoute(sc.ns, name(i), "gw", host(i), rule("/", "echo", addHeader("x-e2e-version", name(i))))
						if err := s.cl.Create(ctx, r); err != nil {
							errMu.Lock()
							errs = append(errs, fmt.Sprintf("%s: %v", name(i), err))
							errMu.Unlock()
							continue
						}
						if int(created.Add(1)) == n/4 {
							go kill()
						}
					}
				}()
			}
			for i := range n {
				idx <- i
			}
			close(idx)
			wg.Wait()
			applied := time.Since(t0)
			if len(errs) > 0 {
				t.Fatalf("%d creates failed: %v", len(errs), errs[:min(len(errs), 5)])
			}
			kill() // in case n/4 was never hit exactly
			t.Logf("%d routes created in %s; leader %s killed %s after the first create", n, applied.Round(time.Millisecond), leader,
				killedAt.Sub(t0).Round(time.Millisecond))

			holder := s.waitNewLeader(ctx, t, lease.Name, oldHolder)
			takeover := time.Since(killedAt)

			// Every route Accepted once, for its generation.
			var accepted, dup int
			var total int
			err := e2eutil.Poll(ctx, 5*time.Minute, func(ctx context.Context) (bool, error) {
				var l gatewayv1.HTTPRouteList
				if err := s.cl.List(ctx, &l, client.InNamespace(sc.ns)); err != nil {
					return false, nil
				}
				accepted, dup, total = 0, 0, len(l.Items)
				for i := range l.Items {
					r := &l.Items[i]
					ours := 0
					for _, p := range r.Status.Parents {
						if p.ControllerName == s.controllerName && string(p.ParentRef.Name) == "gw" {
							ours++
						}
					}
					if ours > 1 {
						dup++
					}
					if p := s.ourParent(r, "gw"); p != nil && e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionAccepted), r.Generation) &&
						e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs), r.Generation) {
						accepted++
					}
				}
				return accepted == n+1, nil
			})
			allAccepted := time.Since(t0)
			if err != nil || total != n+1 || dup != 0 {
				t.Fatalf("routes: %d in the namespace (want %d), %d Accepted+ResolvedRefs, %d with duplicate status entries", total, n+1, accepted, dup)
			}

			// The data plane: the Gateway counts every route, both pods run the
			// controller's current model (Programmed says so) with the same hash.
			var gw gatewayv1.Gateway
			var hashes map[string]proxyStatus
			var programmed string
			err = e2eutil.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: "gw"}, &gw); err != nil {
					return false, nil
				}
				c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
				if len(gw.Status.Listeners) != 1 || gw.Status.Listeners[0].AttachedRoutes != int32(n+1) || c == nil ||
					c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
					return false, nil
				}
				programmed = c.Message
				hashes = s.proxyStatuses(ctx, t, sc.ns, "gw")
				var hs []string
				for _, st := range hashes {
					if st.Applied == nil || !*st.Applied {
						return false, nil
					}
					hs = append(hs, st.ModelHash)
				}
				return len(hs) == 2 && hs[0] == hs[1], nil
			})
			converged := time.Since(t0)
			if err != nil {
				t.Fatalf("data plane not converged: Gateway listeners %s conditions %v; pods %v", listenerSummary(gw.Status.Listeners),
					e2eutil.CondSummary(gw.Status.Conditions), hashes)
			}

			// Every route on every replica, straight to the pod.
			served := map[string]int{}
			var failed []string
			for _, ip := range ips {
				var mu sync.Mutex
				idx := make(chan int)
				var wg sync.WaitGroup
				tr := s.transport(8)
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
						for i := range idx {
							status, e, body, err := do(ctx, hc, target{addr: net.JoinHostPort(ip, "80"), host: host(i), path: "/large"})
							mu.Lock()
							if err == nil && status == http.StatusOK && e != nil && e.header("x-e2e-version") == name(i) {
								served[ip]++
							} else if len(failed) < 10 {
								failed = append(failed, fmt.Sprintf("%s %s: %d %v %.100s", ip, host(i), status, err, body))
							}
							mu.Unlock()
						}
					}()
				}
				for i := range n {
					idx <- i
				}
				close(idx)
				wg.Wait()
				tr.CloseIdleConnections()
			}
			for _, ip := range ips {
				if served[ip] != n {
					t.Errorf("pod %s served %d of %d routes; first failures: %v", ip, served[ip], n, failed)
				}
			}
			var hs []string
			for p, st := range hashes {
				hs = append(hs, fmt.Sprintf("%s=%.12s", p, st.ModelHash))
			}
			slices.Sort(hs)
			t.Logf("%d routes (+1): applied in %s, leader killed at +%s, new leader %q after %s, all Accepted at +%s, "+
				"both replicas converged (%v) at +%s (Programmed: %q); every route served by each replica: %v",
				n, applied.Round(time.Millisecond), killedAt.Sub(t0).Round(time.Millisecond), holder, takeover.Round(time.Millisecond),
				allAccepted.Round(time.Millisecond), hs, converged.Round(time.Millisecond), programmed, served)
			if err := s.waitController(ctx); err != nil {
				t.Errorf("controller did not recover to full strength: %v", err)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
