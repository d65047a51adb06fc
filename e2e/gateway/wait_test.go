//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// gatewayReady holds when the Gateway is Accepted and Programmed for its current
// generation and has an address.
func gatewayReady(gw *gatewayv1.Gateway) bool {
	return e2eutil.CondIs(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted), gw.Generation) &&
		e2eutil.CondIs(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed), gw.Generation) &&
		len(gw.Status.Addresses) > 0
}

// waitGateway waits until ok(gateway) holds and returns that Gateway.
func (s *suite) waitGateway(ctx context.Context, t *testing.T, ns, name string, timeout time.Duration, what string, ok func(*gatewayv1.Gateway) bool) *gatewayv1.Gateway {
	t.Helper()
	var gw gatewayv1.Gateway
	err := e2eutil.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gw); err != nil {
			return false, nil
		}
		return ok(&gw), nil
	})
	if err != nil {
		t.Fatalf("Gateway %s/%s: %s not reached within %s: generation %d, conditions %s, addresses %v, listeners %s",
			ns, name, what, timeout, gw.Generation, e2eutil.CondSummary(gw.Status.Conditions), addrSummary(gw.Status.Addresses), listenerSummary(gw.Status.Listeners))
	}
	return &gw
}

func addrSummary(as []gatewayv1.GatewayStatusAddress) string {
	var out []string
	for _, a := range as {
		typ := "?"
		if a.Type != nil {
			typ = string(*a.Type)
		}
		out = append(out, typ+":"+a.Value)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func listenerSummary(ls []gatewayv1.ListenerStatus) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "{%s attached=%d %s} ", l.Name, l.AttachedRoutes, e2eutil.CondSummary(l.Conditions))
	}
	return strings.TrimSpace(b.String())
}

// gatewayAddr is host:port of the Gateway's first address on port.
func gatewayAddr(t *testing.T, gw *gatewayv1.Gateway, port int) string {
	t.Helper()
	if len(gw.Status.Addresses) == 0 {
		t.Fatalf("Gateway %s/%s has no address", gw.Namespace, gw.Name)
	}
	return net.JoinHostPort(gw.Status.Addresses[0].Value, strconv.Itoa(port))
}

// ourParent is the route's status entry for gateway written by our controller.
func (s *suite) ourParent(r *gatewayv1.HTTPRoute, gateway string) *gatewayv1.RouteParentStatus {
	for i, p := range r.Status.Parents {
		if p.ControllerName == s.controllerName && string(p.ParentRef.Name) == gateway {
			return &r.Status.Parents[i]
		}
	}
	return nil
}

// waitRouteAccepted waits until our controller reports the route Accepted and
// ResolvedRefs for its current generation on gateway.
func (s *suite) waitRouteAccepted(ctx context.Context, t *testing.T, ns, name, gateway string, timeout time.Duration) *gatewayv1.HTTPRoute {
	t.Helper()
	var r gatewayv1.HTTPRoute
	err := e2eutil.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			return false, nil
		}
		p := s.ourParent(&r, gateway)
		return p != nil && e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionAccepted), r.Generation) &&
			e2eutil.CondIs(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs), r.Generation), nil
	})
	if err != nil {
		t.Fatalf("HTTPRoute %s/%s not Accepted+ResolvedRefs on %s within %s: generation %d, parents %+v",
			ns, name, gateway, timeout, r.Generation, r.Status.Parents)
	}
	return &r
}

// waitDeployment waits until the Deployment has exactly replicas pods, all ready and
// updated, and no terminating ones left.
func (s *suite) waitDeployment(ctx context.Context, t *testing.T, ns, name string, replicas int32, timeout time.Duration) {
	t.Helper()
	var d appsv1.Deployment
	var pods []corev1.Pod
	err := e2eutil.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, nil
		}
		var err error
		if pods, err = e2eutil.Pods(ctx, s.cs, ns, metav1.FormatLabelSelector(d.Spec.Selector)); err != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas && len(pods) == int(replicas), nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s: want %d ready replicas within %s; status %+v, %d pods", ns, name, replicas, timeout, d.Status, len(pods))
	}
}
