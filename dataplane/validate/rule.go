package validate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Rule checks everything of one model rule that the renderer writes: matches,
// filters, timeouts, retry, CORS, mirrors shares, the Ingress settings and every
// backend's header modifiers and options. It does not check references (clusters),
// which only the whole Gateway knows. The error says which part and why.
func Rule(r *model.Rule) error {
	if err := Match(r.Match); err != nil {
		return err
	}
	if err := HeaderModifier(r.RequestHeaders); err != nil {
		return fmt.Errorf("request header modifier: %w", err)
	}
	if err := HeaderModifier(r.ResponseHeaders); err != nil {
		return fmt.Errorf("response header modifier: %w", err)
	}
	if r.Redirect != nil && r.Rewrite != nil {
		return fmt.Errorf("redirect and rewrite on one rule")
	}
	if r.CORS != nil {
		if err := CORS(r.CORS); err != nil {
			return fmt.Errorf("cors: %w", err)
		}
	}
	if r.Redirect != nil {
		if err := redirect(r.Redirect, r.Match); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
	}
	if r.Rewrite != nil {
		if h := r.Rewrite.Hostname; h != nil {
			if err := Hostname(*h, false); err != nil {
				return fmt.Errorf("rewrite: %w", err)
			}
		}
		if pm := r.Rewrite.Path; pm != nil {
			if err := PathModifier(pm, r.Match); err != nil {
				return fmt.Errorf("rewrite: %w", err)
			}
		}
	}
	if r.DirectStatus != 0 && (r.DirectStatus < 200 || r.DirectStatus > 599) {
		return fmt.Errorf("direct status %d out of range 200-599", r.DirectStatus)
	}
	if len(r.DirectBody) > MaxStringLen {
		return fmt.Errorf("direct body longer than %d bytes", MaxStringLen)
	}
	if err := Timeouts(r.Timeouts); err != nil {
		return err
	}
	if err := Proxy(r.Proxy); err != nil {
		return err
	}
	for i, wb := range r.Backends {
		if wb.Weight < 0 || wb.Weight > MaxWeight {
			return fmt.Errorf("backend %d: weight %d out of range 0-%d", i, wb.Weight, MaxWeight)
		}
		if err := HeaderModifier(wb.RequestHeaders); err != nil {
			return fmt.Errorf("backend %d: request header modifier: %w", i, err)
		}
		if err := HeaderModifier(wb.ResponseHeaders); err != nil {
			return fmt.Errorf("backend %d: response header modifier: %w", i, err)
		}
		if err := BackendOptions(wb.Proxy); err != nil {
			return fmt.Errorf("backend %d: %w", i, err)
		}
	}
	if err := Retry(r.Retry); err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	for i, m := range r.Mirrors {
		if m.Denominator < 1 || m.Numerator < 0 || m.Numerator > m.Denominator {
			return fmt.Errorf("mirror %d: share %d/%d invalid", i, m.Numerator, m.Denominator)
		}
	}
	return nil
}

// Match checks a rule's match.
func Match(m model.Match) error {
	switch m.Path.Type {
	case model.PathExact, model.PathPrefix:
		if err := Path(m.Path.Value, "?"); err != nil {
			return fmt.Errorf("path match: %w", err)
		}
	default:
		return fmt.Errorf("path match type %q not supported", m.Path.Type)
	}
	if m.Method != "" {
		if err := Method(m.Method); err != nil {
			return err
		}
	}
	for _, nv := range m.Headers {
		n, err := HeaderName(nv.Name)
		if err != nil {
			return fmt.Errorf("header match: %w", err)
		}
		if err := HeaderValue(nv.Value); err != nil {
			return fmt.Errorf("header match %s: %w", n, err)
		}
	}
	for _, nv := range m.QueryParams {
		if err := QueryPart(true, nv.Name); err != nil {
			return err
		}
		if err := QueryPart(false, nv.Value); err != nil {
			return err
		}
	}
	return nil
}

// HeaderModifier checks the names and values of a header filter (nil is fine).
func HeaderModifier(m *model.HeaderModifier) error {
	if m == nil {
		return nil
	}
	for _, nvs := range [][]model.NameValue{m.Set, m.Add} {
		for _, nv := range nvs {
			n, err := HeaderName(nv.Name)
			if err != nil {
				return err
			}
			if err := HeaderValue(nv.Value); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
		}
	}
	for _, n := range m.Remove {
		if _, err := HeaderName(n); err != nil {
			return err
		}
	}
	return nil
}

// PathModifier checks a redirect's or rewrite's path against the rule's match.
func PathModifier(pm *model.PathModifier, m model.Match) error {
	switch pm.Type {
	case model.ReplaceFullPath:
		return Path(pm.Value, "?")
	case model.ReplacePrefixMatch:
		if m.Path.Type != model.PathPrefix {
			return fmt.Errorf("ReplacePrefixMatch needs a PathPrefix match, rule has %q", m.Path.Type)
		}
		if pm.Value != "" {
			return Path(pm.Value, "?")
		}
		return nil
	}
	return fmt.Errorf("path modifier type %q not supported", pm.Type)
}

func redirect(rd *model.Redirect, m model.Match) error {
	if s := rd.Scheme; s != nil && *s != "http" && *s != "https" {
		return fmt.Errorf("scheme %q not supported", *s)
	}
	if rd.Port != nil {
		if err := Port(*rd.Port); err != nil {
			return err
		}
	}
	if rd.Hostname != nil {
		if err := Hostname(*rd.Hostname, false); err != nil {
			return err
		}
	}
	if rd.Path != nil {
		if err := PathModifier(rd.Path, m); err != nil {
			return err
		}
	}
	switch rd.StatusCode {
	case 0, 301, 302, 303, 307, 308:
		return nil
	}
	return fmt.Errorf("status code %d not supported", rd.StatusCode)
}

