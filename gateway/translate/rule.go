package translate

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// ruleState is one HTTPRoute rule after validation.
type ruleState struct {
	index int
	// invalid is the reason (UnsupportedValue or IncompatibleFilters) and message
	// when the rule cannot be implemented and is dropped.
	invalid *condition
	// rules holds one model rule per match, in match order.
	rules []model.Rule
	// notes are values the rule was accepted with after a change (a clamped
	// retry policy), for the route's Accepted message.
	notes []string
}

// ruleError is a reason and message for a rule that cannot be implemented.
type ruleError struct {
	reason gatewayv1.RouteConditionReason
	msg    string
}

func (e *ruleError) Error() string { return e.msg }

func unsupported(format string, args ...any) *ruleError {
	return &ruleError{reason: gatewayv1.RouteReasonUnsupportedValue, msg: fmt.Sprintf(format, args...)}
}

// buildRule validates rule i of route r and expands it into model rules, one per
// match. Backend problems do not invalidate a rule: they are returned for the
// route's ResolvedRefs condition and the backend's share of traffic answers 500
// (503, gRPC UNAVAILABLE, for a GRPCRoute). convErr, when set, is why a
// GRPCRoute rule has no HTTPRoute equivalent (grpcroute.go).
func (t *translator) buildRule(r *gatewayv1.HTTPRoute, i int, rule *gatewayv1.HTTPRouteRule, convErr *ruleError) (*ruleState, []condition) {
	rs := &ruleState{index: i}
	kind := routeKind(r)
	grpc := kind == grpcRouteKind
	src := model.ObjectRef{Group: gatewayv1.GroupName, Kind: kind, Namespace: r.Namespace, Name: r.Name}
	if rule.Name != nil {
		src.Section = string(*rule.Name)
	}

	// Backends are resolved even for invalid rules so that status reports every
	// broken reference at once.
	tmpl := model.Rule{Source: src, GRPC: grpc}
	ref := load.RuleRef{Namespace: r.Namespace, Name: r.Name, Rule: i}
	// Extensions (Ingress shim) address HTTPRoutes only.
	ext := t.idx.ext
	if grpc {
		ext = extensionIndex{}
	}
	var problems []condition
	var backendErr *ruleError
	for j := range rule.BackendRefs {
		br := &rule.BackendRefs[j]
		wb, p := t.resolveBackend(r, &br.BackendRef)
		if p != nil {
			problems = append(problems, *p)
		}
		if ext := ext.backends[backendKey{ref, j}]; ext != nil {
			wb.Proxy = cloneBackendOptions(ext.Proxy)
		}
		req, resp, err := backendFilters(br.Filters)
		if err != nil && backendErr == nil {
			backendErr = &ruleError{reason: err.reason, msg: fmt.Sprintf("backendRefs[%d]: %s", j, err.msg)}
		}
		wb.RequestHeaders, wb.ResponseHeaders = req, resp
		if wb.Weight > 0 {
			tmpl.Backends = append(tmpl.Backends, wb)
		}
	}

	mirrors, mp := t.ruleMirrors(r, rule.Filters)
	problems = append(problems, mp...)
	tmpl.Mirrors = mirrors

	matches := rule.Matches
	if len(matches) == 0 {
		matches = []gatewayv1.HTTPRouteMatch{{}}
	}
	ms := make([]model.Match, len(matches))
	err := convErr
	if err == nil {
		err = backendErr
	}
	for j := range matches {
		m, e := convertMatch(&matches[j])
		if e != nil && err == nil {
			err = &ruleError{reason: e.reason, msg: fmt.Sprintf("matches[%d]: %s", j, e.msg)}
		}
		ms[j] = m
	}
	if e := ruleFilters(rule.Filters, ms, &tmpl); e != nil && err == nil {
		err = e
	}
	if e := ruleTimeouts(rule.Timeouts, &tmpl); e != nil && err == nil {
		err = e
	}
	notes, e := ruleRetry(rule.Retry, &tmpl)
	if e != nil && err == nil {
		err = e
	}
	var affinity *model.Affinity
	switch {
	case err != nil:
	case rule.SessionPersistence != nil && grpc:
		err = unsupported("sessionPersistence is not supported on GRPCRoutes")
	case rule.SessionPersistence != nil && tmpl.Redirect != nil:
		err = unsupported("sessionPersistence cannot be combined with a RequestRedirect filter")
	case rule.SessionPersistence != nil:
		affinity, err = sessionAffinity(rule.SessionPersistence)
	}
	switch {
	case err != nil:
	case tmpl.Redirect != nil && len(rule.BackendRefs) > 0:
		err = unsupported("a RequestRedirect filter cannot be combined with backendRefs")
	}
	if err != nil {
		c := falseCond(string(gatewayv1.RouteConditionAccepted), string(err.reason), fmt.Sprintf("rule %s: %s", ruleLabel(i, rule), err.msg))
		rs.invalid = &c
		return rs, problems
	}

	direct := 500
	if grpc {
		// gRPC clients read 503 as UNAVAILABLE, which the spec asks for.
		direct = 503
	}
	if ext := ext.rules[ref]; ext != nil {
		tmpl.Proxy = cloneProxyOptions(ext.Proxy)
		bare := tmpl.Redirect == nil && len(rule.BackendRefs) == 0
		if p := tmpl.Proxy; p != nil && p.DoNotForward && (!bare || p.Mruby == "") {
			p.DoNotForward = false
		}
		if tmpl.Proxy != nil && *tmpl.Proxy == (model.ProxyOptions{}) {
			tmpl.Proxy = nil
		}
		if bare && ext.DirectStatus != 0 {
			direct = ext.DirectStatus
			tmpl.DirectBody = ext.DirectBody
		}
	}
	if affinity != nil {
		// An extension's affinity (the Ingress shim's exact cookie settings)
		// is the more specific one.
		if tmpl.Proxy == nil {
			tmpl.Proxy = &model.ProxyOptions{}
		}
		if tmpl.Proxy.Affinity == nil {
			tmpl.Proxy.Affinity = affinity
		}
	}
	switch {
	case tmpl.Proxy != nil && tmpl.Proxy.DoNotForward:
		// The rule's mruby script answers; nothing is forwarded.
	case tmpl.Redirect == nil && !anyValidBackend(tmpl.Backends):
		// No backendRefs, all weights 0, or every backend invalid: answer 500
		// (or the status an extension asks for).
		tmpl.DirectStatus = direct
	}
	for j, m := range ms {
		mr := tmpl
		mr.Name = fmt.Sprintf("%s/%s/%s/rule/%d/match/%d", strings.ToLower(kind), r.Namespace, r.Name, i, j)
		mr.Match = m
		// What the data plane cannot express is rejected here, on this rule,
		// rather than by the renderer for the whole Gateway.
		if e := validate.Rule(&mr); e != nil {
			c := falseCond(string(gatewayv1.RouteConditionAccepted), string(gatewayv1.RouteReasonUnsupportedValue),
				fmt.Sprintf("rule %s: %s", ruleLabel(i, rule), e))
			rs.invalid, rs.rules = &c, nil
			return rs, problems
		}
		rs.rules = append(rs.rules, mr)
	}
	for _, n := range notes {
		rs.notes = append(rs.notes, fmt.Sprintf("rule %s: %s", ruleLabel(i, rule), n))
	}
	return rs, problems
}

