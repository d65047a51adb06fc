package ingressshim

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Annotations on synthetic objects, so that their origin can be traced.
const (
	// AnnotationSourceIngress on an HTTPRoute names the Ingress (same namespace)
	// it was built for.
	AnnotationSourceIngress = "ingressshim.nghttpx-gateway.io/ingress"
	// AnnotationDefaultBackend on an HTTPRoute marks the Gateway's default route:
	// "internal" or the Service "namespace/name".
	AnnotationDefaultBackend = "ingressshim.nghttpx-gateway.io/default-backend"
	// AnnotationIngressClass on a Gateway names the IngressClass it serves.
	AnnotationIngressClass = "ingressshim.nghttpx-gateway.io/ingress-class"
)

// Listener names of the synthetic Gateways.
const (
	ListenerHTTP  = "http"
	ListenerHTTPS = "https"
)

// routeSpec is one group of claims that becomes one or two HTTPRoutes: the
// claims of one Ingress for one host, or a Gateway's default route.
type routeSpec struct {
	gw        *gatewayState
	owner     *ingressState
	namespace string
	host      string
	claims    []*claim
	// defaultBackend marks the Gateway's default route; internal when it is the
	// internal default backend.
	defaultBackend, internal bool
}

func (rs *routeSpec) baseName() string {
	if rs.defaultBackend {
		return rs.gw.name + ".default-backend"
	}
	if rs.host == "" {
		return rs.owner.ing.Name
	}
	return rs.owner.ing.Name + "." + strings.Replace(rs.host, "*", "wildcard", 1)
}

func (rs *routeSpec) identity(suffix string) string {
	if rs.defaultBackend {
		return "default\x00" + rs.gw.name + "\x00" + suffix
	}
	return "ingress\x00" + rs.owner.key().String() + "\x00" + rs.host + "\x00" + suffix
}

// specs groups the Gateway's claims into route specs: per Ingress (oldest
// first), per host in the order the host first appears, then the default route.
func (gs *gatewayState) specs() []*routeSpec {
	var out []*routeSpec
	for _, is := range gs.ingresses {
		byHost := map[string]*routeSpec{}
		for _, c := range is.claims {
			rs := byHost[c.key.host]
			if rs == nil {
				rs = &routeSpec{gw: gs, owner: is, namespace: is.ing.Namespace, host: c.key.host}
				byHost[c.key.host] = rs
				out = append(out, rs)
			}
			rs.claims = append(rs.claims, c)
		}
	}
	if gs.defaultRoute != nil {
		out = append(out, gs.defaultRoute)
	}
	return out
}

// namer hands out object names: the readable candidate unless it is invalid, too
// long or taken by another object, else the candidate cut short plus a hash of
// the object's identity.
type namer struct{ taken map[nsName]string }

func (n *namer) name(ns, candidate, identity string) string {
	name := candidate
	if prev, ok := n.taken[nsName{ns, name}]; (ok && prev != identity) || len(validation.IsDNS1123Subdomain(name)) > 0 {
		sum := sha256.Sum256([]byte(identity))
		base := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				return r
			}
			return -1
		}, strings.ToLower(candidate))
		if len(base) > 200 {
			base = base[:200]
		}
		base = strings.Trim(base, ".-")
		if base == "" {
			base = "route"
		}
		name = base + "-" + hex.EncodeToString(sum[:4])
	}
	n.taken[nsName{ns, name}] = identity
	return name
}

