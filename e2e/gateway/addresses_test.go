//go:build e2e

package gateway

import (
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// lbAddress is the address off from the top of the load-balancer range (the
// pod runner allocates from the bottom, so the top is free).
func lbAddress(t *testing.T, cidr *net.IPNet, off uint32) string {
	t.Helper()
	base := cidr.IP.To4()
	ones, _ := cidr.Mask.Size()
	if base == nil {
		t.Fatalf("load-balancer range %s is not IPv4", cidr)
	}
	top := binary.BigEndian.Uint32(base) | (1<<(32-ones) - 1)
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, top-off)
	return ip.String()
}

func staticAddrs(vs ...string) []gatewayv1.GatewaySpecAddress {
	var out []gatewayv1.GatewaySpecAddress
	for _, v := range vs {
		out = append(out, gatewayv1.GatewaySpecAddress{Type: new(gatewayv1.IPAddressType), Value: v})
	}
	return out
}

func programmedReason(g *gatewayv1.Gateway) (metav1.ConditionStatus, string, string) {
	for _, c := range g.Status.Conditions {
		if c.Type == string(gatewayv1.GatewayConditionProgrammed) && c.ObservedGeneration == g.Generation {
			return c.Status, c.Reason, c.Message
		}
	}
	return "", "", ""
}

func onlyAddress(g *gatewayv1.Gateway, want string) bool {
	return len(g.Status.Addresses) == 1 && g.Status.Addresses[0].Value == want &&
		g.Status.Addresses[0].Type != nil && *g.Status.Addresses[0].Type == gatewayv1.IPAddressType
}

// TestStaticAddress: a static address the load balancer cannot grant (outside
// its range) leaves the Gateway AddressNotAssigned for the controller's grace
// period, then AddressNotUsable, with no status address; a grantable one is
// requested on the Service, listed alone once granted and serves traffic; moving
// to another address follows.
func TestStaticAddress(t *testing.T) {
	f := features.New("static address").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "e2e-static")
			d, svc := echoApp(ns, "echo", 1)
			gw := newGateway(ns, "gw")
			gw.Spec.Addresses = staticAddrs("192.0.2.1") // TEST-NET-1: never in the LB range
			s.create(ctx, t, d, svc, gw, newRoute(ns, "route", "gw", "static.example", rule("/", "echo")))
			return context.WithValue(ctx, scenarioKey{}, &scenario{ns: ns, gw: gw})
		}).
		Assess("unusable address", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			start := time.Now()
			var sawPending bool
			g := s.waitGateway(ctx, t, sc.ns, "gw", gatewayTimeout, "Programmed=False AddressNotUsable", func(g *gatewayv1.Gateway) bool {
				st, reason, _ := programmedReason(g)
				if st == metav1.ConditionFalse && reason == string(gatewayv1.GatewayReasonAddressNotAssigned) {
					sawPending = true
				}
				return st == metav1.ConditionFalse && reason == string(gatewayv1.GatewayReasonAddressNotUsable)
			})
			_, _, msg := programmedReason(g)
			t.Logf("AddressNotUsable after %s (AddressNotAssigned seen before: %v): %s", time.Since(start).Round(100*time.Millisecond), sawPending, msg)
			if !sawPending {
				t.Errorf("no AddressNotAssigned while the load balancer could still grant the address")
			}
			if !strings.Contains(msg, "192.0.2.1") {
				t.Errorf("message does not name the address: %q", msg)
			}
			if len(g.Status.Addresses) != 0 {
				t.Errorf("status lists addresses nothing listens on: %s", addrSummary(g.Status.Addresses))
			}
			svc, err := s.cs.CoreV1().Services(sc.ns).Get(ctx, dataPlaneName("gw"), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if svc.Spec.LoadBalancerIP != "192.0.2.1" || len(svc.Status.LoadBalancer.Ingress) != 0 {
				t.Errorf("Service asks for %q and got %+v; want 192.0.2.1 and nothing", svc.Spec.LoadBalancerIP, svc.Status.LoadBalancer.Ingress)
			}
			return ctx
		}).
		Assess("usable address, then another", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			for i, want := range []string{lbAddress(t, s.c.LoadBalancerCIDR, 40), lbAddress(t, s.c.LoadBalancerCIDR, 41)} {
				var cur gatewayv1.Gateway
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: "gw"}, &cur); err != nil {
					t.Fatal(err)
				}
				next := cur.DeepCopy()
				next.Spec.Addresses = staticAddrs(want)
				if err := s.cl.Patch(ctx, next, client.MergeFrom(&cur)); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				g := s.waitGateway(ctx, t, sc.ns, "gw", gatewayTimeout, "Programmed with only "+want, func(g *gatewayv1.Gateway) bool {
					return gatewayReady(g) && onlyAddress(g, want)
				})
				t.Logf("step %d: Programmed at %s after %s", i, addrSummary(g.Status.Addresses), time.Since(start).Round(100*time.Millisecond))
				s.waitServes(ctx, t, target{addr: gatewayAddr(t, g, 80), host: "static.example", path: "/static"}, trafficTimeout,
					"200 from echo", func(status int, e *echoResponse) bool {
						return status == http.StatusOK && e != nil && strings.HasPrefix(e.Pod, "echo-")
					})
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
