//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// Timeouts. A Gateway's first data plane starts a pod with the agent and nghttpx.
const (
	gatewayTimeout = 3 * time.Minute
	statusTimeout  = time.Minute
	trafficTimeout = time.Minute
)

type scenarioKey struct{}

// scenario is one feature's objects.
type scenario struct {
	ns  string
	gw  *gatewayv1.Gateway
	tg  target // the route under test at the Gateway's address
	gws map[string]*gatewayv1.Gateway
}

func scenarioFrom(ctx context.Context) *scenario { return ctx.Value(scenarioKey{}).(*scenario) }

// oneGateway sets up namespace, echo app(s), Gateway "gw" and HTTPRoute "route"
// (host <prefix>.example, path prefix /, to the first echo app) and waits until the
// route is served.
func oneGateway(prefix string, echoReplicas int32, extraEcho ...string) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := suiteFrom(ctx)
		ns := s.namespace(ctx, t, "e2e-"+prefix)
		for i, name := range append([]string{"echo"}, extraEcho...) {
			replicas := echoReplicas
			if i > 0 {
				replicas = 1
			}
			d, svc := echoApp(ns, name, replicas)
			s.create(ctx, t, d, svc)
		}
		host := prefix + ".example"
		s.create(ctx, t, newGateway(ns, "gw"), newRoute(ns, "route", "gw", host, rule("/", "echo")))
		s.waitDeployment(ctx, t, ns, "echo", echoReplicas, 2*time.Minute)
		gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
		sc := &scenario{ns: ns, gw: gw, tg: target{addr: gatewayAddr(t, gw, 80), host: host, path: "/" + prefix}}
		s.waitServes(ctx, t, sc.tg, trafficTimeout, "200 from echo", func(status int, e *echoResponse) bool {
			return status == http.StatusOK && e != nil && strings.HasPrefix(e.Pod, "echo-")
		})
		return context.WithValue(ctx, scenarioKey{}, sc)
	}
}