// build turns the claims into objects.
func (t *translator) build() {
	cfg := t.cfg
	n := &namer{taken: map[nsName]string{}}
	grants := map[string][]string{} // Secret names by namespace, for ReferenceGrants
	for _, name := range sortedKeys(t.gateways) {
		gs := t.gateways[name]
		if !gs.http && !gs.https {
			t.objectEvent(&model.ObjectRef{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: cfg.Namespace, Name: gs.name},
				EventWarning, ReasonNoListener, "Gateway %s/%s has no listener: HTTP is disabled and no usable TLS certificate exists; "+
					"its Ingresses are not served", cfg.Namespace, gs.name)
			continue
		}
		t.res.Gateways = append(t.res.Gateways, t.gatewayObject(gs))
		for _, k := range gs.certs {
			if k.Namespace != cfg.Namespace && !slices.Contains(grants[k.Namespace], k.Name) {
				grants[k.Namespace] = append(grants[k.Namespace], k.Name)
			}
		}
		for _, rs := range gs.specs() {
			t.buildRoutes(rs, n)
		}
	}
	if len(t.res.Gateways) > 0 {
		t.res.GatewayClasses = []gatewayv1.GatewayClass{{
			TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "GatewayClass"},
			ObjectMeta: metav1.ObjectMeta{Name: cfg.GatewayClassName},
			Spec: gatewayv1.GatewayClassSpec{
				ControllerName: gatewayv1.GatewayController(cfg.ControllerName),
				Description:    new("Gateways that serve Ingresses of the nghttpx Ingress controller (ingress.zlab.co.jp)"),
			},
		}}
	}
	for _, ns := range sortedKeys(grants) {
		names := grants[ns]
		slices.Sort(names)
		g := gatewayv1beta1.ReferenceGrant{
			TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1beta1.GroupVersion.String(), Kind: "ReferenceGrant"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cfg.GatewayClassName + "-tls"},
			Spec: gatewayv1beta1.ReferenceGrantSpec{
				From: []gatewayv1beta1.ReferenceGrantFrom{{
					Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: gatewayv1.Namespace(cfg.Namespace),
				}},
			},
		}
		for _, name := range names {
			g.Spec.To = append(g.Spec.To, gatewayv1beta1.ReferenceGrantTo{Group: "", Kind: "Secret", Name: new(gatewayv1.ObjectName(name))})
		}
		t.res.ReferenceGrants = append(t.res.ReferenceGrants, g)
	}
	slices.SortFunc(t.res.HTTPRoutes, func(a, b gatewayv1.HTTPRoute) int {
		return compareKeys(nsName{a.Namespace, a.Name}, nsName{b.Namespace, b.Name})
	})
	t.res.Extensions.ExclusiveGateways = exclusiveGateways(t.res.Gateways, t.res.HTTPRoutes)
	for i := range t.res.Extensions.ExclusiveGateways {
		ex := &t.res.Extensions.ExclusiveGateways[i]
		if gs := t.gateways[ex.Name]; gs != nil {
			ex.SNI = gs.sni
		}
	}
	sortExtensions(&t.res.Extensions)
}

// exclusiveGateways makes every synthetic Gateway accept only the synthetic
// routes built for it (routes sorted), so that no namespace can attach a route
// of its own to an Ingress host (see load.Extensions.ExclusiveGateways).
func exclusiveGateways(gws []gatewayv1.Gateway, routes []gatewayv1.HTTPRoute) []load.ExclusiveGateway {
	var out []load.ExclusiveGateway
	for _, g := range gws {
		ex := load.ExclusiveGateway{Namespace: g.Namespace, Name: g.Name, Owner: "the Ingress front-end"}
		for _, r := range routes {
			for _, p := range r.Spec.ParentRefs {
				ns := r.Namespace
				if p.Namespace != nil {
					ns = string(*p.Namespace)
				}
				if ns == g.Namespace && string(p.Name) == g.Name {
					ex.Routes = append(ex.Routes, r.Namespace+"/"+r.Name)
					break
				}
			}
		}
		out = append(out, ex)
	}
	return out
}

func sortExtensions(e *load.Extensions) {
	cmpRef := func(a, b load.RuleRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Rule, b.Rule))
	}
	slices.SortFunc(e.Rules, func(a, b load.RuleExtension) int { return cmpRef(a.RuleRef, b.RuleRef) })
	slices.SortFunc(e.Backends, func(a, b load.BackendExtension) int {
		return cmp.Or(cmpRef(a.RuleRef, b.RuleRef), cmp.Compare(a.BackendRef, b.BackendRef))
	})
}

func (t *translator) gatewayObject(gs *gatewayState) gatewayv1.Gateway {
	cfg := t.cfg
	all := &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: new(gatewayv1.NamespacesFromAll)}}
	g := gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Namespace: cfg.Namespace, Name: gs.name},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(cfg.GatewayClassName)},
	}
	if gs.class != "" {
		g.Annotations = map[string]string{AnnotationIngressClass: gs.class}
	}
	if gs.http {
		g.Spec.Listeners = append(g.Spec.Listeners, gatewayv1.Listener{
			Name: ListenerHTTP, Protocol: gatewayv1.HTTPProtocolType, Port: cfg.HTTPPort, AllowedRoutes: all,
		})
	}
	if gs.https {
		l := gatewayv1.Listener{
			Name: ListenerHTTPS, Protocol: gatewayv1.HTTPSProtocolType, Port: cfg.HTTPSPort, AllowedRoutes: all,
			TLS: &gatewayv1.ListenerTLSConfig{Mode: new(gatewayv1.TLSModeTerminate)},
		}
		for _, k := range gs.certs {
			ref := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(k.Name)}
			if k.Namespace != cfg.Namespace {
				ref.Namespace = new(gatewayv1.Namespace(k.Namespace))
			}
			l.TLS.CertificateRefs = append(l.TLS.CertificateRefs, ref)
		}
		g.Spec.Listeners = append(g.Spec.Listeners, l)
	}
	return g
}

