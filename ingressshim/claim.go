package ingressshim

import (
	"fmt"
	"slices"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// requireTLS reports whether cleartext requests for host are redirected to
// HTTPS: the default TLS Secret is configured, or a spec.tls entry of the Ingress
// covers the host (an entry without hosts covers all of them). A spec.tls entry
// counts even when its Secret is unusable, so that a broken Secret never makes
// content the Ingress protects with TLS available in cleartext.
func (t *translator) requireTLS(is *ingressState, host string) bool {
	if t.cfg.defaultTLSSecret != nil || is.tlsAll {
		return true
	}
	if host == "" {
		return false
	}
	return slices.ContainsFunc(is.tlsHosts, func(h string) bool { return hostCovers(h, host) })
}

// redirectPossible reports whether there is a cleartext listener to redirect
// from and an HTTPS port to redirect to.
func (t *translator) redirectPossible() bool { return !t.cfg.DisableHTTP && !t.cfg.DisableHTTPS }

// pathSettings are the per-path settings that must agree for two paths to share
// a route rule.
type pathSettings struct {
	// redirect answers cleartext requests with a redirect to HTTPS.
	redirect bool
	// failClosed answers 500: the path asks for something that cannot be honoured
	// and serving it without that could expose what it protects.
	failClosed bool
	proxy      proxySettings
}

// proxySettings is model.ProxyOptions in comparable form.
type proxySettings struct {
	affinity, cookieName, cookiePath, cookieSecure, cookieStickiness string
	readTimeout, writeTimeout                                        int64
	mruby                                                            string
	doNotForward                                                     bool
}

func (p proxySettings) model() *model.ProxyOptions {
	if p == (proxySettings{}) {
		return nil
	}
	out := &model.ProxyOptions{
		ReadTimeoutMillis:  p.readTimeout,
		WriteTimeoutMillis: p.writeTimeout,
		Mruby:              p.mruby,
		DoNotForward:       p.doNotForward,
	}
	if p.affinity != "" {
		out.Affinity = &model.Affinity{
			Type:             model.AffinityType(p.affinity),
			CookieName:       p.cookieName,
			CookiePath:       p.cookiePath,
			CookieSecure:     p.cookieSecure,
			CookieStickiness: p.cookieStickiness,
		}
	}
	return out
}

// claim is one host and match served by one route rule.
type claim struct {
	key      matchKey
	owner    *ingressState // nil for the default backend route
	settings pathSettings
	// backends share the traffic; none answers 500 unless directStatus is set or
	// the proxy settings say doNotForward.
	backends           []*backendEntry
	fromDefaultBackend bool
	directStatus       int
	directBody         string
}

// backendEntry is one Service port a claim sends traffic to.
type backendEntry struct {
	service string
	// port is nil when it cannot be resolved: the backendRef then answers 500.
	port    *int32
	portKey string
	weight  *int32
	opts    model.BackendOptions
}

func (b *backendEntry) same(o *backendEntry) bool {
	return b.service == o.service && b.portKey == o.portKey
}

// claimRules claims the paths of the Ingress's rules, in spec order.
func (t *translator) claimRules(is *ingressState) {
	for ri, rule := range is.ing.Spec.Rules {
		host := rule.Host
		if err := validateHost(host); err != nil {
			is.warn(ReasonInvalidHost, "spec.rules[%d]: host %q %v; its paths are not served", ri, host, err)
			continue
		}
		if rule.HTTP == nil {
			continue
		}
		for pi, p := range rule.HTTP.Paths {
			where := fmt.Sprintf("spec.rules[%d].http.paths[%d] (path %q of %s)", ri, pi, p.Path, hostLabel(host))
			m, err := convertPath(p.Path, p.PathType)
			if err != nil {
				is.warn(ReasonInvalidPath, "%s: the path cannot be served (%v)", where, err)
				continue
			}
			m.host = host
			if t.cfg.NoDefaultBackendOverride && host == "" && m.value == "/" {
				is.warn(ReasonDefaultBackendIgnored, "%s: a rule for every host and path / would replace the default backend, "+
					"which --no-default-backend-override forbids; it is not served", where)
				is.ann.pathConfigFor(host, p.Path)
				t.markBackendUsed(is, p.Backend)
				continue
			}
			s, be, notes := t.pathTarget(is, host, p.Path, p.Backend, where, t.requireTLS(is, host))
			t.claim(is, m, s, be, notes, where)
		}
	}
}

// claim lets the Ingress serve m. An unclaimed match becomes the Ingress's. A
// match the Ingress already holds gets another backend when the settings agree.
// A match an older Ingress of the same namespace holds with the same settings is
// shared: the backends of both split its traffic (the original controller's
// aggregation of Services under one pattern). Otherwise the older claim wins and
// the Ingress gets a PathConflict event; Ingresses of different namespaces never
// share a path, so no namespace can take traffic meant for another.
func (t *translator) claim(is *ingressState, m matchKey, s pathSettings, be *backendEntry, notes []string, where string) {
	gs := is.gw
	c := gs.claims[m]
	if c == nil {
		c = &claim{key: m, owner: is, settings: s}
		t.addBackend(c, is, be, where)
		gs.claims[m] = c
		is.claims = append(is.claims, c)
		is.addNotes(notes)
		return
	}
	switch {
	case c.owner == is && c.settings == s:
		t.addBackend(c, is, be, where)
		is.addNotes(notes)
	case c.owner == is:
		is.warn(ReasonPathConflict, "%s: an earlier path of this Ingress already serves %s with different settings "+
			"(path-config or TLS redirect); this path is not served", where, m)
	case c.owner.ing.Namespace == is.ing.Namespace && c.settings == s:
		t.addBackend(c, is, be, where)
		is.addNotes(notes)
		is.event(EventNormal, ReasonPathShared, "%s: the older Ingress %s also serves %s with the same settings; "+
			"the backends of both share its traffic", where, c.owner.key(), m)
	default:
		why := "with different settings (path-config or TLS redirect)"
		if c.owner.ing.Namespace != is.ing.Namespace {
			why = "in another namespace (Ingresses of different namespaces never share a path)"
		}
		is.warn(ReasonPathConflict, "%s: %s is already served by the older Ingress %s %s; this path is not served from this Ingress",
			where, m, c.owner.key(), why)
	}
}

// addBackend adds be to c unless c already sends traffic to the same Service
// port; a duplicate with different settings is reported.
func (t *translator) addBackend(c *claim, is *ingressState, be *backendEntry, where string) {
	if be == nil {
		return
	}
	for _, o := range c.backends {
		if !o.same(be) {
			continue
		}
		if o.opts != be.opts || !equalPtr(o.weight, be.weight) || !equalPtr(o.port, be.port) {
			is.warn(ReasonPathConflict, "%s: Service %s port %s is already a backend of %s with a different backend-config; "+
				"the first one is used", where, be.service, be.portKey, c.key)
		}
		return
	}
	c.backends = append(c.backends, be)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// claimDefaultBackend claims every host and path "/" for spec.defaultBackend,
// unless a rule or an older defaultBackend already did.
func (t *translator) claimDefaultBackend(is *ingressState) {
	db := is.ing.Spec.DefaultBackend
	if db == nil {
		return
	}
	const where = "spec.defaultBackend"
	m := matchKey{typ: gatewayv1.PathMatchPathPrefix, value: "/"}
	ignore := func(format string, args ...any) {
		is.warn(ReasonDefaultBackendIgnored, where+" is not used: "+format, args...)
		is.ann.pathConfigFor("", "/")
		t.markBackendUsed(is, *db)
	}
	if t.cfg.NoDefaultBackendOverride {
		ignore("--no-default-backend-override forbids replacing the default backend")
		return
	}
	if c := is.gw.claims[m]; c != nil {
		switch {
		case c.fromDefaultBackend:
			ignore("the defaultBackend of the older Ingress %s answers requests that match no rule", c.owner.key())
		case c.owner == is:
			ignore("this Ingress has a rule for every host and path /, which takes precedence")
		default:
			ignore("Ingress %s has a rule for every host and path /, which takes precedence", c.owner.key())
		}
		return
	}
	// The defaultBackend is not a TLS host: only the default TLS Secret
	// redirects it, as in the original controller.
	s, be, notes := t.pathTarget(is, "", "/", *db, where, t.cfg.defaultTLSSecret != nil)
	c := &claim{key: m, owner: is, settings: s, fromDefaultBackend: true}
	t.addBackend(c, is, be, where)
	is.gw.claims[m] = c
	is.claims = append(is.claims, c)
	is.addNotes(notes)
}

// pathTarget computes the settings of one path from path-config and TLS, and
// resolves its backend (nil when the path must not be forwarded or its backend
// is not a Service). notes are the settings without portable equivalent.
func (t *translator) pathTarget(is *ingressState, host, path string, b networkingv1.IngressBackend, where string, requireTLS bool) (pathSettings, *backendEntry, []string) {
	pc, key := is.ann.pathConfigFor(host, path)
	var s pathSettings
	s.redirect = deref(pc.redirectIfNotTLS, true) && requireTLS && t.redirectPossible()
	mruby, dnf := deref(pc.mruby, ""), deref(pc.doNotForward, false)
	switch {
	case mruby != "" && !t.cfg.AllowMruby:
		is.warn(ReasonMrubyNotAllowed, "%s: path-config %s asks for an mruby script, but the operator has not allowed mruby "+
			"(scripts run with the proxy's privileges); the path answers 500 so that nothing the script guards is exposed", where, key)
		s.failClosed = true
	case dnf && mruby == "":
		is.warn(ReasonDoNotForwardWithoutMruby, "%s: path-config %s sets doNotForward but no mruby script answers the requests; "+
			"the path answers 500", where, key)
		s.failClosed = true
	}
	if s.failClosed || dnf {
		// Nothing is forwarded; the backend is a placeholder.
		t.markBackendUsed(is, b)
		if s.failClosed {
			return s, nil, nil
		}
	}
	var notes []string
	note := func(format string, args ...any) {
		notes = append(notes, fmt.Sprintf("path-config %s: ", key)+fmt.Sprintf(format, args...))
	}
	p := proxySettings{mruby: mruby, doNotForward: dnf}
	if mruby != "" {
		note("mruby script has no portable equivalent")
	}
	if dnf {
		note("doNotForward has no portable equivalent (the rule has no backendRefs and answers 500 elsewhere)")
	}
	switch deref(pc.affinity, "none") {
	case "ip":
		p.affinity = string(model.AffinityIP)
		note("affinity ip has no portable equivalent")
	case "cookie":
		if deref(pc.cookieName, "") == "" {
			is.warn(ReasonInvalidAnnotation, "%s: path-config %s sets affinity cookie without affinityCookieName; affinity is off", where, key)
			break
		}
		p.affinity = string(model.AffinityCookie)
		p.cookieName = *pc.cookieName
		p.cookiePath = deref(pc.cookiePath, "")
		p.cookieSecure = deref(pc.cookieSecure, "auto")
		p.cookieStickiness = deref(pc.cookieStickiness, "loose")
		if p.cookiePath != "" && p.cookiePath != "/" || p.cookieSecure != "auto" || p.cookieStickiness != "loose" {
			note("affinity cookie is sessionPersistence (sessionName %s); its cookie path, secure and stickiness settings have no portable equivalent", p.cookieName)
		}
	}
	if pc.readTimeout != nil {
		p.readTimeout = *pc.readTimeout
		note("readTimeout has no portable equivalent (timeouts.backendRequest bounds the whole request)")
	}
	if pc.writeTimeout != nil {
		p.writeTimeout = *pc.writeTimeout
		note("writeTimeout has no portable equivalent")
	}
	s.proxy = p
	if dnf {
		return s, nil, notes
	}
	be := t.resolveBackend(is, b, where)
	if be != nil {
		notes = append(notes, backendNotes(be)...)
	}
	return s, be, notes
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// defaultRoute gives the Gateway its default route unless an Ingress claims
// every host and path "/": the --default-backend-service Service (its first
// port), or the internal default backend (404, /healthz 200). With
// --deferred-shutdown-period it also holds /nghttpx-healthz, even when an
// Ingress claims every host and path "/".
func (t *translator) defaultRoute(gs *gatewayState) {
	root := matchKey{typ: gatewayv1.PathMatchPathPrefix, value: "/"}
	if gs.claims[root] != nil {
		rs := &routeSpec{gw: gs, defaultBackend: true, internal: true, namespace: t.cfg.Namespace}
		if t.healthClaim(gs, rs); len(rs.claims) > 0 {
			gs.defaultRoute = rs
		}
		return
	}
	s := pathSettings{redirect: t.cfg.defaultTLSSecret != nil && t.redirectPossible()}
	rs := &routeSpec{gw: gs, defaultBackend: true}
	if k := t.cfg.defaultBackend; k != nil {
		rs.namespace = k.Namespace
		ref := &model.ObjectRef{Kind: "Service", Namespace: k.Namespace, Name: k.Name}
		be := &backendEntry{service: k.Name}
		switch svc := t.services[*k]; {
		case svc == nil:
			t.objectEvent(ref, EventWarning, ReasonBackendNotFound,
				"the default backend Service %s (--default-backend-service) does not exist; requests that match no Ingress rule get 500 until it does", k)
		case len(svc.Spec.Ports) == 0:
			t.objectEvent(ref, EventWarning, ReasonBackendNotFound,
				"the default backend Service %s (--default-backend-service) has no ports; requests that match no Ingress rule get 500", k)
		default:
			be.port = new(svc.Spec.Ports[0].Port)
			be.portKey = strconv.Itoa(int(*be.port))
		}
		rs.claims = []*claim{{key: root, settings: s, backends: []*backendEntry{be}}}
	} else {
		rs.namespace = t.cfg.Namespace
		rs.internal = true
		hz := matchKey{typ: gatewayv1.PathMatchExact, value: "/healthz"}
		if gs.claims[hz] == nil && gs.claims[matchKey{typ: gatewayv1.PathMatchPathPrefix, value: "/healthz"}] == nil {
			rs.claims = append(rs.claims, &claim{key: hz, settings: s, directStatus: 200, directBody: "ok"})
		}
		rs.claims = append(rs.claims, &claim{key: root, settings: s, directStatus: 404, directBody: "default backend - 404"})
	}
	t.healthClaim(gs, rs)
	gs.defaultRoute = rs
}

// NghttpxHealthPath is the original's health endpoint for external load
// balancers (--deferred-shutdown-period).
const NghttpxHealthPath = "/nghttpx-healthz"

// healthClaim adds /nghttpx-healthz to rs unless no deferred shutdown is set
// or an Ingress rule for every host claims the path. Like the original's
// backend line for it, it is never redirected to HTTPS.
func (t *translator) healthClaim(gs *gatewayState, rs *routeSpec) {
	hz := matchKey{typ: gatewayv1.PathMatchExact, value: NghttpxHealthPath}
	if t.cfg.DeferredShutdownPeriod <= 0 || gs.claims[hz] != nil ||
		gs.claims[matchKey{typ: gatewayv1.PathMatchPathPrefix, value: NghttpxHealthPath}] != nil {
		return
	}
	c := &claim{key: hz, directStatus: 200, directBody: "ok"}
	if t.cfg.ShuttingDown {
		c.directStatus, c.directBody = 503, "shutting down"
	}
	rs.claims = append(rs.claims, c)
}
