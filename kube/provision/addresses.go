package provision

import (
	"net/netip"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// StaticAddresses are the Gateway's static IP addresses: the values of its
// IPAddress spec.addresses (an omitted type means IPAddress) that parse as IP
// addresses, in canonical form and spec order, without duplicates. Empty values
// (any address will do) and other types are not static; the translator rejects
// the types it does not support.
func StaticAddresses(gw *gatewayv1.Gateway) []string {
	var out []string
	for _, a := range gw.Spec.Addresses {
		if a.Type != nil && *a.Type != gatewayv1.IPAddressType || a.Value == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil {
			continue
		}
		if s := ip.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// RequestedAddress is the address a Gateway's LoadBalancer Service asks for in
// spec.loadBalancerIP: its first static address ("" when it has none). A
// Service holds one such address, so any further static address cannot be had
// (the controller reports it as not usable).
//
// spec.loadBalancerIP is deprecated (its meaning for dual-stack Services was
// never defined) but it is the one provider-neutral way to ask: cloud load
// balancers that still support static IPs, MetalLB and the local cluster's load
// balancer honour it, while the annotations that replace it differ per provider.
func RequestedAddress(gw *gatewayv1.Gateway) string {
	if s := StaticAddresses(gw); len(s) > 0 {
		return s[0]
	}
	return ""
}