func anyValidBackend(bs []model.WeightedBackend) bool {
	for _, b := range bs {
		if !b.Invalid {
			return true
		}
	}
	return false
}

func ruleLabel(i int, rule *gatewayv1.HTTPRouteRule) string {
	if rule.Name != nil {
		return fmt.Sprintf("%d (%s)", i, *rule.Name)
	}
	return fmt.Sprint(i)
}

func convertMatch(m *gatewayv1.HTTPRouteMatch) (model.Match, *ruleError) {
	out := model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/"}}
	if p := m.Path; p != nil {
		typ := gatewayv1.PathMatchPathPrefix
		if p.Type != nil {
			typ = *p.Type
		}
		value := "/"
		if p.Value != nil {
			value = *p.Value
		}
		switch typ {
		case gatewayv1.PathMatchExact:
			out.Path = model.PathMatch{Type: model.PathExact, Value: value}
		case gatewayv1.PathMatchPathPrefix:
			// A trailing "/" does not change what a prefix matches.
			if len(value) > 1 {
				value = strings.TrimRight(value, "/")
				if value == "" {
					value = "/"
				}
			}
			out.Path = model.PathMatch{Type: model.PathPrefix, Value: value}
		default:
			return out, unsupported("path match type %q is not supported; use Exact or PathPrefix", typ)
		}
		if err := validatePath(value); err != nil {
			return out, unsupported("path %q: %s", value, err)
		}
	}
	for _, h := range m.Headers {
		if h.Type != nil && *h.Type != gatewayv1.HeaderMatchExact {
			return out, unsupported("header match type %q is not supported; use Exact", *h.Type)
		}
		name := strings.ToLower(string(h.Name))
		if containsName(out.Headers, name) {
			continue // only the first entry for a name counts
		}
		out.Headers = append(out.Headers, model.NameValue{Name: name, Value: h.Value})
	}
	for _, q := range m.QueryParams {
		if q.Type != nil && *q.Type != gatewayv1.QueryParamMatchExact {
			return out, unsupported("query parameter match type %q is not supported; use Exact", *q.Type)
		}
		if containsName(out.QueryParams, string(q.Name)) {
			continue
		}
		out.QueryParams = append(out.QueryParams, model.NameValue{Name: string(q.Name), Value: q.Value})
	}
	if m.Method != nil {
		switch *m.Method {
		case gatewayv1.HTTPMethodGet, gatewayv1.HTTPMethodHead, gatewayv1.HTTPMethodPost, gatewayv1.HTTPMethodPut,
			gatewayv1.HTTPMethodDelete, gatewayv1.HTTPMethodConnect, gatewayv1.HTTPMethodOptions,
			gatewayv1.HTTPMethodTrace, gatewayv1.HTTPMethodPatch:
			out.Method = string(*m.Method)
		default:
			return out, unsupported("method %q is not supported", *m.Method)
		}
	}
	return out, nil
}

func containsName(nvs []model.NameValue, name string) bool {
	for _, nv := range nvs {
		if nv.Name == name {
			return true
		}
	}
	return false
}

// ValidatePathValue reports whether p is acceptable as an HTTPRoute Exact or
// PathPrefix value (the rules the CRD enforces); the Ingress shim uses it so that
// a path it cannot serve is reported on the Ingress.
func ValidatePathValue(p string) error { return validatePath(p) }

// validatePath applies the rules the CRD enforces on Exact and PathPrefix values,
// for objects that did not pass through an API server.
func validatePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("must start with /")
	}
	for _, bad := range []string{"//", "/./", "/../", "%2f", "%2F", "#"} {
		if strings.Contains(p, bad) {
			return fmt.Errorf("must not contain %q", bad)
		}
	}
	if strings.HasSuffix(p, "/..") || strings.HasSuffix(p, "/.") {
		//lint:ignore ST1005 the trailing dots are the path segments named, not punctuation; the text is in status goldens
		return fmt.Errorf("must not end with /. or /..")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-/._~!$&'()*+,;=:@", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			i += 2
		default:
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
