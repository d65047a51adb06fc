package node

import (
	"net"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPreflightNamesMissingBinaries(t *testing.T) {
	err := Preflight(t.TempDir())
	if err == nil {
		t.Fatal("Preflight passed with an empty bin dir")
	}
	for _, want := range []string{"kubelet missing", "kube-proxy missing", "kube-scheduler missing", "hack/build-k8s.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func lbService(name, lbIP string, ingress ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: lbIP}}
	for _, ip := range ingress {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func TestLBAllocate(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.245.0.0/30") // .0 network, .1 on lo, .2 free, .3 broadcast
	c := newLBController(nil, cidr, nil, logr.Discard())
	if ip := c.allocate("ns/a", lbService("a", "")); ip.String() != "10.245.0.2" {
		t.Fatalf("first address %v, want 10.245.0.2", ip)
	}
	if ip := c.allocate("ns/a", lbService("a", "")); ip.String() != "10.245.0.2" {
		t.Fatalf("a Service keeps its address; got %v", ip)
	}
	if ip := c.allocate("ns/b", lbService("b", "")); ip != nil {
		t.Fatalf("range exhausted, got %v", ip)
	}
	if ip := c.allocate("ns/b", lbService("b", "10.245.0.2")); ip != nil {
		t.Fatalf("a taken loadBalancerIP must leave the Service pending, got %v", ip)
	}
	if ip := c.allocate("ns/c", lbService("c", "10.9.9.9")); ip != nil {
		t.Fatalf("a loadBalancerIP outside the range must leave the Service pending, got %v", ip)
	}
	c.release("ns/a")
	if ip := c.allocate("ns/b", lbService("b", "10.245.0.2")); ip.String() != "10.245.0.2" {
		t.Fatalf("released address not reusable by loadBalancerIP: %v", ip)
	}

	_, wide, _ := net.ParseCIDR("10.245.0.0/16")
	c = newLBController(nil, wide, nil, logr.Discard())
	if ip := c.allocate("ns/x", lbService("x", "", "10.245.7.7")); ip.String() != "10.245.7.7" {
		t.Fatalf("an address already in status is kept (controller restart); got %v", ip)
	}
}
