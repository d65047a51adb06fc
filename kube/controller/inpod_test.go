package controller

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// fakeInPod records Syncs and fails them while fail is set.
type fakeInPod struct {
	syncs int
	fail  error
}

func (f *fakeInPod) Start(context.Context, cache.Cache, func()) error { return nil }
func (f *fakeInPod) Sync(context.Context, *load.Input) error {
	f.syncs++
	return f.fail
}
func (f *fakeInPod) Stop()          {}
func (f *fakeInPod) Healthy() error { return nil }
func (f *fakeInPod) Ready() error   { return nil }

func peerPod(name, node string, ready bool, labels map[string]string) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: labels},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func node(name string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Addresses: addrs}}
}

// In-pod mode: every Ingress of ours joins the one Gateway the controller's
// pods serve, which is not provisioned, and Ingress status shows the
// addresses of the Nodes running the controller's ready peers.
func TestInPodIngressStatusAndNoProvisioning(t *testing.T) {
	ctx := context.Background()
	lbl := map[string]string{"k8s-app": "nghttpx-ingress-lb"}
	c, cl, _ := ingressController(t,
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"}, Spec: networkingv1.IngressClassSpec{Controller: ingressshim.DefaultIngressClassController}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: networkingv1.IngressClassSpec{Controller: ingressshim.DefaultIngressClassController}},
		testIngress("good", "foo.bar.com", ""),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "web"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}},
		peerPod("a", "node-a", true, lbl),
		peerPod("b", "node-b", true, lbl),
		peerPod("not-ready", "node-c", false, lbl),
		peerPod("other", "node-d", true, map[string]string{"k8s-app": "other"}),
		node("node-a", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.0.2.1"}),
		node("node-b", corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}),
		node("node-c", corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.0.2.3"}),
		node("node-d", corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.0.2.4"}),
	)
	dp := &fakeInPod{}
	c.opts.InPod = &InPodOptions{DataPlane: dp, Gateway: types.NamespacedName{Namespace: "system", Name: "nghttpx"},
		Pod: types.NamespacedName{Namespace: "kube-system", Name: "a"}, PodLabels: lbl}
	c.opts.Ingress.Shim.OneGateway = true
	c.ing.opts.Shim.OneGateway = true
	c.translateForTest(t, cl)
	syn := c.out.Ingress.Gateways
	if len(syn) != 1 || syn[0].Name != "nghttpx" || !c.servedInPod(&syn[0]) {
		t.Fatalf("synthetic Gateways %+v, want only system/nghttpx, served in the pod", syn)
	}

	for _, tc := range []struct {
		allowInternal bool
		want          []string
	}{{false, []string{"192.0.2.1"}}, {true, []string{"10.0.0.2", "192.0.2.1"}}} {
		c.opts.InPod.AllowInternalIP = tc.allowInternal
		if got := c.nodeAddresses(ctx); !slices.Equal(got, tc.want) {
			t.Errorf("allowInternalIP=%v: node addresses %v, want %v (ExternalIP, else InternalIP when allowed; ready peers only)",
				tc.allowInternal, got, tc.want)
		}
	}
	if err := c.syncIngresses(ctx); err != nil {
		t.Fatal(err)
	}
	var ing networkingv1.Ingress
	if err := cl.Get(ctx, types.NamespacedName{Namespace: "web", Name: "good"}, &ing); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range ing.Status.LoadBalancer.Ingress {
		got = append(got, a.IP)
	}
	if want := []string{"10.0.0.2", "192.0.2.1"}; !slices.Equal(got, want) {
		t.Errorf("Ingress status %v, want the nodes' addresses %v", got, want)
	}

	// The batch hands each new snapshot over, retries a failure, and
	// syncs again when the data plane asks.
	for _, step := range []struct {
		rebuilt, due bool
		fail         error
		want         int
	}{
		{rebuilt: true, want: 1},
		{want: 1},
		{rebuilt: true, fail: errors.New("apply failed"), want: 2},
		{want: 3},
		{want: 3},
		{due: true, want: 4},
	} {
		dp.fail = step.fail
		c.inPodDue.Store(step.due)
		err := c.syncInPod(ctx, step.rebuilt)
		if (err != nil) != (step.fail != nil) {
			t.Errorf("%+v: error %v", step, err)
		}
		if dp.syncs != step.want {
			t.Errorf("%+v: %d syncs, want %d", step, dp.syncs, step.want)
		}
	}
}
