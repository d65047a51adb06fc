package translate

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A GRPCRoute is translated as the HTTPRoute it is equivalent to (its shadow):
// a method match is a path match on /<service>/<method>, header matches,
// header filters and backendRefs carry over as they are. The shadow's TypeMeta
// kind stays GRPCRoute so that the shared code (ReferenceGrants, rule names,
// backend protocol, status messages) knows what it is handling; its status is
// copied back onto the GRPCRoute.
const grpcRouteKind = "GRPCRoute"

// routeKey identifies a route of either kind: an HTTPRoute and a GRPCRoute may
// share a namespace and name.
type routeKey struct {
	Kind string
	nsName
}

// routeKind is "GRPCRoute" for a GRPCRoute's shadow, else "HTTPRoute" (objects
// from informers carry no kind).
func routeKind(r *gatewayv1.HTTPRoute) string {
	if r.Kind == grpcRouteKind {
		return grpcRouteKind
	}
	return "HTTPRoute"
}

func routeKeyOf(r *gatewayv1.HTTPRoute) routeKey {
	return routeKey{Kind: routeKind(r), nsName: keyOf(r)}
}

// pendingRoute is one route to process: an HTTPRoute, or a GRPCRoute with its
// shadow and the reasons its rules have no HTTPRoute equivalent.
type pendingRoute struct {
	http     *gatewayv1.HTTPRoute
	grpc     *gatewayv1.GRPCRoute
	convErrs []*ruleError
}

// processRoutes attaches every route, oldest first (then by namespace/name,
// HTTPRoutes before GRPCRoutes): where an HTTPRoute and a GRPCRoute share a
// hostname on a listener, the spec keeps the older one, which has then
// attached already. Results are sorted by namespace/name.
func (t *translator) processRoutes() ([]gatewayv1.HTTPRoute, []gatewayv1.GRPCRoute) {
	var all []pendingRoute
	for _, r := range t.idx.routes {
		all = append(all, pendingRoute{http: r})
	}
	for _, g := range t.idx.grpcRoutes {
		shadow, errs := grpcShadow(g)
		all = append(all, pendingRoute{http: shadow, grpc: g, convErrs: errs})
	}
	slices.SortStableFunc(all, func(a, b pendingRoute) int {
		if c := a.http.CreationTimestamp.Time.Compare(b.http.CreationTimestamp.Time); c != 0 {
			return c
		}
		if c := compareKeys(keyOf(a.http), keyOf(b.http)); c != 0 {
			return c
		}
		return cmp.Compare(grpcRank(a), grpcRank(b))
	})
	var https []gatewayv1.HTTPRoute
	var grpcs []gatewayv1.GRPCRoute
	for _, p := range all {
		out := t.processRoute(p.http, p.convErrs)
		if out == nil {
			continue
		}
		if p.grpc == nil {
			https = append(https, *out)
			continue
		}
		g := p.grpc.DeepCopy()
		g.Status.RouteStatus = out.Status.RouteStatus
		grpcs = append(grpcs, *g)
	}
	slices.SortFunc(https, func(a, b gatewayv1.HTTPRoute) int { return compareKeys(keyOf(&a), keyOf(&b)) })
	slices.SortFunc(grpcs, func(a, b gatewayv1.GRPCRoute) int { return compareKeys(keyOf(&a), keyOf(&b)) })
	return https, grpcs
}

func grpcRank(p pendingRoute) int {
	if p.grpc != nil {
		return 1
	}
	return 0
}

// kindConflict returns why rs may not attach to l under hosts: a route of the
// other kind attached there first with an intersecting hostname ("" if none).
func kindConflict(l *listenerState, rs *routeState, hosts []string) string {
	for _, a := range l.attachments {
		if a.route.key.Kind == rs.key.Kind {
			continue
		}
		for _, h := range hosts {
			for _, o := range a.hostnames {
				if _, ok := intersectHostname(h, o); ok {
					shown := h
					if shown == "" {
						shown = "(any)"
					}
					return fmt.Sprintf("%s %s serves hostname %s", a.route.key.Kind, a.route.key.nsName, shown)
				}
			}
		}
	}
	return ""
}

