package controller

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// staticGateway is an accepted Gateway the translator programmed, asking for
// the given spec.addresses ("type=value" for a type other than IPAddress).
func staticGateway(addrs ...string) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{}
	g.Namespace, g.Name, g.Generation = "infra", "static", 2
	for _, a := range addrs {
		sa := gatewayv1.GatewaySpecAddress{Value: a}
		if typ, v, ok := strings.Cut(a, "="); ok {
			sa = gatewayv1.GatewaySpecAddress{Type: new(gatewayv1.AddressType(typ)), Value: v}
		}
		g.Spec.Addresses = append(g.Spec.Addresses, sa)
	}
	g.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2, LastTransitionTime: metav1.Unix(10, 0)},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", ObservedGeneration: 2, LastTransitionTime: metav1.Unix(10, 0)},
	}
	// What the translator lists without knowing the Service: the requested ones.
	for _, a := range provision.StaticAddresses(g) {
		g.Status.Addresses = append(g.Status.Addresses, gatewayv1.GatewayStatusAddress{Type: new(gatewayv1.IPAddressType), Value: a})
	}
	return g
}

func lbService(requested string, appliedAt int64, ingress ...string) *corev1.Service {
	svc := &corev1.Service{}
	svc.Namespace, svc.Name = "infra", "static-nghttpx"
	svc.CreationTimestamp = metav1.Unix(1, 0)
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	svc.Spec.LoadBalancerIP = requested
	svc.Spec.ClusterIPs = []string{"10.96.0.20"}
	at := metav1.Unix(appliedAt, 0)
	svc.ManagedFields = []metav1.ManagedFieldsEntry{
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Time: new(metav1.Unix(appliedAt+500, 0))},
		{Manager: provision.FieldOwner, Operation: metav1.ManagedFieldsOperationApply, Time: &at},
	}
	for _, in := range ingress {
		if strings.Contains(in, ".example") {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{Hostname: in})
		} else {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: in})
		}
	}
	return svc
}

func TestHoldAddresses(t *testing.T) {
	now := metav1.Unix(1000, 0)
	fresh, old := int64(995), int64(900) // applied 5 s and 100 s before now
	clusterIP := lbService("", old)
	clusterIP.Spec.Type, clusterIP.Spec.LoadBalancerIP = corev1.ServiceTypeClusterIP, ""
	cases := []struct {
		name       string
		gw         *gatewayv1.Gateway
		svc        *corev1.Service
		wantStatus metav1.ConditionStatus
		wantReason string
		// wantMsg are substrings of the message (Programmed=False only).
		wantMsg   []string
		wantAddrs []string
		recheck   time.Duration
	}{
		{name: "granted", gw: staticGateway("10.245.255.200"), svc: lbService("10.245.255.200", fresh, "10.245.255.200"),
			wantStatus: "True", wantReason: "Programmed", wantAddrs: []string{"10.245.255.200"}},
		{name: "granted, non-canonical IPv6 spellings", gw: staticGateway("2001:db8:0::1"), svc: lbService("2001:db8::1", old, "2001:0db8::1"),
			wantStatus: "True", wantReason: "Programmed", wantAddrs: []string{"2001:db8::1"}},
		{name: "requested, load balancer still deciding", gw: staticGateway("10.245.255.200"), svc: lbService("10.245.255.200", fresh),
			wantStatus: "False", wantReason: "AddressNotAssigned", wantMsg: []string{"10.245.255.200", "waiting for the load balancer", "infra/static-nghttpx"},
			recheck: 15 * time.Second},
		{name: "requested, never granted", gw: staticGateway("192.0.2.1"), svc: lbService("192.0.2.1", old),
			wantStatus: "False", wantReason: "AddressNotUsable", wantMsg: []string{"address 192.0.2.1 cannot be used", "20s", "choose another"}},
		{name: "load balancer handed out another address", gw: staticGateway("192.0.2.1"), svc: lbService("192.0.2.1", old, "10.245.0.7"),
			wantStatus: "False", wantReason: "AddressNotUsable", wantMsg: []string{"it assigned 10.245.0.7 instead"},
			wantAddrs: []string{"10.245.0.7"}},
		{name: "second static address cannot be had at once", gw: staticGateway("192.0.2.1", "10.245.255.200"), svc: lbService("192.0.2.1", fresh),
			wantStatus: "False", wantReason: "AddressNotUsable",
			wantMsg: []string{"10.245.255.200 cannot be used", "one address only (192.0.2.1)", "192.0.2.1: waiting"}, recheck: 15 * time.Second},
		{name: "first granted, second not", gw: staticGateway("10.245.255.200", "10.245.255.201"), svc: lbService("10.245.255.200", old, "10.245.255.200"),
			wantStatus: "False", wantReason: "AddressNotUsable", wantMsg: []string{"10.245.255.201 cannot be used"},
			wantAddrs: []string{"10.245.255.200"}},
		{name: "Service not updated yet", gw: staticGateway("10.245.255.200"), svc: lbService("192.0.2.1", old),
			wantStatus: "False", wantReason: "AddressNotAssigned", wantMsg: []string{"waiting for the data-plane Service infra/static-nghttpx to request it"}},
		{name: "no Service yet", gw: staticGateway("10.245.255.200"),
			wantStatus: "False", wantReason: "AddressNotAssigned", wantMsg: []string{"waiting for the data-plane Service to be created"}},
		{name: "ClusterIP Service", gw: staticGateway("10.245.255.200"), svc: clusterIP,
			wantStatus: "False", wantReason: "AddressNotUsable", wantMsg: []string{"of type ClusterIP", "--service-type=LoadBalancer"},
			wantAddrs: []string{"10.96.0.20"}},
		{name: "empty value with a static one: any granted address does", gw: staticGateway("", "10.245.255.200"),
			svc: lbService("10.245.255.200", old, "10.245.255.200"), wantStatus: "True", wantReason: "Programmed", wantAddrs: []string{"10.245.255.200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stored := []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "AddressNotAssigned", LastTransitionTime: metav1.Unix(500, 0)}}
			recheck := holdAddresses(c.gw, stored, grantOf(c.svc), now)
			got := meta.FindStatusCondition(c.gw.Status.Conditions, "Programmed")
			if got.Status != c.wantStatus || got.Reason != c.wantReason {
				t.Errorf("Programmed %s/%s %q, want %s/%s", got.Status, got.Reason, got.Message, c.wantStatus, c.wantReason)
			}
			if got.ObservedGeneration != 2 {
				t.Errorf("observedGeneration %d", got.ObservedGeneration)
			}
			if c.wantStatus == "False" && got.LastTransitionTime.Unix() != 500 {
				t.Errorf("lastTransitionTime %d, want the stored False's 500", got.LastTransitionTime.Unix())
			}
			for _, m := range c.wantMsg {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q lacks %q", got.Message, m)
				}
			}
			var addrs []string
			for _, a := range c.gw.Status.Addresses {
				if a.Type == nil || *a.Type != gatewayv1.IPAddressType {
					t.Errorf("address %s has type %v", a.Value, a.Type)
				}
				addrs = append(addrs, a.Value)
			}
			if !slices.Equal(addrs, c.wantAddrs) {
				t.Errorf("status addresses %v, want %v", addrs, c.wantAddrs)
			}
			if recheck != c.recheck {
				t.Errorf("recheck in %s, want %s", recheck, c.recheck)
			}
		})
	}
}

