package translate

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// listenerState is what the translator knows about one Gateway listener.
type listenerState struct {
	spec     *gatewayv1.Listener
	hostname string

	// notAccepted is the Accepted=False reason and message, if any.
	notAccepted *condition
	// conflict is the Conflicted=True reason ("" when not conflicted).
	conflict, conflictMsg string
	// overlapsTLS is set when an HTTPS listener's hostname overlaps another's on the
	// same port (OverlappingTLSConfig).
	overlapsTLS []string

	supportedKinds  []gatewayv1.RouteGroupKind
	allowsHTTPRoute bool
	allowsGRPCRoute bool
	// refProblems are ResolvedRefs=False reasons and messages, in spec order.
	refProblems []condition

	namespaces namespacePolicy
	certs      []*model.Certificate
	// clientValidation of the listener's port (spec.tls.frontend), nil if none.
	clientValidation *model.ClientValidation
	// ocsp is the OCSP stapling condition (nil unless stapling is enabled).
	ocsp *condition

	// Filled while routes attach.
	attachedRoutes map[routeKey]bool
	attachments    []*attachment

	// set is the ListenerSet that declares the listener, nil for the Gateway's own.
	set *listenerSetState
}

// attachment is one accepted route attached to a listener under some hostnames.
type attachment struct {
	route     *routeState
	hostnames []string
}

type namespacePolicy struct {
	from     gatewayv1.FromNamespaces
	selector labels.Selector
}

func (l *listenerState) name() string { return string(l.spec.Name) }

func (l *listenerState) accepted() bool { return l.notAccepted == nil && l.conflict == "" }

// programmable reports whether the listener yields data plane configuration.
func (l *listenerState) programmable() bool {
	if !l.accepted() {
		return false
	}
	return l.spec.Protocol == gatewayv1.HTTPProtocolType || len(l.certs) > 0
}

func (l *listenerState) reject(reason, msg string) {
	if l.notAccepted == nil {
		c := falseCond(string(gatewayv1.ListenerConditionAccepted), reason, msg)
		l.notAccepted = &c
	}
}

func httpRouteKind() gatewayv1.RouteGroupKind {
	return gatewayv1.RouteGroupKind{Group: new(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"}
}

func grpcRouteGroupKind() gatewayv1.RouteGroupKind {
	return gatewayv1.RouteGroupKind{Group: new(gatewayv1.Group(gatewayv1.GroupName)), Kind: grpcRouteKind}
}

// allowsKind reports whether routes of kind (HTTPRoute or GRPCRoute) may attach.
func (l *listenerState) allowsKind(kind string) bool {
	if kind == grpcRouteKind {
		return l.allowsGRPCRoute
	}
	return l.allowsHTTPRoute
}

// processListener validates one listener on its own; conflicts between listeners
// are found afterwards by findConflicts.
func (t *translator) processListener(gw *gatewayv1.Gateway, l *gatewayv1.Listener) *listenerState {
	return t.processListenerFor(gw, gatewayOwner(gw), l)
}

// processListenerFor validates a listener of gw declared by owner (gw itself or
// one of its ListenerSets): certificate references are checked from the owner.
func (t *translator) processListenerFor(gw *gatewayv1.Gateway, owner listenerOwner, l *gatewayv1.Listener) *listenerState {
	ls := &listenerState{spec: l, supportedKinds: []gatewayv1.RouteGroupKind{}, attachedRoutes: map[routeKey]bool{}}
	if l.Hostname != nil {
		ls.hostname = string(*l.Hostname)
	}
	switch l.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
	case gatewayv1.TLSProtocolType, gatewayv1.TCPProtocolType, gatewayv1.UDPProtocolType:
		// nghttpx terminates TLS and proxies HTTP only: it has no TLS passthrough
		// and no plain TCP/UDP proxying, so TLSRoute/TCPRoute/UDPRoute cannot be served.
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedProtocol),
			fmt.Sprintf("protocol %q is not supported: nghttpx proxies HTTP only (no TLS passthrough, no TCP/UDP proxying); use HTTP or HTTPS", l.Protocol))
		return ls
	default:
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedProtocol),
			fmt.Sprintf("protocol %q is not supported; use HTTP or HTTPS", l.Protocol))
		return ls
	}
	if what := t.opts.ReservedPorts[int32(l.Port)]; what != "" {
		ls.reject(string(gatewayv1.ListenerReasonPortUnavailable),
			fmt.Sprintf("port %d is used by the data plane itself (%s); choose another port", l.Port, what))
		return ls
	}
	if err := validate.Port(int32(l.Port)); err != nil {
		ls.reject(string(gatewayv1.ListenerReasonPortUnavailable), err.Error())
		return ls
	}
	if ls.hostname != "" {
		if err := validate.Hostname(ls.hostname, true); err != nil {
			ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue), err.Error())
			return ls
		}
	}

	t.resolveRouteKinds(ls)
	t.resolveNamespacePolicy(ls)

	if l.Protocol == gatewayv1.HTTPProtocolType {
		if l.TLS != nil {
			ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue), "tls must not be set on an HTTP listener")
		}
		return ls
	}
	// HTTPS
	if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode != gatewayv1.TLSModeTerminate {
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
			fmt.Sprintf("tls mode %q is not supported on HTTPS listeners; use Terminate", *l.TLS.Mode))
		return ls
	}
	if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
		ls.refProblems = append(ls.refProblems, falseCond("", string(gatewayv1.ListenerReasonInvalidCertificateRef),
			"an HTTPS listener needs tls.certificateRefs"))
		return ls
	}
	for _, ref := range l.TLS.CertificateRefs {
		cert, reason, msg := t.resolveCertificateFrom(owner, ref)
		if cert == nil {
			ls.refProblems = append(ls.refProblems, falseCond("", reason, msg))
			continue
		}
		if !slices.ContainsFunc(ls.certs, func(c *model.Certificate) bool { return c.Name == cert.Name }) {
			ls.certs = append(ls.certs, cert)
		}
	}
	t.resolveClientValidation(gw, ls)
	ls.ocsp = t.ocspCondition(ls.certs)
	return ls
}