// buildRoutes makes the HTTPRoutes of one spec. When no claim redirects, one
// route attaches to both listeners; otherwise the HTTPS listener gets a route
// with the backends and the HTTP listener one (named with ".http") in which the
// redirecting claims are RequestRedirect rules.
func (t *translator) buildRoutes(rs *routeSpec, n *namer) {
	gs := rs.gw
	redirects := slices.ContainsFunc(rs.claims, func(c *claim) bool { return c.settings.redirect })
	type part struct {
		suffix   string
		sections []string
		redirect bool
	}
	var parts []part
	switch {
	case gs.http && gs.https && !redirects:
		parts = []part{{sections: []string{ListenerHTTP, ListenerHTTPS}}}
	default:
		if gs.https {
			parts = append(parts, part{sections: []string{ListenerHTTPS}})
		}
		if gs.http {
			p := part{sections: []string{ListenerHTTP}, redirect: true}
			if gs.https {
				p.suffix = ".http"
			}
			parts = append(parts, p)
		}
	}
	for _, p := range parts {
		name := n.name(rs.namespace, rs.baseName()+p.suffix, rs.identity(p.suffix))
		r := gatewayv1.HTTPRoute{
			TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
			ObjectMeta: metav1.ObjectMeta{Namespace: rs.namespace, Name: name},
		}
		switch {
		case rs.owner != nil:
			r.CreationTimestamp = rs.owner.ing.CreationTimestamp
			r.Annotations = map[string]string{AnnotationSourceIngress: rs.owner.ing.Name}
			rs.owner.res.HTTPRoutes = append(rs.owner.res.HTTPRoutes, name)
			slices.Sort(rs.owner.res.HTTPRoutes)
		case rs.internal:
			r.Annotations = map[string]string{AnnotationDefaultBackend: "internal"}
		default:
			r.Annotations = map[string]string{AnnotationDefaultBackend: t.cfg.defaultBackend.String()}
		}
		for _, section := range p.sections {
			ref := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gs.name), SectionName: new(gatewayv1.SectionName(section))}
			if rs.namespace != t.cfg.Namespace {
				ref.Namespace = new(gatewayv1.Namespace(t.cfg.Namespace))
			}
			r.Spec.ParentRefs = append(r.Spec.ParentRefs, ref)
		}
		if rs.host != "" {
			r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(rs.host)}
		}
		for i, c := range rs.claims {
			r.Spec.Rules = append(r.Spec.Rules, t.rule(c, p.redirect, load.RuleRef{Namespace: rs.namespace, Name: name, Rule: i}))
		}
		t.res.HTTPRoutes = append(t.res.HTTPRoutes, r)
	}
}

// rule builds the route rule of one claim and records its extensions.
func (t *translator) rule(c *claim, redirectListener bool, ref load.RuleRef) gatewayv1.HTTPRouteRule {
	rule := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{
		Path: &gatewayv1.HTTPPathMatch{Type: new(c.key.typ), Value: new(c.key.value)},
	}}}
	if redirectListener && c.settings.redirect {
		rd := &gatewayv1.HTTPRequestRedirectFilter{Scheme: new("https"), StatusCode: new(308)}
		if t.cfg.HTTPSPort != DefaultHTTPSPort {
			rd.Port = new(t.cfg.HTTPSPort)
		}
		rule.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: rd}}
		return rule
	}
	ext := &t.res.Extensions
	for j, be := range c.backends {
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(be.service), Port: be.port},
			Weight:                 be.weight,
		}})
		if be.opts != (model.BackendOptions{}) {
			ext.Backends = append(ext.Backends, load.BackendExtension{RuleRef: ref, BackendRef: j, Proxy: new(be.opts)})
		}
	}
	if ps := c.settings.proxy; ps.affinity == string(model.AffinityCookie) {
		// The portable form of cookie affinity (convert shows it); the
		// extension keeps the annotation's exact cookie settings.
		rule.SessionPersistence = &gatewayv1.SessionPersistence{SessionName: new(ps.cookieName)}
	}
	if p := c.settings.proxy.model(); p != nil || c.directStatus != 0 {
		ext.Rules = append(ext.Rules, load.RuleExtension{RuleRef: ref, DirectStatus: c.directStatus, DirectBody: c.directBody, Proxy: p})
	}
	return rule
}
