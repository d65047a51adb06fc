package translate

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// ruleFilters applies a rule's filters to tmpl. ms are the rule's matches, needed to
// check that ReplacePrefixMatch is only used with PathPrefix matches.
func ruleFilters(filters []gatewayv1.HTTPRouteFilter, ms []model.Match, tmpl *model.Rule) *ruleError {
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i := range filters {
		f := &filters[i]
		if seen[f.Type] && f.Type != gatewayv1.HTTPRouteFilterRequestMirror {
			return unsupported("filters[%d]: filter %s is repeated", i, f.Type)
		}
		seen[f.Type] = true
		var err *ruleError
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestMirror:
			// Resolved by (*translator).ruleMirrors: its backendRef is a reference.
			err = mirrorFraction(f.RequestMirror)
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			tmpl.RequestHeaders, err = headerModifier(f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			tmpl.ResponseHeaders, err = headerModifier(f.ResponseHeaderModifier)
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			tmpl.Redirect, err = redirect(f.RequestRedirect, ms)
		case gatewayv1.HTTPRouteFilterURLRewrite:
			tmpl.Rewrite, err = rewrite(f.URLRewrite, ms)
		case gatewayv1.HTTPRouteFilterCORS:
			tmpl.CORS, err = corsFilter(f.CORS)
		default:
			err = unsupported("filter type %q is not supported", f.Type)
		}
		if err != nil {
			return &ruleError{reason: err.reason, msg: fmt.Sprintf("filters[%d]: %s", i, err.msg)}
		}
	}
	if tmpl.Redirect != nil && tmpl.Rewrite != nil {
		return &ruleError{reason: gatewayv1.RouteReasonIncompatibleFilters,
			msg: "RequestRedirect and URLRewrite filters cannot be combined"}
	}
	return nil
}

// backendFilters converts the filters of one backendRef; only header modifiers
// are supported there.
func backendFilters(filters []gatewayv1.HTTPRouteFilter) (req, resp *model.HeaderModifier, _ *ruleError) {
	seen := map[gatewayv1.HTTPRouteFilterType]bool{}
	for i := range filters {
		f := &filters[i]
		if seen[f.Type] {
			return nil, nil, unsupported("filters[%d]: filter %s is repeated", i, f.Type)
		}
		seen[f.Type] = true
		var err *ruleError
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			req, err = headerModifier(f.RequestHeaderModifier)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			resp, err = headerModifier(f.ResponseHeaderModifier)
		default:
			err = unsupported("filter type %q is not supported on backendRefs", f.Type)
		}
		if err != nil {
			return nil, nil, &ruleError{reason: err.reason, msg: fmt.Sprintf("filters[%d]: %s", i, err.msg)}
		}
	}
	return req, resp, nil
}

// headerModifier converts a header filter. Header names are lower-cased (HTTP
// header names are case-insensitive and HTTP/2 requires lower case); a name may
// appear in only one action.
func headerModifier(f *gatewayv1.HTTPHeaderFilter) (*model.HeaderModifier, *ruleError) {
	if f == nil {
		return nil, unsupported("filter configuration is missing")
	}
	out := &model.HeaderModifier{}
	seen := map[string]bool{}
	use := func(name string) (string, *ruleError) {
		n := strings.ToLower(name)
		if n == "" {
			return "", unsupported("empty header name")
		}
		if seen[n] {
			return "", unsupported("header %q appears in more than one action", n)
		}
		seen[n] = true
		return n, nil
	}
	for _, h := range f.Set {
		n, err := use(string(h.Name))
		if err != nil {
			return nil, err
		}
		out.Set = append(out.Set, model.NameValue{Name: n, Value: h.Value})
	}
	for _, h := range f.Add {
		n, err := use(string(h.Name))
		if err != nil {
			return nil, err
		}
		out.Add = append(out.Add, model.NameValue{Name: n, Value: h.Value})
	}
	for _, name := range f.Remove {
		n, err := use(name)
		if err != nil {
			return nil, err
		}
		out.Remove = append(out.Remove, n)
	}
	return out, nil
}

func redirect(f *gatewayv1.HTTPRequestRedirectFilter, ms []model.Match) (*model.Redirect, *ruleError) {
	if f == nil {
		return nil, unsupported("filter configuration is missing")
	}
	out := &model.Redirect{StatusCode: 302}
	if f.Scheme != nil {
		if *f.Scheme != "http" && *f.Scheme != "https" {
			return nil, unsupported("redirect scheme %q is not supported; use http or https", *f.Scheme)
		}
		out.Scheme = new(*f.Scheme)
	}
	if f.Hostname != nil {
		out.Hostname = new(string(*f.Hostname))
	}
	if f.Port != nil {
		out.Port = new(*f.Port)
	}
	if f.StatusCode != nil {
		switch *f.StatusCode {
		case 301, 302, 303, 307, 308:
			out.StatusCode = *f.StatusCode
		default:
			return nil, unsupported("redirect statusCode %d is not supported", *f.StatusCode)
		}
	}
	if f.Path != nil {
		p, err := pathModifier(f.Path, ms)
		if err != nil {
			return nil, err
		}
		out.Path = p
	}
	return out, nil
}