// TestBasic: Gateway + HTTPRoute + echo Deployment -> traffic at the Gateway address
// and complete status on the GatewayClass, Gateway, listener and route.
func TestBasic(t *testing.T) {
	f := features.New("basic").
		Setup(oneGateway("basic", 2)).
		Assess("status", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			gw := sc.gw
			if len(gw.Status.Listeners) != 1 {
				t.Fatalf("listeners status %s, want one", listenerSummary(gw.Status.Listeners))
			}
			l := gw.Status.Listeners[0]
			if l.Name != "http" || l.AttachedRoutes != 1 {
				t.Errorf("listener %s attachedRoutes %d, want http with 1", l.Name, l.AttachedRoutes)
			}
			for _, c := range []gatewayv1.ListenerConditionType{gatewayv1.ListenerConditionAccepted, gatewayv1.ListenerConditionProgrammed, gatewayv1.ListenerConditionResolvedRefs} {
				if !e2eutil.CondIs(l.Conditions, string(c), gw.Generation) {
					t.Errorf("listener condition %s not True for generation %d: %s", c, gw.Generation, e2eutil.CondSummary(l.Conditions))
				}
			}
			// The address is the provisioned Service's load-balancer address.
			var svc corev1.Service
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: dataPlaneName("gw")}, &svc); err != nil {
				t.Fatalf("data-plane Service: %v", err)
			}
			var lb []string
			for _, in := range svc.Status.LoadBalancer.Ingress {
				lb = append(lb, in.IP+in.Hostname)
			}
			a := gw.Status.Addresses[0]
			if len(lb) == 0 || a.Value != lb[0] {
				t.Errorf("Gateway address %q, Service %s load-balancer ingress %v", a.Value, svc.Name, lb)
			}
			if a.Type == nil || *a.Type != gatewayv1.IPAddressType {
				t.Errorf("Gateway address type %v, want IPAddress", a.Type)
			}
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 {
				t.Errorf("data-plane Service type %s ports %+v, want LoadBalancer with port 80", svc.Spec.Type, svc.Spec.Ports)
			}
			s.waitRouteAccepted(ctx, t, sc.ns, "route", "gw", statusTimeout)
			// ServiceAccount, Deployment and Service belong to the Gateway.
			for _, o := range []client.Object{&corev1.ServiceAccount{}, &appsv1.Deployment{}, &corev1.Service{}} {
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: dataPlaneName("gw")}, o); err != nil {
					t.Errorf("data-plane %T: %v", o, err)
					continue
				}
				owned := false
				for _, r := range o.GetOwnerReferences() {
					owned = owned || (r.Kind == "Gateway" && r.Name == "gw" && r.UID == gw.UID)
				}
				if !owned {
					t.Errorf("%T %s has no owner reference to the Gateway: %+v", o, o.GetName(), o.GetOwnerReferences())
				}
				if o.GetLabels()["gateway.nghttpx.dev/gateway-name"] != "gw" || o.GetLabels()["gateway.nghttpx.dev/gateway-namespace"] != sc.ns {
					t.Errorf("%T %s labels %v lack the gateway.nghttpx.dev selector labels", o, o.GetName(), o.GetLabels())
				}
			}
			var gc gatewayv1.GatewayClass
			if err := s.cl.Get(ctx, client.ObjectKey{Name: className}, &gc); err != nil {
				t.Fatal(err)
			}
			if len(gc.Status.SupportedFeatures) == 0 {
				t.Errorf("GatewayClass %s lists no supportedFeatures", className)
			}
			// Every data-plane pod has applied the configuration Programmed refers to.
			var hash string
			for pod, st := range s.proxyStatuses(ctx, t, sc.ns, "gw") {
				if !*st.Applied {
					t.Errorf("data-plane pod %s: %s", pod, st)
				}
				if hash != "" && st.ModelHash != hash {
					t.Errorf("data-plane pods disagree on the model hash: %s vs %s", st.ModelHash, hash)
				}
				hash = st.ModelHash
			}
			return ctx
		}).
		Assess("traffic", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			pods := map[string]bool{}
			tg := sc.tg
			for i := range 20 {
				tg.path = fmt.Sprintf("/basic/%d?q=1", i)
				status, e, body, err := s.get(ctx, tg)
				if err != nil || status != http.StatusOK || e == nil {
					t.Fatalf("GET %s: %d %v %.200s", tg, status, err, body)
				}
				if e.Namespace != sc.ns || e.Path != tg.path || e.Host != tg.host || e.Method != http.MethodGet {
					t.Errorf("echo saw %+v, want namespace %s path %s host %s", e, sc.ns, tg.path, tg.host)
				}
				pods[e.Pod] = true
			}
			if len(pods) != 2 {
				t.Errorf("20 requests reached pods %v, want both echo replicas", pods)
			}
			// A host no route claims gets 404 from the data plane, not a backend.
			status, e, body, err := s.get(ctx, target{addr: sc.tg.addr, host: "unrouted.example", path: "/"})
			if err != nil || status != http.StatusNotFound || e != nil {
				t.Errorf("unrouted host: status %d, err %v, body %.200s; want 404 without a backend", status, err, body)
			}
			return ctx
		}).
		Assess("re-applying config keeps the proxies' access", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			if err := e2eutil.InstallDefault(ctx, s.c.RESTConfig, fieldManager, nil); err != nil {
				t.Fatalf("re-apply: %v", err)
			}
			var b rbacv1.ClusterRoleBinding
			if err := s.cl.Get(ctx, client.ObjectKey{Name: "nghttpx-gateway-proxy"}, &b); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, sub := range b.Subjects {
				found = found || (sub.Kind == "ServiceAccount" && sub.Namespace == sc.ns && sub.Name == dataPlaneName("gw"))
			}
			if !found {
				t.Errorf("after re-applying config/default the proxies' binding lost %s/%s: subjects %+v", sc.ns, dataPlaneName("gw"), b.Subjects)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestRouteChangeUnderLoad: switching a route's backend and filters while requests
// flow changes behaviour without a failed request or an nghttpx reload.
func TestRouteChangeUnderLoad(t *testing.T) {
	f := features.New("route change under load").
		Setup(oneGateway("change", 1, "echo-v2")).
		Assess("switch backend and add a header", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			s.waitDeployment(ctx, t, sc.ns, "echo-v2", 1, 2*time.Minute)
			before := s.proxyStatuses(ctx, t, sc.ns, "gw")
			l := s.startLoad(t, sc.tg, 4, 100, 2*time.Minute)
			time.Sleep(2 * time.Second)
			if r := l.snapshot(); r.ok == 0 {
				t.Fatalf("no successful request before the change: %s %v", r, r.errs)
			}

			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var r gatewayv1.HTTPRoute
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: "route"}, &r); err != nil {
					return err
				}
				r.Spec.Rules = []gatewayv1.HTTPRouteRule{rule("/", "echo-v2", addHeader("x-e2e-version", "v2"))}
				return s.cl.Update(ctx, &r)
			})
			if err != nil {
				t.Fatalf("update route: %v", err)
			}
			changed := l.elapsed()

			// Wait for the first answer from the new backend that carries the new header.
			var switched time.Duration
			err = e2eutil.Poll(ctx, 30*time.Second, func(context.Context) (bool, error) {
				for _, smp := range l.snapshot().samples {
					if smp.at > changed && strings.HasPrefix(smp.pod, "echo-v2-") && smp.marker == "v2" {
						switched = smp.at
						return true, nil
					}
				}
				return false, nil
			})
			if err != nil {
				t.Fatalf("the new route never answered within 30 s: %s", l.snapshot())
			}
			time.Sleep(3 * time.Second)
			res := l.stop()
			t.Logf("route change took effect %s after the update", (switched - changed).Round(time.Millisecond))
			requireNoFailures(t, "load across the route change", res, 300)
			// Once switched (plus a second for every worker to see the new table), only the new behaviour.
			for _, smp := range res.samples {
				if smp.at > switched+time.Second && (!strings.HasPrefix(smp.pod, "echo-v2-") || smp.marker != "v2") {
					t.Errorf("+%s answered by %s with x-e2e-version %q after the switch at +%s", smp.at.Round(time.Millisecond), smp.pod, smp.marker, switched.Round(time.Millisecond))
					break
				}
			}
			s.waitRouteAccepted(ctx, t, sc.ns, "route", "gw", statusTimeout)
			after := s.proxyStatuses(ctx, t, sc.ns, "gw")
			if d := counterDelta(t, "reloads", before, after, func(p proxyStatus) int64 { return *p.Reloads }); d != 0 {
				t.Errorf("the route change caused %d nghttpx reloads; routes must change without SIGHUP", d)
			}
			if d := counterDelta(t, "restarts", before, after, proxyStatus.restarts); d != 0 {
				t.Errorf("nghttpx was restarted %d times during the route change", d)
			}
			if d := counterDelta(t, "routeWrites", before, after, func(p proxyStatus) int64 { return *p.RouteWrites }); d == 0 {
				t.Errorf("no route table write was counted for the route change (before %v, after %v)", before, after)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestScaleUnderLoad: scaling the backend 1 -> 5 -> 1 while requests flow loses no
// request and never reloads nghttpx (endpoints go through the backend API).
func TestScaleUnderLoad(t *testing.T) {
	f := features.New("scale under load").
		Setup(oneGateway("scale", 1)).
		Assess("1 -> 5 -> 1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			before := s.proxyStatuses(ctx, t, sc.ns, "gw")
			l := s.startLoad(t, sc.tg, 4, 100, 3*time.Minute)
			scale := func(n int32) {
				t.Helper()
				scl, err := s.cs.AppsV1().Deployments(sc.ns).GetScale(ctx, "echo", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				scl.Spec.Replicas = n
				if _, err := s.cs.AppsV1().Deployments(sc.ns).UpdateScale(ctx, "echo", scl, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(2 * time.Second)

			scale(5)
			s.waitDeployment(ctx, t, sc.ns, "echo", 5, 2*time.Minute)
			up := l.elapsed()
			err := e2eutil.Poll(ctx, time.Minute, func(context.Context) (bool, error) {
				return len(l.snapshot().pods(up)) == 5, nil
			})
			if err != nil {
				t.Fatalf("after scaling to 5, load reached only %v", l.snapshot().pods(up))
			}
			t.Logf("all 5 replicas served %s after the Deployment was ready", (l.elapsed() - up).Round(time.Millisecond))

			scale(1)
			s.waitDeployment(ctx, t, sc.ns, "echo", 1, 2*time.Minute)
			down := l.elapsed()
			time.Sleep(2 * time.Second)
			res := l.stop()
			requireNoFailures(t, "load across 1 -> 5 -> 1", res, 500)
			if got := res.pods(down); len(got) != 1 {
				t.Errorf("after scaling back to 1 and the old pods being gone, answers came from %v", got)
			}
			after := s.proxyStatuses(ctx, t, sc.ns, "gw")
			if d := counterDelta(t, "reloads", before, after, func(p proxyStatus) int64 { return *p.Reloads }); d != 0 {
				t.Errorf("scaling caused %d nghttpx reloads, want 0", d)
			}
			if d := counterDelta(t, "restarts", before, after, proxyStatus.restarts); d != 0 {
				t.Errorf("nghttpx was restarted %d times while scaling", d)
			}
			if d := counterDelta(t, "backendPosts", before, after, func(p proxyStatus) int64 { return *p.BackendPosts }); d < 2 {
				t.Errorf("only %d backend API posts for two endpoint changes", d)
			}
			t.Logf("data plane before %v after %v", before, after)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestTwoGateways: two Gateways on port 80 get their own addresses and data planes,
// and each address serves only its own routes.
func TestTwoGateways(t *testing.T) {
	f := features.New("two gateways on port 80").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "e2e-two")
			sc := &scenario{ns: ns, gws: map[string]*gatewayv1.Gateway{}}
			for _, n := range []string{"a", "b"} {
				d, svc := echoApp(ns, "echo-"+n, 1)
				s.create(ctx, t, d, svc, newGateway(ns, "gw-"+n),
					newRoute(ns, "route-"+n, "gw-"+n, "", rule("/"+n, "echo-"+n)))
			}
			for _, n := range []string{"a", "b"} {
				sc.gws[n] = s.waitGateway(ctx, t, ns, "gw-"+n, gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
				s.waitRouteAccepted(ctx, t, ns, "route-"+n, "gw-"+n, statusTimeout)
			}
			return context.WithValue(ctx, scenarioKey{}, sc)
		}).
		Assess("each address serves its own routes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			a, b := gatewayAddr(t, sc.gws["a"], 80), gatewayAddr(t, sc.gws["b"], 80)
			if a == b {
				t.Fatalf("both Gateways have address %s", a)
			}
			for _, n := range []string{"a", "b"} {
				addr := gatewayAddr(t, sc.gws[n], 80)
				s.waitServes(ctx, t, target{addr: addr, host: "any.example", path: "/" + n}, trafficTimeout, "200 from echo-"+n,
					func(status int, e *echoResponse) bool {
						return status == http.StatusOK && e != nil && strings.HasPrefix(e.Pod, "echo-"+n+"-")
					})
				other := map[string]string{"a": "b", "b": "a"}[n]
				status, e, body, err := s.get(ctx, target{addr: addr, host: "any.example", path: "/" + other})
				if err != nil || status != http.StatusNotFound || e != nil {
					t.Errorf("gw-%s served /%s (the other Gateway's route): status %d err %v body %.200s", n, other, status, err, body)
				}
				s.waitGateway(ctx, t, sc.ns, "gw-"+n, statusTimeout, "one attached route", func(g *gatewayv1.Gateway) bool {
					return len(g.Status.Listeners) == 1 && g.Status.Listeners[0].AttachedRoutes == 1
				})
				if _, err := s.cs.AppsV1().Deployments(sc.ns).Get(ctx, dataPlaneName("gw-"+n), metav1.GetOptions{}); err != nil {
					t.Errorf("data plane of gw-%s: %v", n, err)
				}
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestControllerFailover: killing the leading controller does not disturb traffic,
// and the standby takes over the Lease and then writes status.
func TestControllerFailover(t *testing.T) {
	f := features.New("controller failover").
		Setup(oneGateway("failover", 1)).
		Assess("kill the leader", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			lease, leader := s.leader(ctx, t)
			t.Logf("leader is %s (Lease %s holder %q)", leader, lease.Name, *lease.Spec.HolderIdentity)
			l := s.startLoad(t, sc.tg, 4, 100, 3*time.Minute)
			time.Sleep(2 * time.Second)

			// A crash: no graceful shutdown, so the Lease is not released and must expire.
			killed := time.Now()
			if err := s.cs.CoreV1().Pods(systemNS).Delete(ctx, leader, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
				t.Fatalf("delete leader pod %s: %v", leader, err)
			}
			holder := s.waitNewLeader(ctx, t, lease.Name, *lease.Spec.HolderIdentity)
			t.Logf("new leader %q after %s", holder, time.Since(killed).Round(time.Millisecond))

			// Status written after the takeover can only come from the new leader.
			s.create(ctx, t, newRoute(sc.ns, "route-2", "gw", sc.tg.host, rule("/second", "echo", addHeader("x-e2e-version", "2"))))
			s.waitRouteAccepted(ctx, t, sc.ns, "route-2", "gw", statusTimeout)
			s.waitGateway(ctx, t, sc.ns, "gw", statusTimeout, "two attached routes and Programmed", func(g *gatewayv1.Gateway) bool {
				return gatewayReady(g) && len(g.Status.Listeners) == 1 && g.Status.Listeners[0].AttachedRoutes == 2
			})
			s.waitServes(ctx, t, target{addr: sc.tg.addr, host: sc.tg.host, path: "/second"}, trafficTimeout, "the route added after failover",
				func(status int, e *echoResponse) bool {
					return status == http.StatusOK && e != nil && e.header("x-e2e-version") == "2"
				})
			// 500 requests at 100 req/s need 5 s of load: a fast takeover (about 1 s on a
			// real node) must not leave too short a run to count.
			if d := 6*time.Second - time.Since(l.start); d > 0 {
				time.Sleep(d)
			}
			res := l.stop()
			requireNoFailures(t, "load across the controller failover", res, 500)
			if err := s.waitController(ctx); err != nil {
				t.Errorf("controller did not recover to full strength: %v", err)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestDeleteGateway: deleting a Gateway removes its data plane.
func TestDeleteGateway(t *testing.T) {
	f := features.New("delete gateway").
		Setup(oneGateway("delete", 1)).
		Assess("data plane removed", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			name := dataPlaneName("gw")
			if err := s.cl.Delete(ctx, sc.gw); err != nil {
				t.Fatalf("delete Gateway: %v", err)
			}
			err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
				for _, o := range []client.Object{&corev1.ServiceAccount{}, &appsv1.Deployment{}, &corev1.Service{}} {
					if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: name}, o); !apierrors.IsNotFound(err) {
						return false, nil
					}
				}
				pods, err := e2eutil.Pods(ctx, s.cs, sc.ns, dataPlaneSelector(sc.ns, "gw"))
				return err == nil && len(pods) == 0, nil
			})
			if err != nil {
				pods, _ := e2eutil.Pods(ctx, s.cs, sc.ns, dataPlaneSelector(sc.ns, "gw"))
				t.Fatalf("data plane %s/%s (ServiceAccount, Deployment, Service, %d pods) still present 2 minutes after the Gateway was deleted", sc.ns, name, len(pods))
			}
			// Nothing answers at the old address any more.
			err = e2eutil.Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
				_, _, _, err := s.get(ctx, sc.tg)
				return err != nil, nil
			})
			if err != nil {
				t.Errorf("%s still answers after the data plane was removed", sc.tg.addr)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// waitNewLeader waits up to 90 s for the Lease name in systemNS to be held by
// someone other than old, and returns the new holder.
func (s *suite) waitNewLeader(ctx context.Context, t *testing.T, name, old string) string {
	t.Helper()
	var holder string
	err := e2eutil.Poll(ctx, 90*time.Second, func(ctx context.Context) (bool, error) {
		le, err := s.cs.CoordinationV1().Leases(systemNS).Get(ctx, name, metav1.GetOptions{})
		if err != nil || le.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *le.Spec.HolderIdentity
		return holder != "" && holder != old, nil
	})
	if err != nil {
		t.Fatalf("Lease %s still held by %q 90 s after the leader was killed", name, holder)
	}
	return holder
}
