//go:build e2e

package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// TestListenerSetNewPort: a ListenerSet that adds a port its Gateway does not
// have is served on that port (the data plane's Service exposes it, nghttpx
// binds it), by routes attached to the ListenerSet only; the Gateway counts it
// in attachedListenerSets. Deleting the ListenerSet takes the port's routes
// away again. (The conformance suite's ListenerSet tests reuse the Gateway's
// ports only.)
func TestListenerSetNewPort(t *testing.T) {
	var ns string
	var gw *gatewayv1.Gateway
	ls := func() *gatewayv1.ListenerSet {
		return &gatewayv1.ListenerSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "extra"},
			Spec: gatewayv1.ListenerSetSpec{
				ParentRef: gatewayv1.ParentGatewayReference{Name: "gw"},
				Listeners: []gatewayv1.ListenerEntry{{
					Name: "alt", Protocol: gatewayv1.HTTPProtocolType, Port: 8081,
					Hostname: ptr.To(gatewayv1.Hostname("ls.example")),
				}},
			},
		}
	}
	f := features.New("ListenerSet with a new port").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns = s.namespace(ctx, t, "e2e-lset")
			d, svc := echoApp(ns, "echo", 1)
			g := newGateway(ns, "gw")
			g.Spec.AllowedListeners = &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{
				From: ptr.To(gatewayv1.NamespacesFromSame),
			}}
			route := newRoute(ns, "via-ls", "", "", rule("/", "echo"))
			route.Spec.ParentRefs = []gatewayv1.ParentReference{{
				Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptr.To(gatewayv1.Kind("ListenerSet")), Name: "extra",
			}}
			s.create(ctx, t, d, svc, g, ls(), route, newRoute(ns, "via-gw", "gw", "", rule("/", "echo")))
			gw = s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Programmed with one attached ListenerSet", func(g *gatewayv1.Gateway) bool {
				return gatewayReady(g) && g.Status.AttachedListenerSets != nil && *g.Status.AttachedListenerSets == 1
			})
			s.waitRouteAccepted(ctx, t, ns, "via-ls", "extra", statusTimeout)
			return ctx
		}).
		Assess("the ListenerSet is Accepted and Programmed", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var got gatewayv1.ListenerSet
			err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "extra"}, &got); err != nil {
					return false, nil
				}
				return e2eutil.CondIs(got.Status.Conditions, string(gatewayv1.ListenerSetConditionAccepted), got.Generation) &&
					e2eutil.CondIs(got.Status.Conditions, string(gatewayv1.ListenerSetConditionProgrammed), got.Generation) &&
					len(got.Status.Listeners) == 1 && got.Status.Listeners[0].AttachedRoutes == 1, nil
			})
			if err != nil {
				t.Fatalf("ListenerSet status: conditions %s, listeners %+v", e2eutil.CondSummary(got.Status.Conditions), got.Status.Listeners)
			}
			return ctx
		}).
		Assess("the new port serves the ListenerSet's routes only", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			alt := target{addr: gatewayAddr(t, gw, 8081), host: "ls.example", path: "/x"}
			s.waitServes(ctx, t, alt, trafficTimeout, "200 from echo on the ListenerSet's port", func(status int, e *echoResponse) bool {
				return status == http.StatusOK && e != nil && strings.HasPrefix(e.Pod, "echo-")
			})
			// The Gateway's port does not serve the ListenerSet listener's hostname
			// through the ListenerSet's route, and the Gateway's route is not on the
			// ListenerSet's listener.
			if status, _, body, err := s.get(ctx, target{addr: alt.addr, host: "other.example", path: "/x"}); err != nil || status != http.StatusNotFound {
				t.Errorf("port 8081 with another host: status %d err %v body %.200s; want 404", status, err, body)
			}
			s.waitServes(ctx, t, target{addr: gatewayAddr(t, gw, 80), host: "gw.example", path: "/x"}, trafficTimeout, "200 from echo on the Gateway's port",
				func(status int, e *echoResponse) bool { return status == http.StatusOK && e != nil })
			return ctx
		}).
		Assess("deleting the ListenerSet detaches it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			if err := s.cl.Delete(ctx, ls()); err != nil {
				t.Fatal(err)
			}
			s.waitGateway(ctx, t, ns, "gw", statusTimeout, "no attached ListenerSet", func(g *gatewayv1.Gateway) bool {
				return g.Status.AttachedListenerSets != nil && *g.Status.AttachedListenerSets == 0 &&
					meta.IsStatusConditionTrue(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
			})
			err := e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
				status, _, _, err := s.get(ctx, target{addr: gatewayAddr(t, gw, 8081), host: "ls.example", path: "/x"})
				return err != nil || status != http.StatusOK, nil
			})
			if err != nil {
				t.Error("port 8081 still serves the ListenerSet's route after it was deleted")
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
