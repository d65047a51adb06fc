package translate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
)

// routeState is one HTTPRoute, or a GRPCRoute seen as one (grpcroute.go),
// after its rules and backends are resolved.
type routeState struct {
	in  *gatewayv1.HTTPRoute
	key routeKey
	// sortKey is "namespace/name", the tie-breaker across routes.
	sortKey   string
	hostnames []string
	// badHostname says why a hostname cannot be served ("" when all can): the
	// route is then not accepted.
	badHostname string
	rules       []*ruleState
	// resolvedRefs is the route's ResolvedRefs condition (same for every parent).
	resolvedRefs condition
}

func (rs *routeState) validRules() int {
	n := 0
	for _, r := range rs.rules {
		if r.invalid == nil {
			n++
		}
	}
	return n
}

// processRoute computes the route's status entries for our Gateways and attaches
// it to their listeners. It returns nil when the route concerns none of our
// Gateways and carries no status entry of ours.
func (t *translator) processRoute(r *gatewayv1.HTTPRoute, convErrs []*ruleError) *gatewayv1.HTTPRoute {
	type parent struct {
		ref    *gatewayv1.ParentReference
		target routeParent
	}
	var parents []parent
	for i := range r.Spec.ParentRefs {
		ref := &r.Spec.ParentRefs[i]
		if p, ok := t.routeParentOf(r, ref); ok {
			parents = append(parents, parent{ref, p})
		}
	}
	ours := func(ps gatewayv1.RouteParentStatus) bool { return string(ps.ControllerName) == t.opts.ControllerName }
	if len(parents) == 0 && !slices.ContainsFunc(r.Status.Parents, ours) {
		return nil
	}
	out := r.DeepCopy()
	var statuses []gatewayv1.RouteParentStatus
	for _, ps := range out.Status.Parents {
		if !ours(ps) {
			statuses = append(statuses, ps)
		}
	}
	if len(parents) > 0 {
		rs := t.buildRoute(r, convErrs)
		for _, p := range parents {
			conds := t.attach(rs, p.ref, p.target)
			var old []metav1.Condition
			for _, ps := range r.Status.Parents {
				if ours(ps) && reflect.DeepEqual(ps.ParentRef, *p.ref) {
					old = ps.Conditions
				}
			}
			statuses = append(statuses, gatewayv1.RouteParentStatus{
				ParentRef:      *p.ref.DeepCopy(),
				ControllerName: gatewayv1.GatewayController(t.opts.ControllerName),
				Conditions:     mergeConditions(old, conds, routeConditionTypes(), r.Generation, t.opts.Now),
			})
		}
	}
	if statuses == nil {
		statuses = []gatewayv1.RouteParentStatus{}
	}
	out.Status.Parents = statuses
	return out
}

func routeConditionTypes() []string {
	return []string{
		string(gatewayv1.RouteConditionAccepted),
		string(gatewayv1.RouteConditionResolvedRefs),
		string(gatewayv1.RouteConditionPartiallyInvalid),
	}
}

// buildRoute validates the route's rules and resolves its backends once; the
// result is shared by all its parents. convErrs[i], when set, is why rule i of a
// GRPCRoute has no HTTPRoute equivalent.
func (t *translator) buildRoute(r *gatewayv1.HTTPRoute, convErrs []*ruleError) *routeState {
	rs := &routeState{in: r, key: routeKeyOf(r), sortKey: r.Namespace + "/" + r.Name}
	for _, h := range r.Spec.Hostnames {
		if s := string(h); !slices.Contains(rs.hostnames, s) {
			rs.hostnames = append(rs.hostnames, s)
			if err := validate.Hostname(s, true); err != nil && rs.badHostname == "" {
				rs.badHostname = "spec.hostnames: " + err.Error()
			}
		}
	}
	rules := r.Spec.Rules
	if len(rules) == 0 {
		// The CRD default: one rule matching every request, without backends.
		rules = []gatewayv1.HTTPRouteRule{{}}
	}
	var problems []condition
	for i := range rules {
		var convErr *ruleError
		if i < len(convErrs) {
			convErr = convErrs[i]
		}
		rule, p := t.buildRule(r, i, &rules[i], convErr)
		rs.rules = append(rs.rules, rule)
		problems = append(problems, p...)
	}
	if len(problems) == 0 {
		rs.resolvedRefs = trueCond(string(gatewayv1.RouteConditionResolvedRefs),
			string(gatewayv1.RouteReasonResolvedRefs), "All references are resolved")
	} else {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Message
		}
		rs.resolvedRefs = falseCond(string(gatewayv1.RouteConditionResolvedRefs), problems[0].Reason, joinMessages(msgs))
	}
	return rs
}

