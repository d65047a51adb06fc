package translate

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// listenerSetKind is the kind of ListenerSet, as routes and ReferenceGrants name it.
const listenerSetKind = "ListenerSet"

// listenerOwner is the object that declares a listener: its Gateway or one of
// the Gateway's ListenerSets. Certificate references are checked from it.
type listenerOwner struct {
	Kind, Namespace string
}

func gatewayOwner(gw *gatewayv1.Gateway) listenerOwner {
	return listenerOwner{Kind: "Gateway", Namespace: gw.Namespace}
}

// listenerSetState is what the translator knows about one ListenerSet whose
// parent is one of our Gateways.
type listenerSetState struct {
	in     *gatewayv1.ListenerSet
	out    *gatewayv1.ListenerSet
	parent *gatewayState
	// rejected is the Accepted=False reason and message of a ListenerSet that is
	// rejected as a whole (not allowed, parent not accepted); its listeners are
	// then not part of the Gateway.
	rejected *condition
	// listeners in spec order; empty when rejected.
	listeners []*listenerState
}

// accepted reports whether the ListenerSet is attached: allowed, its parent
// accepted, and at least one of its listeners can be programmed.
func (s *listenerSetState) accepted() bool {
	if s.rejected != nil {
		return false
	}
	return slices.ContainsFunc(s.listeners, func(l *listenerState) bool { return l.programmable() })
}

// parentGatewayKey returns the Gateway a ListenerSet names as its parent; ok is
// false when the parentRef is not a Gateway.
func parentGatewayKey(s *gatewayv1.ListenerSet) (nsName, bool) {
	ref := s.Spec.ParentRef
	if ref.Group != nil && *ref.Group != gatewayv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return nsName{}, false
	}
	k := nsName{s.Namespace, string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	return k, true
}

// processListenerSets validates the ListenerSets of our Gateways and merges the
// listeners of the allowed ones into their parents: the Gateway's own listeners
// come first, then the ListenerSets by creation time, then by namespace/name. A
// listener that conflicts with one before it is rejected, the earlier one keeps
// its place. Gateways must have been processed.
func (t *translator) processListenerSets() {
	for _, s := range t.idx.listenerSets {
		k, ok := parentGatewayKey(s)
		if !ok {
			continue
		}
		gs := t.gateways[k]
		if gs == nil {
			continue
		}
		st := &listenerSetState{in: s, out: s.DeepCopy(), parent: gs}
		t.listenerSets[keyOf(s)] = st
		gs.listenerSets = append(gs.listenerSets, st)
		if ok, why := t.allowsListenerSet(gs.in, s.Namespace); !ok {
			c := falseCond(string(gatewayv1.ListenerSetConditionAccepted), string(gatewayv1.ListenerSetReasonNotAllowed), why)
			st.rejected = &c
			continue
		}
		if !gs.accepted() {
			c := falseCond(string(gatewayv1.ListenerSetConditionAccepted), string(gatewayv1.ListenerSetReasonParentNotAccepted),
				fmt.Sprintf("the parent Gateway %s is not accepted", keyOf(gs.in)))
			st.rejected = &c
			continue
		}
		owner := listenerOwner{Kind: listenerSetKind, Namespace: s.Namespace}
		for i := range s.Spec.Listeners {
			e := &s.Spec.Listeners[i]
			l := &gatewayv1.Listener{
				Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol,
				TLS: e.TLS, AllowedRoutes: e.AllowedRoutes,
			}
			ls := t.processListenerFor(gs.in, owner, l)
			ls.set = st
			st.listeners = append(st.listeners, ls)
		}
	}
	for _, gs := range t.gateways {
		slices.SortFunc(gs.listenerSets, func(a, b *listenerSetState) int {
			if c := a.in.CreationTimestamp.Time.Compare(b.in.CreationTimestamp.Time); c != 0 {
				return c
			}
			return compareKeys(keyOf(a.in), keyOf(b.in))
		})
		mergeListenerSets(gs)
	}
}

