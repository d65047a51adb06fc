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
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// poll checks cond every 250 ms until it holds, returns an error, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, cond)
}

// condIs reports whether condition typ is True for generation gen.
func condIs(conds []metav1.Condition, typ string, gen int64) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen
		}
	}
	return false
}

func condSummary(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "[%s=%s gen %d %s: %s] ", c.Type, c.Status, c.ObservedGeneration, c.Reason, c.Message)
	}
	return strings.TrimSpace(b.String())
}

// gatewayReady holds when the Gateway is Accepted and Programmed for its current
// generation and has an address.
func gatewayReady(gw *gatewayv1.Gateway) bool {
	return condIs(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted), gw.Generation) &&
		condIs(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed), gw.Generation) &&
		len(gw.Status.Addresses) > 0
}

// waitGateway waits until ok(gateway) holds and returns that Gateway.
func (s *suite) waitGateway(ctx context.Context, t *testing.T, ns, name string, timeout time.Duration, what string, ok func(*gatewayv1.Gateway) bool) *gatewayv1.Gateway {
	t.Helper()
	var gw gatewayv1.Gateway
	err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gw); err != nil {
			return false, nil
		}
		return ok(&gw), nil
	})
	if err != nil {
		t.Fatalf("Gateway %s/%s: %s not reached within %s: generation %d, conditions %s, addresses %v, listeners %s",
			ns, name, what, timeout, gw.Generation, condSummary(gw.Status.Conditions), addrSummary(gw.Status.Addresses), listenerSummary(gw.Status.Listeners))
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
		fmt.Fprintf(&b, "{%s attached=%d %s} ", l.Name, l.AttachedRoutes, condSummary(l.Conditions))
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
	err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			return false, nil
		}
		p := s.ourParent(&r, gateway)
		return p != nil && condIs(p.Conditions, string(gatewayv1.RouteConditionAccepted), r.Generation) &&
			condIs(p.Conditions, string(gatewayv1.RouteConditionResolvedRefs), r.Generation), nil
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
	err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, nil
		}
		var err error
		if pods, err = s.pods(ctx, ns, metav1.FormatLabelSelector(d.Spec.Selector)); err != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas && len(pods) == int(replicas), nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s: want %d ready replicas within %s; status %+v, %d pods", ns, name, replicas, timeout, d.Status, len(pods))
	}
}

func (s *suite) pods(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	l, err := s.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
