package provision

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func specAddr(typ gatewayv1.AddressType, v string) gatewayv1.GatewaySpecAddress {
	return gatewayv1.GatewaySpecAddress{Type: &typ, Value: v}
}

func TestStaticAddresses(t *testing.T) {
	gw := testGateway()
	if got := StaticAddresses(gw); got != nil || RequestedAddress(gw) != "" {
		t.Errorf("no spec.addresses: %v %q", got, RequestedAddress(gw))
	}
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{
		specAddr("test/fake-invalid-type", "fake address"),
		specAddr(gatewayv1.HostnameAddressType, "lb.example"),
		specAddr(gatewayv1.IPAddressType, ""), // any address
		specAddr(gatewayv1.IPAddressType, "not-an-ip"),
		{Value: "2001:db8:0::1"}, // type defaults to IPAddress
		specAddr(gatewayv1.IPAddressType, "192.0.2.1"),
		specAddr(gatewayv1.IPAddressType, "2001:db8::1"), // the same as the first, spelt differently
	}
	if got, want := StaticAddresses(gw), []string{"2001:db8::1", "192.0.2.1"}; !slices.Equal(got, want) {
		t.Errorf("static addresses %v, want %v", got, want)
	}
	if got := RequestedAddress(gw); got != "2001:db8::1" {
		t.Errorf("requested %q", got)
	}
}

// The Service asks for the first static address, follows changes and drops
// the request when the Gateway no longer has one; only LoadBalancer Services ask.
func TestServiceRequestsStaticAddress(t *testing.T) {
	p, c := newProvisioner(t)
	ctx := context.Background()
	gw := testGateway()
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{
		specAddr("test/fake-invalid-type", "fake"),
		specAddr(gatewayv1.IPAddressType, "192.0.2.1"),
		specAddr(gatewayv1.IPAddressType, "10.245.255.200"),
	}
	steps := []struct {
		addrs []gatewayv1.GatewaySpecAddress
		want  string
	}{
		{gw.Spec.Addresses, "192.0.2.1"},
		{gw.Spec.Addresses[2:], "10.245.255.200"},
		{[]gatewayv1.GatewaySpecAddress{specAddr(gatewayv1.IPAddressType, "")}, ""},
		{nil, ""},
	}
	for i, s := range steps {
		gw.Spec.Addresses = s.addrs
		if err := p.Ensure(ctx, gw); err != nil {
			t.Fatal(err)
		}
		_, svc, _ := getAll(t, c)
		if svc.Spec.LoadBalancerIP != s.want {
			t.Errorf("step %d: loadBalancerIP %q, want %q", i, svc.Spec.LoadBalancerIP, s.want)
		}
	}

	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{specAddr(gatewayv1.IPAddressType, "10.245.255.200")}
	if svc := Service(gw, Options{ServiceType: corev1.ServiceTypeClusterIP}); svc.Spec.LoadBalancerIP != nil {
		t.Errorf("ClusterIP Service asks for %s", *svc.Spec.LoadBalancerIP)
	}
	if svc := Service(gw, Options{}); svc.Spec.LoadBalancerIP == nil || *svc.Spec.LoadBalancerIP != "10.245.255.200" {
		t.Errorf("default (LoadBalancer) Service asks for %v", svc.Spec.LoadBalancerIP)
	}
}