// Without static addresses, or when not accepted, the translator's verdict stands.
func TestHoldAddressesLeavesOthersAlone(t *testing.T) {
	now := metav1.Unix(1000, 0)
	dynamic := staticGateway("")
	dynamic.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Type: new(gatewayv1.IPAddressType), Value: "10.245.0.3"}}
	rejected := staticGateway("test/fake-invalid-type=fake", "192.0.2.1")
	rejected.Status.Conditions[0].Status, rejected.Status.Conditions[0].Reason = metav1.ConditionFalse, "UnsupportedAddress"
	rejected.Status.Conditions[1].Status, rejected.Status.Conditions[1].Reason = metav1.ConditionFalse, "Invalid"
	rejected.Status.Addresses = nil
	for _, g := range []*gatewayv1.Gateway{dynamic, rejected} {
		before := g.DeepCopy()
		if wait := holdAddresses(g, nil, grantOf(lbService("192.0.2.1", 900)), now); wait != 0 {
			t.Errorf("%v: recheck %s", g.Spec.Addresses, wait)
		}
		if !equalStatus(before, g) {
			t.Errorf("%v: status changed from %+v to %+v", g.Spec.Addresses, before.Status, g.Status)
		}
	}
	// A Gateway the translator did not program keeps its reason, but lists
	// only granted addresses.
	g := staticGateway("10.245.255.200")
	g.Status.Conditions[1].Status, g.Status.Conditions[1].Reason = metav1.ConditionFalse, "Invalid"
	holdAddresses(g, nil, grantOf(lbService("10.245.255.200", 900)), now)
	if c := meta.FindStatusCondition(g.Status.Conditions, "Programmed"); c.Reason != "Invalid" {
		t.Errorf("translator's False overridden: %+v", c)
	}
	if len(g.Status.Addresses) != 0 {
		t.Errorf("ungranted address listed: %+v", g.Status.Addresses)
	}
}

func equalStatus(a, b *gatewayv1.Gateway) bool {
	return equality.Semantic.DeepEqual(a.Status, b.Status)
}

func TestGrantedAddresses(t *testing.T) {
	svc := lbService("", 1, "10.245.0.1", "lb-1.example", "10.245.0.1")
	if got := grantedAddresses(svc); !slices.Equal(got, []string{"10.245.0.1", "lb-1.example"}) {
		t.Errorf("load balancer: %v", got)
	}
	st := statusAddresses(grantedAddresses(svc))
	if len(st) != 2 || *st[0].Type != gatewayv1.IPAddressType || *st[1].Type != gatewayv1.HostnameAddressType || st[1].Value != "lb-1.example" {
		t.Errorf("status addresses %+v", st)
	}
	svc.Spec.Type = corev1.ServiceTypeNodePort
	if got := grantedAddresses(svc); !slices.Equal(got, []string{"10.96.0.20"}) {
		t.Errorf("node port: %v", got)
	}
	svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	if got := grantedAddresses(svc); len(got) != 0 {
		t.Errorf("headless: %v", got)
	}
	// Our apply time wins over the creation time and other managers' entries.
	if sg := grantOf(lbService("192.0.2.1", 700)); sg.since.Unix() != 700 || sg.requested != "192.0.2.1" || !sg.found {
		t.Errorf("grant %+v", sg)
	}
}