// allowsListenerSet applies the Gateway's spec.allowedListeners (default: none)
// to a ListenerSet in namespace ns; when it is not allowed it says why.
func (t *translator) allowsListenerSet(gw *gatewayv1.Gateway, ns string) (bool, string) {
	from := gatewayv1.NamespacesFromNone
	var sel *metav1.LabelSelector
	if al := gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			from = *al.Namespaces.From
		}
		sel = al.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true, ""
	case gatewayv1.NamespacesFromSame:
		if ns == gw.Namespace {
			return true, ""
		}
		return false, fmt.Sprintf("Gateway %s allows ListenerSets from its own namespace only", keyOf(gw))
	case gatewayv1.NamespacesFromSelector:
		if sel == nil {
			return false, fmt.Sprintf("Gateway %s selects ListenerSet namespaces but has no allowedListeners.namespaces.selector", keyOf(gw))
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false, fmt.Sprintf("Gateway %s has an invalid allowedListeners.namespaces.selector: %v", keyOf(gw), err)
		}
		if s.Matches(t.idx.namespaceLabels(ns)) {
			return true, ""
		}
		return false, fmt.Sprintf("the labels of namespace %s do not match the allowedListeners selector of Gateway %s", ns, keyOf(gw))
	case gatewayv1.NamespacesFromNone:
		return false, fmt.Sprintf("Gateway %s does not allow ListenerSets; set its spec.allowedListeners", keyOf(gw))
	}
	return false, fmt.Sprintf("Gateway %s has an unsupported allowedListeners.namespaces.from %q", keyOf(gw), from)
}

// mergeListenerSets rejects every ListenerSet listener that is not distinct
// from an accepted listener before it: another protocol on the same port
// (ProtocolConflict) or the same protocol, port and hostname (HostnameConflict).
// The check comes before protocol support, so a TCP listener on an HTTP port
// reports the conflict.
func mergeListenerSets(gs *gatewayState) {
	var before []*listenerState
	for _, l := range gs.listeners {
		if l.accepted() {
			before = append(before, l)
		}
	}
	for _, st := range gs.listenerSets {
		for _, l := range st.listeners {
			for _, b := range before {
				if b.spec.Port != l.spec.Port {
					continue
				}
				owner := fmt.Sprintf("listener %s of Gateway %s", b.name(), keyOf(gs.in))
				if b.set != nil {
					owner = fmt.Sprintf("listener %s of ListenerSet %s", b.name(), keyOf(b.set.in))
				}
				if b.spec.Protocol != l.spec.Protocol {
					l.conflict = string(gatewayv1.ListenerReasonProtocolConflict)
					l.conflictMsg = fmt.Sprintf("port %d is already used with protocol %s by %s", l.spec.Port, b.spec.Protocol, owner)
					break
				}
				if b.hostname == l.hostname {
					hn := l.hostname
					if hn == "" {
						hn = "(any)"
					}
					l.conflict = string(gatewayv1.ListenerReasonHostnameConflict)
					l.conflictMsg = fmt.Sprintf("port %d and hostname %s are already used by %s", l.spec.Port, hn, owner)
					break
				}
			}
			if l.accepted() {
				before = append(before, l)
			}
		}
	}
}

// attachedListenerSets returns the accepted ListenerSets of gs in precedence order.
func (gs *gatewayState) attachedListenerSets() []*listenerSetState {
	var out []*listenerSetState
	for _, st := range gs.listenerSets {
		if st.accepted() {
			out = append(out, st)
		}
	}
	return out
}

// mergedListeners returns the Gateway's own listeners followed by those of its
// accepted ListenerSets, in precedence order: what the data plane serves.
func (gs *gatewayState) mergedListeners() []*listenerState {
	out := slices.Clone(gs.listeners)
	for _, st := range gs.attachedListenerSets() {
		out = append(out, st.listeners...)
	}
	return out
}

// listenerSetProgrammable counts the programmable listeners the accepted
// ListenerSets of gs add.
func (gs *gatewayState) listenerSetProgrammable() int {
	n := 0
	for _, st := range gs.attachedListenerSets() {
		for _, l := range st.listeners {
			if l.programmable() {
				n++
			}
		}
	}
	return n
}

// attachedListenerSetCount is the Gateway's status.attachedListenerSets: nil for
// a Gateway that allows no ListenerSets and never had one attached, so other
// Gateways' status is unchanged.
func (gs *gatewayState) attachedListenerSetCount() *int32 {
	n := int32(len(gs.attachedListenerSets()))
	if n == 0 && gs.in.Spec.AllowedListeners == nil && gs.in.Status.AttachedListenerSets == nil {
		return nil
	}
	return &n
}

