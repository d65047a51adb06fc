package controller

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// holdListenerSets returns sets with Programmed=True turned into False
// (ParentNotProgrammed) while the parent Gateway's held Programmed condition is
// not True: a ListenerSet's listeners are served by its Gateway's data plane, so
// they are programmed exactly when the Gateway is. stored are the conditions on
// the API server, which keep lastTransitionTime stable.
func holdListenerSets(sets []gatewayv1.ListenerSet, gws []gatewayv1.Gateway, stored map[types.NamespacedName][]metav1.Condition, now metav1.Time) []gatewayv1.ListenerSet {
	programmed := map[types.NamespacedName]bool{}
	for i := range gws {
		programmed[types.NamespacedName{Namespace: gws[i].Namespace, Name: gws[i].Name}] =
			meta.IsStatusConditionTrue(gws[i].Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	}
	out := make([]gatewayv1.ListenerSet, len(sets))
	for i := range sets {
		s := sets[i].DeepCopy()
		out[i] = *s
		c := meta.FindStatusCondition(s.Status.Conditions, string(gatewayv1.ListenerSetConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		parent := types.NamespacedName{Namespace: s.Namespace, Name: string(s.Spec.ParentRef.Name)}
		if ns := s.Spec.ParentRef.Namespace; ns != nil && *ns != "" {
			parent.Namespace = string(*ns)
		}
		if programmed[parent] {
			continue
		}
		c.Status, c.Reason = metav1.ConditionFalse, "ParentNotProgrammed"
		c.Message = fmt.Sprintf("Waiting for the parent Gateway %s to be programmed.", parent)
		c.LastTransitionTime = now
		key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		if old := meta.FindStatusCondition(stored[key], c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		out[i] = *s
	}
	return out
}

// withListenerSetPorts returns g, or a copy of it whose spec lists the accepted
// listeners of its attached ListenerSets too: provisioning exposes the ports of
// spec listeners, and a ListenerSet may add a port the Gateway does not have.
func withListenerSetPorts(g *gatewayv1.Gateway, sets []gatewayv1.ListenerSet) *gatewayv1.Gateway {
	var extra []gatewayv1.Listener
	for i := range sets {
		s := &sets[i]
		ns := s.Namespace
		if p := s.Spec.ParentRef.Namespace; p != nil && *p != "" {
			ns = string(*p)
		}
		if ns != g.Namespace || string(s.Spec.ParentRef.Name) != g.Name ||
			!meta.IsStatusConditionTrue(s.Status.Conditions, string(gatewayv1.ListenerSetConditionAccepted)) {
			continue
		}
		for _, st := range s.Status.Listeners {
			if !meta.IsStatusConditionTrue(st.Conditions, string(gatewayv1.ListenerConditionAccepted)) {
				continue
			}
			for _, e := range s.Spec.Listeners {
				if e.Name == st.Name {
					extra = append(extra, gatewayv1.Listener{Name: e.Name, Port: e.Port, Protocol: e.Protocol})
				}
			}
		}
	}
	if len(extra) == 0 {
		return g
	}
	out := g.DeepCopy()
	out.Spec.Listeners = append(out.Spec.Listeners, extra...)
	return out
}