func rewrite(f *gatewayv1.HTTPURLRewriteFilter, ms []model.Match) (*model.Rewrite, *ruleError) {
	if f == nil {
		return nil, unsupported("filter configuration is missing")
	}
	out := &model.Rewrite{}
	if f.Hostname != nil {
		out.Hostname = new(string(*f.Hostname))
	}
	if f.Path != nil {
		p, err := pathModifier(f.Path, ms)
		if err != nil {
			return nil, err
		}
		out.Path = p
	}
	return out, nil
}

func pathModifier(p *gatewayv1.HTTPPathModifier, ms []model.Match) (*model.PathModifier, *ruleError) {
	switch p.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return nil, unsupported("replaceFullPath is required for type ReplaceFullPath")
		}
		return &model.PathModifier{Type: model.ReplaceFullPath, Value: *p.ReplaceFullPath}, nil
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return nil, unsupported("replacePrefixMatch is required for type ReplacePrefixMatch")
		}
		for _, m := range ms {
			if m.Path.Type != model.PathPrefix {
				return nil, unsupported("ReplacePrefixMatch needs PathPrefix matches only")
			}
		}
		return &model.PathModifier{Type: model.ReplacePrefixMatch, Value: *p.ReplacePrefixMatch}, nil
	}
	return nil, unsupported("path modifier type %q is not supported", p.Type)
}

// ruleTimeouts sets tmpl.Timeouts from the rule's timeouts.
func ruleTimeouts(to *gatewayv1.HTTPRouteTimeouts, tmpl *model.Rule) *ruleError {
	if to == nil || (to.Request == nil && to.BackendRequest == nil) {
		return nil
	}
	out := &model.Timeouts{}
	if to.Request != nil {
		d, err := parseDuration(string(*to.Request))
		if err != nil {
			return unsupported("timeouts.request: %v", err)
		}
		out.RequestMillis = d.Milliseconds()
		out.RequestDisabled = d == 0
	}
	if to.BackendRequest != nil {
		d, err := parseDuration(string(*to.BackendRequest))
		if err != nil {
			return unsupported("timeouts.backendRequest: %v", err)
		}
		out.BackendRequestMillis = d.Milliseconds()
		out.BackendRequestDisabled = d == 0
	}
	if out.RequestMillis > 0 && out.BackendRequestMillis > out.RequestMillis {
		return unsupported("timeouts.backendRequest must not be longer than timeouts.request")
	}
	tmpl.Timeouts = out
	return nil
}

// mirrorShare validates a RequestMirror filter's share (the CRD's rules, for
// objects that did not pass through an API server) and returns it as a fraction;
// neither percent nor fraction means every request.
func mirrorShare(f *gatewayv1.HTTPRequestMirrorFilter) (num, den int32, _ *ruleError) {
	if f == nil {
		return 0, 0, unsupported("filter configuration is missing")
	}
	switch {
	case f.Percent != nil && f.Fraction != nil:
		return 0, 0, unsupported("requestMirror: only one of percent and fraction may be set")
	case f.Percent != nil:
		if *f.Percent < 0 || *f.Percent > 100 {
			return 0, 0, unsupported("requestMirror: percent %d out of range 0-100", *f.Percent)
		}
		return *f.Percent, 100, nil
	case f.Fraction != nil:
		den := int32(100)
		if f.Fraction.Denominator != nil {
			den = *f.Fraction.Denominator
		}
		if den < 1 || f.Fraction.Numerator < 0 || f.Fraction.Numerator > den {
			return 0, 0, unsupported("requestMirror: fraction %d/%d: want 0 <= numerator <= denominator, denominator >= 1", f.Fraction.Numerator, den)
		}
		return f.Fraction.Numerator, den, nil
	}
	return 1, 1, nil
}

// mirrorFraction only validates the share.
func mirrorFraction(f *gatewayv1.HTTPRequestMirrorFilter) *ruleError {
	_, _, err := mirrorShare(f)
	return err
}

// ruleMirrors resolves the RequestMirror filters of a rule of route r. A mirror
// whose backendRef cannot be used is left out (Gateway API: dropped) and reported
// as a ResolvedRefs=False problem like any other backendRef. Shares were checked
// by ruleFilters.
func (t *translator) ruleMirrors(r *gatewayv1.HTTPRoute, filters []gatewayv1.HTTPRouteFilter) ([]model.Mirror, []condition) {
	var out []model.Mirror
	var problems []condition
	for i := range filters {
		f := &filters[i]
		if f.Type != gatewayv1.HTTPRouteFilterRequestMirror || f.RequestMirror == nil {
			continue
		}
		num, den, err := mirrorShare(f.RequestMirror)
		if err != nil {
			continue
		}
		wb, p := t.resolveBackend(r, &gatewayv1.BackendRef{BackendObjectReference: f.RequestMirror.BackendRef})
		if p != nil {
			problems = append(problems, *p)
		}
		if wb.Invalid || wb.Cluster == "" {
			continue
		}
		out = append(out, model.Mirror{Source: wb.Source, Cluster: wb.Cluster, Numerator: num, Denominator: den})
	}
	return out, problems
}