// The CRD's patterns for Exact service and method names; objects read from
// files have not been through it, and the values end up in a path.
var (
	grpcServicePattern = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// grpcShadow returns the HTTPRoute equivalent of g and, per rule, why the rule
// has none (nil entries when it has).
func grpcShadow(g *gatewayv1.GRPCRoute) (*gatewayv1.HTTPRoute, []*ruleError) {
	r := &gatewayv1.HTTPRoute{ObjectMeta: *g.ObjectMeta.DeepCopy()}
	r.APIVersion, r.Kind = gatewayv1.GroupVersion.String(), grpcRouteKind
	r.Spec.CommonRouteSpec = *g.Spec.CommonRouteSpec.DeepCopy()
	r.Spec.Hostnames = slices.Clone(g.Spec.Hostnames)
	r.Status.RouteStatus = *g.Status.RouteStatus.DeepCopy()
	errs := make([]*ruleError, len(g.Spec.Rules))
	for i := range g.Spec.Rules {
		var rule gatewayv1.HTTPRouteRule
		rule, errs[i] = grpcRule(&g.Spec.Rules[i])
		r.Spec.Rules = append(r.Spec.Rules, rule)
	}
	return r, errs
}

func grpcRule(in *gatewayv1.GRPCRouteRule) (gatewayv1.HTTPRouteRule, *ruleError) {
	out := gatewayv1.HTTPRouteRule{Name: in.Name, SessionPersistence: in.SessionPersistence.DeepCopy()}
	var first *ruleError
	keep := func(e *ruleError) {
		if e != nil && first == nil {
			first = e
		}
	}
	for j := range in.Matches {
		m, err := grpcMatch(&in.Matches[j])
		if err != nil {
			keep(&ruleError{reason: err.reason, msg: fmt.Sprintf("matches[%d]: %s", j, err.msg)})
		}
		out.Matches = append(out.Matches, m)
	}
	fs, err := grpcFilters(in.Filters)
	if err != nil {
		keep(&ruleError{reason: err.reason, msg: err.msg})
	}
	out.Filters = fs
	for j := range in.BackendRefs {
		br := &in.BackendRefs[j]
		fs, err := grpcFilters(br.Filters)
		if err != nil {
			keep(&ruleError{reason: err.reason, msg: fmt.Sprintf("backendRefs[%d]: %s", j, err.msg)})
		}
		out.BackendRefs = append(out.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: *br.BackendRef.DeepCopy(), Filters: fs})
	}
	return out, first
}

// grpcMatch maps a method match onto a path match: service and method to the
// exact path /service/method, a service alone to the prefix /service (which
// covers /service/<any method>). A method without a service, and regular
// expressions, would need a pattern match the data plane cannot do (its mruby
// has no Regexp): such rules are reported unsupported.
func grpcMatch(m *gatewayv1.GRPCRouteMatch) (gatewayv1.HTTPRouteMatch, *ruleError) {
	var out gatewayv1.HTTPRouteMatch
	for _, h := range m.Headers {
		hm := gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Value}
		if h.Type != nil {
			hm.Type = new(gatewayv1.HeaderMatchType(*h.Type))
		}
		out.Headers = append(out.Headers, hm)
	}
	mm := m.Method
	if mm == nil {
		return out, nil
	}
	if mm.Type != nil && *mm.Type != gatewayv1.GRPCMethodMatchExact {
		return out, unsupported("method match type %q is not supported; use Exact", *mm.Type)
	}
	service, method := deref(mm.Service), deref(mm.Method)
	switch {
	case service == "" && method == "":
		return out, unsupported("a method match needs a service, a method or both")
	case service == "":
		return out, unsupported("a method match without a service is not supported; name the service too")
	case !grpcServicePattern.MatchString(service):
		return out, unsupported("service %q is not a valid gRPC service name", service)
	case method != "" && !grpcMethodPattern.MatchString(method):
		return out, unsupported("method %q is not a valid gRPC method name", method)
	}
	path := "/" + service
	typ := gatewayv1.PathMatchPathPrefix
	if method != "" {
		path += "/" + method
		typ = gatewayv1.PathMatchExact
	}
	out.Path = &gatewayv1.HTTPPathMatch{Type: &typ, Value: &path}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// grpcFilters maps GRPCRoute filters onto HTTPRoute filters: header modifiers
// only (checked again by ruleFilters and backendFilters). RequestMirror is
// not offered for gRPC: a mirrored stream would need its own h2 tee.
func grpcFilters(in []gatewayv1.GRPCRouteFilter) ([]gatewayv1.HTTPRouteFilter, *ruleError) {
	var out []gatewayv1.HTTPRouteFilter
	for i := range in {
		f := &in[i]
		switch f.Type {
		case gatewayv1.GRPCRouteFilterRequestHeaderModifier:
			out = append(out, gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
				RequestHeaderModifier: f.RequestHeaderModifier.DeepCopy()})
		case gatewayv1.GRPCRouteFilterResponseHeaderModifier:
			out = append(out, gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
				ResponseHeaderModifier: f.ResponseHeaderModifier.DeepCopy()})
		default:
			return out, unsupported("filters[%d]: filter type %q is not supported on GRPCRoutes", i, f.Type)
		}
	}
	return out, nil
}
