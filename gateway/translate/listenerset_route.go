package translate

import (
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeParent is what a route parentRef points to: one of our Gateways (its own
// listeners only) or a ListenerSet of one of our Gateways (that set's listeners).
type routeParent struct {
	gs  *gatewayState
	set *listenerSetState // nil for the Gateway itself
}

// listeners are the listeners a route may attach to through this parent.
func (p routeParent) listeners() []*listenerState {
	if p.set != nil {
		return p.set.listeners
	}
	return p.gs.listeners
}

// namespace is the namespace "Same" in a listener's allowedRoutes refers to.
func (p routeParent) namespace() string {
	if p.set != nil {
		return p.set.in.Namespace
	}
	return p.gs.in.Namespace
}

// String names the parent in messages, e.g. "Gateway ns/name".
func (p routeParent) String() string {
	if p.set != nil {
		return fmt.Sprintf("ListenerSet %s", keyOf(p.set.in))
	}
	return fmt.Sprintf("Gateway %s", keyOf(p.gs.in))
}

// notAttachable returns why routes cannot attach to the parent at all (a
// ListenerSet its Gateway did not accept), or "".
func (p routeParent) notAttachable() string {
	if p.set == nil || p.set.accepted() {
		return ""
	}
	return fmt.Sprintf("%s is not attached to Gateway %s; see its status", p, keyOf(p.gs.in))
}

// notExclusiveFor returns why route key may not attach to the parent because
// its Gateway is exclusive to other routes (Extensions.ExclusiveGateways), or "".
// It holds for the Gateway's ListenerSets too.
func (t *translator) notExclusiveFor(p routeParent, key routeKey) string {
	ex := t.idx.ext.exclusive[keyOf(p.gs.in)]
	if ex == nil || (key.Kind == "HTTPRoute" && ex.routes[key.nsName]) {
		return ""
	}
	owner := ex.owner
	if owner == "" {
		owner = "another component"
	}
	return fmt.Sprintf("%s belongs to %s and accepts only its own routes; attach %s %s to a Gateway of your own", p, owner, key.Kind, key.nsName)
}

// routeParentOf returns the Gateway or ListenerSet of ours that ref points to;
// ok is false when ref points to something else (another kind, a missing
// object, another controller's Gateway).
func (t *translator) routeParentOf(r *gatewayv1.HTTPRoute, ref *gatewayv1.ParentReference) (routeParent, bool) {
	group, kind := gatewayv1.GroupName, "Gateway"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if group != gatewayv1.GroupName {
		return routeParent{}, false
	}
	k := nsName{r.Namespace, string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	switch kind {
	case "Gateway":
		gs := t.gateways[k]
		return routeParent{gs: gs}, gs != nil
	case listenerSetKind:
		st := t.listenerSets[k]
		if st == nil {
			return routeParent{}, false
		}
		return routeParent{gs: st.parent, set: st}, true
	}
	return routeParent{}, false
}