func (t *translator) resolveRouteKinds(ls *listenerState) {
	ar := ls.spec.AllowedRoutes
	if ar == nil || len(ar.Kinds) == 0 {
		// Both HTTP and HTTPS listeners speak HTTP/2 (h2c with prior knowledge,
		// or ALPN), which GRPCRoute needs.
		ls.supportedKinds = append(ls.supportedKinds, httpRouteKind(), grpcRouteGroupKind())
		ls.allowsHTTPRoute, ls.allowsGRPCRoute = true, true
		return
	}
	var invalid []string
	for _, k := range ar.Kinds {
		group := gatewayv1.GroupName
		if k.Group != nil {
			group = string(*k.Group)
		}
		if group == gatewayv1.GroupName && k.Kind == "HTTPRoute" {
			if !ls.allowsHTTPRoute {
				ls.supportedKinds = append(ls.supportedKinds, httpRouteKind())
				ls.allowsHTTPRoute = true
			}
			continue
		}
		if group == gatewayv1.GroupName && k.Kind == grpcRouteKind {
			if !ls.allowsGRPCRoute {
				ls.supportedKinds = append(ls.supportedKinds, grpcRouteGroupKind())
				ls.allowsGRPCRoute = true
			}
			continue
		}
		invalid = append(invalid, fmt.Sprintf("%s (group %q)", k.Kind, group))
	}
	if len(invalid) > 0 {
		ls.refProblems = append(ls.refProblems, falseCond("", string(gatewayv1.ListenerReasonInvalidRouteKinds),
			fmt.Sprintf("route kinds %s are not supported on %s listeners; only HTTPRoute and GRPCRoute are", strings.Join(invalid, ", "), ls.spec.Protocol)))
	}
}

func (t *translator) resolveNamespacePolicy(ls *listenerState) {
	ls.namespaces.from = gatewayv1.NamespacesFromSame
	ar := ls.spec.AllowedRoutes
	if ar == nil || ar.Namespaces == nil || ar.Namespaces.From == nil {
		return
	}
	ls.namespaces.from = *ar.Namespaces.From
	switch ls.namespaces.from {
	case gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromNone:
	case gatewayv1.NamespacesFromSelector:
		if ar.Namespaces.Selector == nil {
			ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
				"allowedRoutes.namespaces.selector is required when from is Selector")
			return
		}
		sel, err := metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
		if err != nil {
			ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
				fmt.Sprintf("allowedRoutes.namespaces.selector is invalid: %v", err))
			return
		}
		ls.namespaces.selector = sel
	default:
		ls.reject(string(gatewayv1.ListenerReasonUnsupportedValue),
			fmt.Sprintf("allowedRoutes.namespaces.from %q is not supported", ls.namespaces.from))
	}
}

// allowsNamespace reports whether routes in ns may attach to a listener of a
// Gateway in gwNS.
func (t *translator) allowsNamespace(ls *listenerState, gwNS, ns string) bool {
	switch ls.namespaces.from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == gwNS
	case gatewayv1.NamespacesFromSelector:
		return ls.namespaces.selector != nil && ls.namespaces.selector.Matches(t.idx.namespaceLabels(ns))
	}
	return false
}