// listenerSource is the model source of a listener: its Gateway or ListenerSet.
func listenerSource(g *gatewayv1.Gateway, l *listenerState) model.ObjectRef {
	if l.set != nil {
		return model.ObjectRef{Group: gatewayv1.GroupName, Kind: listenerSetKind, Namespace: l.set.in.Namespace, Name: l.set.in.Name, Section: l.name()}
	}
	return model.ObjectRef{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: g.Namespace, Name: g.Name, Section: l.name()}
}

// finishListenerSets writes the status of every ListenerSet of our Gateways,
// sorted by namespace/name. Routes must have attached and Gateways finished.
func (t *translator) finishListenerSets() []gatewayv1.ListenerSet {
	var out []gatewayv1.ListenerSet
	for _, s := range t.idx.listenerSets {
		st := t.listenerSets[keyOf(s)]
		if st == nil {
			continue
		}
		t.finishListenerSet(st)
		out = append(out, *st.out)
	}
	return out
}

func (t *translator) finishListenerSet(st *listenerSetState) {
	in, out := st.in, st.out
	gwAccepted := st.parent.accepted()
	old := map[gatewayv1.SectionName][]metav1.Condition{}
	for _, l := range in.Status.Listeners {
		if _, ok := old[l.Name]; !ok {
			old[l.Name] = l.Conditions
		}
	}
	out.Status.Listeners = nil
	var notValid []string
	for _, l := range st.listeners {
		out.Status.Listeners = append(out.Status.Listeners, gatewayv1.ListenerEntryStatus{
			Name:           l.spec.Name,
			SupportedKinds: l.supportedKinds,
			AttachedRoutes: int32(len(l.attachedRoutes)),
			Conditions:     mergeConditions(old[l.spec.Name], l.entryConditions(gwAccepted), listenerConditionTypes(), in.Generation, t.opts.Now),
		})
		if !l.programmable() || len(l.refProblems) > 0 {
			notValid = append(notValid, l.name())
		}
	}

	accepted, programmed := string(gatewayv1.ListenerSetConditionAccepted), string(gatewayv1.ListenerSetConditionProgrammed)
	var conds []condition
	switch {
	case st.rejected != nil:
		conds = append(conds, *st.rejected, falseCond(programmed, st.rejected.Reason, st.rejected.Message))
	case !st.accepted():
		msg := fmt.Sprintf("no listener is valid: %s", strings.Join(notValid, ", "))
		conds = append(conds, falseCond(accepted, string(gatewayv1.ListenerSetReasonListenersNotValid), msg),
			falseCond(programmed, string(gatewayv1.ListenerSetReasonListenersNotValid), msg))
	default:
		if len(notValid) > 0 {
			conds = append(conds, trueCond(accepted, string(gatewayv1.ListenerSetReasonListenersNotValid),
				fmt.Sprintf("ListenerSet is accepted, but these listeners are not valid: %s", strings.Join(notValid, ", "))))
		} else {
			conds = append(conds, trueCond(accepted, string(gatewayv1.ListenerSetReasonAccepted), "ListenerSet is accepted"))
		}
		if p := st.parent.addressProblem; p != nil {
			conds = append(conds, falseCond(programmed, "ParentNotProgrammed",
				fmt.Sprintf("the parent Gateway %s is not programmed: %s", keyOf(st.parent.in), p.Message)))
		} else {
			conds = append(conds, trueCond(programmed, string(gatewayv1.ListenerSetReasonProgrammed), "ListenerSet is programmed"))
		}
	}
	out.Status.Conditions = mergeConditions(in.Status.Conditions, conds, []string{accepted, programmed}, in.Generation, t.opts.Now)
}

// entryConditions are the conditions of a ListenerSet listener: those of a
// Gateway listener, except that a conflicted one is neither Accepted nor
// Programmed for the reason of its conflict, which comes first (a TCP listener
// on an HTTP port is a ProtocolConflict, not an unsupported protocol).
func (l *listenerState) entryConditions(gwAccepted bool) []condition {
	conds := l.conditions(gwAccepted)
	if l.conflict == "" {
		return conds
	}
	for i := range conds {
		switch conds[i].Type {
		case string(gatewayv1.ListenerConditionAccepted), string(gatewayv1.ListenerConditionProgrammed):
			conds[i] = falseCond(conds[i].Type, l.conflict, l.conflictMsg)
		}
	}
	return conds
}
