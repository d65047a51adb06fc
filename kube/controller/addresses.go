package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// addressGrace is how long a load balancer may take to grant a requested static
// address before the controller calls the address not usable. A Service that
// cannot get its spec.loadBalancerIP just stays pending (the reason is at best
// an Event), so waiting is the only provider-neutral way to tell "not yet" from
// "never"; a late grant still turns the Gateway Programmed.
const addressGrace = 20 * time.Second

// serviceGrant is what a Gateway's data-plane Service shows about its addresses.
type serviceGrant struct {
	found bool
	// name is namespace/name, for messages.
	name string
	typ  corev1.ServiceType
	// requested is spec.loadBalancerIP.
	requested string
	// granted are the addresses the Service got (grantedAddresses).
	granted []string
	// since is when we last changed the Service (our apply), zero if unknown.
	since time.Time
}

// grantedAddresses are the addresses a Service got: load-balancer ingress IPs
// (canonical form) or host names, else the cluster IPs of ClusterIP and NodePort
// Services.
func grantedAddresses(svc *corev1.Service) []string {
	var out []string
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			s = a.String()
		}
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				add(in.IP)
			} else {
				add(in.Hostname)
			}
		}
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		for _, ip := range svc.Spec.ClusterIPs {
			if ip != corev1.ClusterIPNone {
				add(ip)
			}
		}
	}
	return out
}

// grantOf reads a Service (nil: not provisioned yet).
func grantOf(svc *corev1.Service) serviceGrant {
	if svc == nil {
		return serviceGrant{}
	}
	sg := serviceGrant{
		found: true, name: svc.Namespace + "/" + svc.Name, typ: svc.Spec.Type,
		requested: svc.Spec.LoadBalancerIP, granted: grantedAddresses(svc), since: svc.CreationTimestamp.Time,
	}
	if a, err := netip.ParseAddr(sg.requested); err == nil {
		sg.requested = a.String()
	}
	for _, mf := range svc.ManagedFields {
		if mf.Manager == provision.FieldOwner && mf.Operation == metav1.ManagedFieldsOperationApply &&
			mf.Subresource == "" && mf.Time != nil {
			sg.since = mf.Time.Time
		}
	}
	return sg
}

// holdAddresses makes an accepted Gateway with static addresses show what its
// Service was granted: status.addresses lists only granted addresses, and
// Programmed is False while a static address is not granted: AddressNotAssigned
// while the load balancer may still grant it (for addressGrace after we asked),
// AddressNotUsable when it cannot or did not. It returns how long until a
// verdict changes by itself (0: never), so the caller can look again.
// Gateways without static addresses keep what the translator computed.
func holdAddresses(g *gatewayv1.Gateway, stored []metav1.Condition, sg serviceGrant, now metav1.Time) time.Duration {
	static := provision.StaticAddresses(g)
	if len(static) == 0 || !meta.IsStatusConditionTrue(g.Status.Conditions, string(gatewayv1.GatewayConditionAccepted)) {
		return 0
	}
	g.Status.Addresses = statusAddresses(sg.granted)
	c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	if c == nil || c.Status != metav1.ConditionTrue {
		return 0
	}
	var notUsable, notAssigned []string
	var recheck time.Duration
	for _, a := range static {
		switch {
		case slices.Contains(sg.granted, a):
		case !sg.found:
			notAssigned = append(notAssigned, fmt.Sprintf("address %s: waiting for the data-plane Service to be created", a))
		case sg.typ != corev1.ServiceTypeLoadBalancer:
			notUsable = append(notUsable, fmt.Sprintf("address %s cannot be used: the data-plane Service %s is of type %s, "+
				"and only a LoadBalancer Service can ask for an address (serve --service-type=LoadBalancer)", a, sg.name, sg.typ))
		case a != static[0]:
			notUsable = append(notUsable, fmt.Sprintf("address %s cannot be used: the data-plane Service %s asks its load balancer "+
				"for one address only (%s); remove the others from spec.addresses", a, sg.name, static[0]))
		case sg.requested != a:
			notAssigned = append(notAssigned, fmt.Sprintf("address %s: waiting for the data-plane Service %s to request it", a, sg.name))
		case now.Sub(sg.since) < addressGrace:
			wait := addressGrace - now.Sub(sg.since)
			if recheck == 0 || wait < recheck {
				recheck = wait
			}
			notAssigned = append(notAssigned, fmt.Sprintf("address %s: waiting for the load balancer to assign it to the "+
				"data-plane Service %s", a, sg.name))
		default:
			got := ""
			if len(sg.granted) > 0 {
				got = fmt.Sprintf(" (it assigned %s instead)", strings.Join(sg.granted, ", "))
			}
			notUsable = append(notUsable, fmt.Sprintf("address %s cannot be used: the load balancer has not assigned it to the "+
				"data-plane Service %s within %s of the request%s; it is probably outside the load balancer's address pool "+
				"or taken by another Service (see the Service's events); remove it from spec.addresses or choose another",
				a, sg.name, addressGrace, got))
		}
	}
	reason := gatewayv1.GatewayReasonAddressNotUsable
	problems := append(notUsable, notAssigned...)
	switch {
	case len(problems) == 0:
		return 0
	case len(notUsable) == 0:
		reason = gatewayv1.GatewayReasonAddressNotAssigned
	}
	c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(reason), "Static "+strings.Join(problems, "; ")+"."
	c.LastTransitionTime = now
	if old := meta.FindStatusCondition(stored, c.Type); old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	}
	return recheck
}

// statusAddresses types granted addresses for Gateway status: IPs as
// IPAddress, host names as Hostname (anything else is dropped).
func statusAddresses(granted []string) []gatewayv1.GatewayStatusAddress {
	var out []gatewayv1.GatewayStatusAddress
	for _, v := range granted {
		typ := gatewayv1.IPAddressType
		if _, err := netip.ParseAddr(v); err != nil {
			if len(validation.IsDNS1123Subdomain(v)) != 0 {
				continue
			}
			typ = gatewayv1.HostnameAddressType
		}
		out = append(out, gatewayv1.GatewayStatusAddress{Type: new(typ), Value: v})
	}
	return out
}
