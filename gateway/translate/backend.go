package translate

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Kubernetes standard application protocols (KEP-3726) and common short forms.
const (
	appProtocolH2C = "kubernetes.io/h2c"
	appProtocolWS  = "kubernetes.io/ws"
)

// backendProtocol maps a Service port's appProtocol to how the proxy talks to it.
// Protocols that need TLS to the backend or are not HTTP are unsupported; unknown
// names default to HTTP/1.1, which is what an HTTPRoute backend speaks.
func backendProtocol(appProtocol *string) (model.BackendProtocol, bool) {
	if appProtocol == nil {
		return model.BackendHTTP1, true
	}
	switch *appProtocol {
	case appProtocolH2C, "h2c", "http2", "grpc":
		return model.BackendH2C, true
	case appProtocolWS, "ws":
		return model.BackendWebSocket, true
	case "kubernetes.io/https", "https", "kubernetes.io/wss", "wss", "tls", "tcp", "udp", "sctp":
		return "", false
	}
	return model.BackendHTTP1, true
}

func clusterName(k nsName, port int32) string {
	return fmt.Sprintf("svc/%s/%s/%d", k.Namespace, k.Name, port)
}

// resolveBackend resolves one backendRef of route r. A backend that cannot be used
// is returned with Invalid set and a ResolvedRefs=False reason and message.
func (t *translator) resolveBackend(r *gatewayv1.HTTPRoute, ref *gatewayv1.BackendRef) (model.WeightedBackend, *condition) {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	k := nsName{r.Namespace, string(ref.Name)}
	if ref.Namespace != nil && *ref.Namespace != "" {
		k.Namespace = string(*ref.Namespace)
	}
	wb := model.WeightedBackend{
		Weight: 1,
		Source: model.ObjectRef{Group: group, Kind: kind, Namespace: k.Namespace, Name: k.Name},
	}
	if ref.Weight != nil {
		wb.Weight = *ref.Weight
	}
	if ref.Port != nil {
		wb.Source.Section = strconv.Itoa(int(*ref.Port))
	}
	fail := func(reason gatewayv1.RouteConditionReason, format string, args ...any) (model.WeightedBackend, *condition) {
		wb.Invalid = true
		c := falseCond(string(gatewayv1.RouteConditionResolvedRefs), string(reason), fmt.Sprintf(format, args...))
		return wb, &c
	}
	if group != "" || kind != "Service" {
		return fail(gatewayv1.RouteReasonInvalidKind, "backendRef %s is a %s; only core Services are supported", k, groupKind(group, kind))
	}
	rkind := routeKind(r)
	if !t.idx.referenceAllowed(gatewayv1.GroupName, rkind, r.Namespace,
		refTarget{Group: "", Kind: "Service", Namespace: k.Namespace, Name: k.Name}) {
		return fail(gatewayv1.RouteReasonRefNotPermitted,
			"Service %s is in another namespace and no ReferenceGrant there allows %ss from namespace %s to use it", k, rkind, r.Namespace)
	}
	svc := t.idx.services[k]
	if svc == nil {
		return fail(gatewayv1.RouteReasonBackendNotFound, "Service %s does not exist", k)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return fail(gatewayv1.RouteReasonInvalidKind, "Service %s is of type ExternalName, which is not supported", k)
	}
	if ref.Port == nil {
		return fail(gatewayv1.RouteReasonBackendNotFound, "backendRef to Service %s needs a port", k)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return fail(gatewayv1.RouteReasonBackendNotFound, "Service %s has no port %d", k, *ref.Port)
	}
	if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
		return fail(gatewayv1.RouteReasonUnsupportedProtocol, "port %d of Service %s uses protocol %s; only TCP is supported", sp.Port, k, sp.Protocol)
	}
	pol := t.backendTLSFor(r, k, sp)
	proto, ok := backendProtocol(sp.AppProtocol)
	if !ok && pol != nil && isHTTPSAppProtocol(sp.AppProtocol) {
		proto, ok = model.BackendHTTP1, true
	}
	if !ok {
		return fail(gatewayv1.RouteReasonUnsupportedProtocol, "port %d of Service %s has appProtocol %q, which is not supported", sp.Port, k, *sp.AppProtocol)
	}
	if rkind == grpcRouteKind {
		switch proto {
		case model.BackendWebSocket:
			return fail(gatewayv1.RouteReasonUnsupportedProtocol,
				"port %d of Service %s has appProtocol %q; gRPC needs HTTP/2 (kubernetes.io/h2c, or a BackendTLSPolicy for TLS)", sp.Port, k, *sp.AppProtocol)
		case model.BackendHTTP1:
			// gRPC is HTTP/2 whatever the port says: the Service port is
			// shared with HTTPRoutes, so only this backend speaks h2 (over
			// TLS when a BackendTLSPolicy applies).
			wb.Proxy = &model.BackendOptions{Protocol: model.BackendH2C}
		}
	}
	if pol != nil && pol.tls == nil {
		// The BackendTLSPolicy cannot be used (its status says why): answer 500
		// rather than connect unverified.
		wb.Invalid = true
		return wb, nil
	}
	name := clusterName(k, sp.Port)
	if _, ok := t.clusters[name]; !ok {
		t.clusters[name] = &model.Cluster{
			Name:      name,
			Source:    model.ObjectRef{Kind: "Service", Namespace: k.Namespace, Name: k.Name, Section: strconv.Itoa(int(sp.Port))},
			Protocol:  proto,
			Endpoints: t.endpoints(k, sp),
		}
		if pol != nil {
			t.clusters[name].TLS = pol.clusterTLS()
		}
	}
	wb.Cluster = name
	return wb, nil
}

// endpoints returns the ready endpoints of a Service port from the Service's
// EndpointSlices. The slice port is found by the Service port's name, which is how
// named target ports resolve to numbers; headless and selector-less Services work
// the same way.
func (t *translator) endpoints(k nsName, sp *corev1.ServicePort) []model.Endpoint {
	var out []model.Endpoint
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, s := range t.idx.slices[k] {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			pp := corev1.ProtocolTCP
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if name == sp.Name && pp == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if validate.Port(port) != nil {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				// The data plane dials plain addresses only (no zone).
				ip, err := validate.IP(a)
				if err != nil {
					continue
				}
				e := model.Endpoint{IP: ip, Port: port}
				if !slices.Contains(out, e) {
					out = append(out, e)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b model.Endpoint) int {
		if c := netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return out
}