// Timeouts checks the one backend read timeout nghttpx gets from a rule: the
// stricter of request and backendRequest.
func Timeouts(t *model.Timeouts) error {
	if t == nil {
		return nil
	}
	if t.RequestMillis < 0 || t.BackendRequestMillis < 0 {
		return fmt.Errorf("negative timeout")
	}
	ms := t.RequestMillis
	if b := t.BackendRequestMillis; b != 0 && (ms == 0 || b < ms) {
		ms = b
	}
	return TimeoutMillis("timeout", ms)
}

// Proxy checks a rule's nghttpx settings (Ingress path-config).
func Proxy(po *model.ProxyOptions) error {
	if po == nil {
		return nil
	}
	if err := TimeoutMillis("read timeout", po.ReadTimeoutMillis); err != nil {
		return err
	}
	if err := TimeoutMillis("write timeout", po.WriteTimeoutMillis); err != nil {
		return err
	}
	a := po.Affinity
	if a == nil {
		return nil
	}
	switch a.Type {
	case model.AffinityIP:
		return nil
	case model.AffinityCookie:
	default:
		return fmt.Errorf("affinity type %q not supported", a.Type)
	}
	if err := CookieName(a.CookieName); err != nil {
		return fmt.Errorf("affinity: %w", err)
	}
	if a.CookiePath != "" {
		if err := CookiePath(a.CookiePath); err != nil {
			return fmt.Errorf("affinity cookie path: %w", err)
		}
	}
	switch a.CookieSecure {
	case "", "auto", "yes", "no":
	default:
		return fmt.Errorf("affinity cookie secure %q: want auto, yes or no", a.CookieSecure)
	}
	switch a.CookieStickiness {
	case "", "loose", "strict":
	default:
		return fmt.Errorf("affinity cookie stickiness %q: want loose or strict", a.CookieStickiness)
	}
	return nil
}

// BackendOptions checks a backend's nghttpx connection settings.
func BackendOptions(bo *model.BackendOptions) error {
	if bo == nil {
		return nil
	}
	switch bo.Protocol {
	case "", model.BackendH2C, model.BackendHTTP1:
	default:
		return fmt.Errorf("backend protocol %q not supported", bo.Protocol)
	}
	if bo.TLS && bo.SNI != "" {
		if err := Hostname(bo.SNI, false); err != nil {
			return fmt.Errorf("backend SNI: %w", err)
		}
	}
	return nil
}

// Retry checks a retry policy against the bounds (the translator clamps first).
func Retry(rt *model.Retry) error {
	if rt == nil {
		return nil
	}
	if rt.Attempts < 0 || rt.Attempts > MaxRetryAttempts {
		return fmt.Errorf("attempts %d out of range 0-%d", rt.Attempts, MaxRetryAttempts)
	}
	if rt.BackoffMillis < 0 || rt.BackoffMillis > MaxRetryBackoffMillis {
		return fmt.Errorf("backoff %d ms out of range 0-%d", rt.BackoffMillis, MaxRetryBackoffMillis)
	}
	for _, c := range rt.Codes {
		if c < 400 || c > 599 {
			return fmt.Errorf("status code %d out of range 400-599", c)
		}
	}
	return nil
}

// CORS checks a CORS policy as the router's table carries it.
func CORS(c *model.CORS) error {
	if c.AllowAnyOrigin && len(c.AllowOrigins) > 0 {
		return fmt.Errorf("any origin together with a list of origins")
	}
	for _, o := range c.AllowOrigins {
		if err := CORSOrigin(o); err != nil {
			return err
		}
	}
	if err := corsList("allowMethods", c.AllowMethods, Method); err != nil {
		return err
	}
	token := func(n string) error { return Token("name", n) }
	if err := corsList("allowHeaders", c.AllowHeaders, token); err != nil {
		return err
	}
	if c.MaxAgeSeconds < 1 {
		return fmt.Errorf("maxAge %d must be at least 1", c.MaxAgeSeconds)
	}
	var names []string
	for _, n := range c.ExposeHeaders {
		if n == "*" {
			continue
		}
		if err := token(n); err != nil {
			return fmt.Errorf("exposeHeaders: %w", err)
		}
		names = append(names, n)
	}
	if len(strings.Join(names, ", ")) > MaxStringLen {
		return fmt.Errorf("exposeHeaders longer than %d bytes", MaxStringLen)
	}
	return nil
}

// CORSOrigin checks one allowed origin.
func CORSOrigin(o model.CORSOrigin) error {
	if o.Scheme != "http" && o.Scheme != "https" {
		return fmt.Errorf("origin scheme %q: want http or https", o.Scheme)
	}
	if err := Port(o.Port); err != nil {
		return fmt.Errorf("origin port: %w", err)
	}
	if o.Host == "*" {
		return nil
	}
	if err := Hostname(o.Host, true); err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	return nil
}

func corsList(field string, vs []string, check func(string) error) error {
	if slices.Contains(vs, "*") {
		if len(vs) > 1 {
			return fmt.Errorf(`%s: "*" together with other values`, field)
		}
		return nil
	}
	for _, v := range vs {
		if err := check(v); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	if len(strings.Join(vs, ", ")) > MaxStringLen {
		return fmt.Errorf("%s longer than %d bytes", field, MaxStringLen)
	}
	return nil
}