// attach decides whether the route attaches to parent through ref, records the
// attachment on the listeners, and returns the parent's status conditions.
func (t *translator) attach(rs *routeState, ref *gatewayv1.ParentReference, parent routeParent) []condition {
	accepted := func(status bool, reason gatewayv1.RouteConditionReason, msg string) []condition {
		c := falseCond(string(gatewayv1.RouteConditionAccepted), string(reason), msg)
		if status {
			c = trueCond(string(gatewayv1.RouteConditionAccepted), string(reason), msg)
		}
		return []condition{c, rs.resolvedRefs}
	}

	if why := parent.notAttachable(); why != "" {
		return accepted(false, gatewayv1.RouteReasonNoMatchingParent, why)
	}
	if why := t.notExclusiveFor(parent, rs.key); why != "" {
		return accepted(false, gatewayv1.RouteReasonNotAllowedByListeners, why)
	}
	if rs.badHostname != "" {
		return accepted(false, gatewayv1.RouteReasonUnsupportedValue, rs.badHostname)
	}
	var candidates []*listenerState
	for _, l := range parent.listeners() {
		if ref.SectionName != nil && *ref.SectionName != "" && l.spec.Name != *ref.SectionName {
			continue
		}
		if ref.Port != nil && *ref.Port != 0 && l.spec.Port != *ref.Port {
			continue
		}
		candidates = append(candidates, l)
	}
	if len(candidates) == 0 {
		return accepted(false, gatewayv1.RouteReasonNoMatchingParent,
			fmt.Sprintf("%s has no listener%s", parent, describeParentRef(ref)))
	}
	var allowed []*listenerState
	for _, l := range candidates {
		if l.allowsKind(rs.key.Kind) && t.allowsNamespace(l, parent.namespace(), rs.in.Namespace) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return accepted(false, gatewayv1.RouteReasonNotAllowedByListeners,
			fmt.Sprintf("no listener of %s%s allows %ss from namespace %s", parent, describeParentRef(ref), rs.key.Kind, rs.in.Namespace))
	}
	type match struct {
		l     *listenerState
		hosts []string
	}
	var matched []match
	for _, l := range allowed {
		if hs := effectiveHostnames(l.hostname, rs.hostnames); len(hs) > 0 {
			matched = append(matched, match{l, hs})
		}
	}
	if len(matched) == 0 {
		return accepted(false, gatewayv1.RouteReasonNoMatchingListenerHostname,
			fmt.Sprintf("no hostname of the route matches a listener of %s%s", parent, describeParentRef(ref)))
	}
	// An HTTPRoute and a GRPCRoute may not share a hostname on a listener: the
	// one attached first (routes attach oldest first) keeps it.
	var kept []match
	var conflicts []string
	for _, m := range matched {
		if other := kindConflict(m.l, rs, m.hosts); other != "" {
			conflicts = append(conflicts, fmt.Sprintf("listener %s: %s", m.l.name(), other))
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		return accepted(false, gatewayv1.RouteReasonNotAllowedByListeners,
			fmt.Sprintf("the route's hostnames on %s%s are taken by a route of the other kind, which is older or first by namespace/name (%s); use other hostnames",
				parent, describeParentRef(ref), joinMessages(conflicts)))
	}
	matched = kept
	valid := rs.validRules()
	var invalid []string
	for _, r := range rs.rules {
		if r.invalid != nil {
			invalid = append(invalid, r.invalid.Message)
		}
	}
	if valid == 0 {
		first := rs.rules[0].invalid
		return accepted(false, gatewayv1.RouteConditionReason(first.Reason), "no rule can be implemented: "+joinMessages(invalid))
	}
	for _, m := range matched {
		m.l.attachedRoutes[rs.key] = true
		if a := findAttachment(m.l, rs); a != nil {
			for _, h := range m.hosts {
				if !slices.Contains(a.hostnames, h) {
					a.hostnames = append(a.hostnames, h)
				}
			}
			continue
		}
		m.l.attachments = append(m.l.attachments, &attachment{route: rs, hostnames: m.hosts})
	}
	msg := "Route is accepted"
	for _, r := range rs.rules {
		if r.invalid == nil && len(r.notes) > 0 {
			msg += "; " + strings.Join(r.notes, "; ")
		}
	}
	conds := accepted(true, gatewayv1.RouteReasonAccepted, msg)
	if len(invalid) > 0 {
		conds = append(conds, trueCond(string(gatewayv1.RouteConditionPartiallyInvalid),
			string(gatewayv1.RouteReasonUnsupportedValue), "Dropped Rule(s): "+joinMessages(invalid)))
	}
	return conds
}

func findAttachment(l *listenerState, rs *routeState) *attachment {
	for _, a := range l.attachments {
		if a.route == rs {
			return a
		}
	}
	return nil
}

func describeParentRef(ref *gatewayv1.ParentReference) string {
	var parts []string
	if ref.SectionName != nil && *ref.SectionName != "" {
		parts = append(parts, fmt.Sprintf("named %s", *ref.SectionName))
	}
	if ref.Port != nil && *ref.Port != 0 {
		parts = append(parts, fmt.Sprintf("on port %d", *ref.Port))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}
