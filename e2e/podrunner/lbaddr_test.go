package podrunner

import (
	"errors"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestAllocateLBRequested: a Service that asks for an address gets exactly that one
// or none (the way cloud load balancers stay pending), never a substitute.
func TestAllocateLBRequested(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.245.0.0/16")
	p := &lbProvider{r: &Runner{cfg: Config{LoadBalancerCIDR: cidr}}, addrOf: map[string]net.IP{}, owner: map[uint32]string{}, nextLB: 1}
	svc := func(lbIP string) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{LoadBalancerIP: lbIP}}
	}

	ip, err := p.allocateLB("ns/auto", svc(""))
	if err != nil || ip.String() != "10.245.0.1" {
		t.Fatalf("automatic address = %v, %v; want 10.245.0.1", ip, err)
	}
	if _, err := p.allocateLB("ns/out", svc("192.0.2.1")); !errors.Is(err, errLBIPUnavailable) {
		t.Fatalf("address outside the range: err = %v; want errLBIPUnavailable", err)
	}
	if _, err := p.allocateLB("ns/taken", svc("10.245.0.1")); !errors.Is(err, errLBIPUnavailable) {
		t.Fatalf("address of another Service: err = %v; want errLBIPUnavailable", err)
	}
	ip, err = p.allocateLB("ns/out", svc("10.245.255.200"))
	if err != nil || ip.String() != "10.245.255.200" {
		t.Fatalf("requested address = %v, %v; want 10.245.255.200", ip, err)
	}
	// Asking for another address moves the Service and frees the old one.
	ip, err = p.allocateLB("ns/out", svc("10.245.255.201"))
	if err != nil || ip.String() != "10.245.255.201" {
		t.Fatalf("changed request = %v, %v; want 10.245.255.201", ip, err)
	}
	if ip, err := p.allocateLB("ns/other", svc("10.245.255.200")); err != nil || ip.String() != "10.245.255.200" {
		t.Fatalf("freed address = %v, %v; want 10.245.255.200", ip, err)
	}
	// Without a request the Service keeps what it has.
	if ip, err := p.allocateLB("ns/auto", svc("")); err != nil || ip.String() != "10.245.0.1" {
		t.Fatalf("kept address = %v, %v; want 10.245.0.1", ip, err)
	}
}