// findConflicts marks listeners that are not distinct: on one port, listeners of
// different protocols all conflict (ProtocolConflict); listeners of one protocol
// conflict when they share a hostname (HostnameConflict). Listeners that are not
// accepted for other reasons produce no configuration and so conflict with nothing.
// It also flags HTTPS listeners whose hostnames overlap (OverlappingTLSConfig).
func findConflicts(ls []*listenerState) {
	byPort := map[gatewayv1.PortNumber][]*listenerState{}
	var ports []gatewayv1.PortNumber
	for _, l := range ls {
		if l.notAccepted != nil {
			continue
		}
		if _, ok := byPort[l.spec.Port]; !ok {
			ports = append(ports, l.spec.Port)
		}
		byPort[l.spec.Port] = append(byPort[l.spec.Port], l)
	}
	for _, p := range ports {
		group := byPort[p]
		protocols := map[gatewayv1.ProtocolType]bool{}
		for _, l := range group {
			protocols[l.spec.Protocol] = true
		}
		if len(protocols) > 1 {
			for _, l := range group {
				l.conflict = string(gatewayv1.ListenerReasonProtocolConflict)
				l.conflictMsg = fmt.Sprintf("port %d is used by listeners of different protocols", p)
			}
			continue
		}
		byHost := map[string][]*listenerState{}
		for _, l := range group {
			byHost[l.hostname] = append(byHost[l.hostname], l)
		}
		for h, same := range byHost {
			if len(same) < 2 {
				continue
			}
			hn := h
			if hn == "" {
				hn = "(any)"
			}
			for _, l := range same {
				l.conflict = string(gatewayv1.ListenerReasonHostnameConflict)
				l.conflictMsg = fmt.Sprintf("port %d and hostname %s are used by more than one listener", p, hn)
			}
		}
		for i, a := range group {
			for _, b := range group[i+1:] {
				if a.spec.Protocol != gatewayv1.HTTPSProtocolType || a.conflict != "" || b.conflict != "" {
					continue
				}
				if _, ok := intersectHostname(a.hostname, b.hostname); ok {
					a.overlapsTLS = append(a.overlapsTLS, b.name())
					b.overlapsTLS = append(b.overlapsTLS, a.name())
				}
			}
		}
	}
}

// conditions returns the listener's status conditions.
func (l *listenerState) conditions(gwAccepted bool) []condition {
	var out []condition
	switch {
	case l.notAccepted != nil:
		out = append(out, *l.notAccepted)
	case l.conflict != "":
		out = append(out, falseCond(string(gatewayv1.ListenerConditionAccepted), l.conflict, l.conflictMsg))
	default:
		out = append(out, trueCond(string(gatewayv1.ListenerConditionAccepted),
			string(gatewayv1.ListenerReasonAccepted), "Listener is accepted"))
	}
	switch {
	case !l.programmable():
		msg := "Listener is invalid; see the other conditions"
		if l.accepted() {
			msg = "Listener has no valid certificate"
		}
		out = append(out, falseCond(string(gatewayv1.ListenerConditionProgrammed), string(gatewayv1.ListenerReasonInvalid), msg))
	case !gwAccepted:
		out = append(out, falseCond(string(gatewayv1.ListenerConditionProgrammed), string(gatewayv1.ListenerReasonInvalid),
			"the Gateway is not accepted"))
	default:
		out = append(out, trueCond(string(gatewayv1.ListenerConditionProgrammed),
			string(gatewayv1.ListenerReasonProgrammed), "Listener is programmed"))
	}
	if len(l.refProblems) > 0 {
		msgs := make([]string, len(l.refProblems))
		for i, p := range l.refProblems {
			msgs[i] = p.Message
		}
		out = append(out, falseCond(string(gatewayv1.ListenerConditionResolvedRefs), l.refProblems[0].Reason, joinMessages(msgs)))
	} else {
		out = append(out, trueCond(string(gatewayv1.ListenerConditionResolvedRefs),
			string(gatewayv1.ListenerReasonResolvedRefs), "All references are resolved"))
	}
	if l.conflict != "" {
		out = append(out, trueCond(string(gatewayv1.ListenerConditionConflicted), l.conflict, l.conflictMsg))
	} else {
		out = append(out, falseCond(string(gatewayv1.ListenerConditionConflicted),
			string(gatewayv1.ListenerReasonNoConflicts), "No conflicts"))
	}
	if len(l.overlapsTLS) > 0 {
		out = append(out, trueCond(string(gatewayv1.ListenerConditionOverlappingTLSConfig),
			string(gatewayv1.ListenerReasonOverlappingHostnames),
			fmt.Sprintf("hostname overlaps with that of listener(s) %s on the same port", strings.Join(l.overlapsTLS, ", "))))
	}
	if l.ocsp != nil && l.programmable() {
		out = append(out, *l.ocsp)
	}
	return out
}

func listenerConditionTypes() []string {
	return []string{
		string(gatewayv1.ListenerConditionAccepted),
		string(gatewayv1.ListenerConditionProgrammed),
		string(gatewayv1.ListenerConditionResolvedRefs),
		string(gatewayv1.ListenerConditionConflicted),
		string(gatewayv1.ListenerConditionOverlappingTLSConfig),
		ListenerConditionOCSPStapled,
	}
}
