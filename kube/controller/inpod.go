package controller

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// InPodDataPlane is nghttpx inside the controller's own process, the original
// nghttpx Ingress controller's topology (kube/proxyagent Fed): it serves the
// Ingress front-end's one Gateway on the pod's (often the node's) network.
type InPodDataPlane interface {
	// Start runs before the first Sync, with the started cache; due asks for
	// another Sync although no input changed.
	Start(ctx context.Context, c cache.Cache, due func()) error
	// Sync applies a snapshot; every replica calls it, leader or not.
	Sync(ctx context.Context, in *load.Input) error
	// Stop drains and stops nghttpx (after the last Sync).
	Stop()
	// Healthy and Ready are its liveness and readiness checks.
	Healthy() error
	Ready() error
}

// InPodOptions turn on the in-pod topology (Options.InPod). It needs the
// Ingress front-end with ingressshim.Options.OneGateway: every Ingress of ours
// joins the one Gateway the data plane serves; that Gateway gets no
// provisioned Deployment, Service or access grants.
type InPodOptions struct {
	DataPlane InPodDataPlane
	// Gateway is the Gateway DataPlane serves (the shim's DefaultGatewayName in
	// its namespace).
	Gateway types.NamespacedName
	// Pod is this controller's pod ($POD_NAMESPACE/$POD_NAME). Without
	// --publish-service, Ingress status shows the addresses of the Nodes that
	// run the ready pods of its namespace with the same labels, as the
	// original does.
	Pod types.NamespacedName
	// PodLabels are Pod's labels (read at start; they select its peers).
	PodLabels map[string]string
	// AllowInternalIP (--allow-internal-ip) takes a Node's InternalIP when it
	// has no ExternalIP.
	AllowInternalIP bool
}

// inPodCacheOptions restrict the Pod informer to the controller's peers.
func inPodCacheOptions(byObject map[client.Object]cache.ByObject, o *InPodOptions) {
	if o == nil || len(o.PodLabels) == 0 {
		return
	}
	byObject[&corev1.Pod{}] = cache.ByObject{
		Namespaces: map[string]cache.Config{o.Pod.Namespace: {}},
		Label:      labels.SelectorFromSet(o.PodLabels),
	}
}

// servedInPod reports whether g is the Gateway the in-pod data plane serves.
func (c *Controller) servedInPod(g *gatewayv1.Gateway) bool {
	o := c.opts.InPod
	return o != nil && g.Namespace == o.Gateway.Namespace && g.Name == o.Gateway.Name && c.isSynthetic("Gateway", g.Namespace, g.Name)
}

// servedInPodKey is servedInPod by name.
func (c *Controller) servedInPodKey(k types.NamespacedName) bool {
	o := c.opts.InPod
	return o != nil && k == o.Gateway && c.isSynthetic("Gateway", k.Namespace, k.Name)
}

// startInPod starts the in-pod data plane once the caches synced; a Pod or
// Node change runs a batch (Ingress status follows the peers' nodes).
func (c *Controller) startInPod(ctx context.Context) error {
	o := c.opts.InPod
	if o == nil {
		return nil
	}
	due := func() {
		c.inPodDue.Store(true)
		c.batch.Notify()
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.Node{}} {
		if len(o.PodLabels) == 0 {
			break // no peers to follow
		}
		inf, err := c.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("in-pod mode: informer for %T (check the RBAC of config/in-pod): %w", obj, err)
		}
		if _, err := inf.AddEventHandler(notifyHandler(c.batch.Notify)); err != nil {
			return err
		}
	}
	return o.DataPlane.Start(ctx, c.cache, due)
}

// syncInPod hands the snapshot to the in-pod data plane after a translation,
// when it asked for it, or after a failure (runBatch retries with backoff).
func (c *Controller) syncInPod(ctx context.Context, rebuilt bool) error {
	o := c.opts.InPod
	if o == nil || c.in == nil {
		return nil
	}
	if !rebuilt && !c.inPodDue.Swap(false) && !c.inPodFailed {
		return nil
	}
	err := o.DataPlane.Sync(ctx, c.in)
	c.inPodFailed = err != nil
	if err != nil {
		return fmt.Errorf("in-pod data plane: %w", err)
	}
	return nil
}

// nodeAddresses are the addresses of the Nodes that run the controller's
// ready peers (pods of its namespace with its labels): ExternalIP, else
// InternalIP with AllowInternalIP, as the original nghttpx Ingress controller
// reports them.
func (c *Controller) nodeAddresses(ctx context.Context) []string {
	o := c.opts.InPod
	if len(o.PodLabels) == 0 {
		return nil // its own pod is unknown (no POD_NAME)
	}
	var pods corev1.PodList
	if err := c.cache.List(ctx, &pods, client.InNamespace(o.Pod.Namespace), client.MatchingLabels(o.PodLabels)); err != nil {
		c.log.Error(err, "listing the controller's pods for Ingress status")
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || !podReady(p) || seen[p.Spec.NodeName] {
			continue
		}
		seen[p.Spec.NodeName] = true
		var n corev1.Node
		if err := c.cache.Get(ctx, types.NamespacedName{Name: p.Spec.NodeName}, &n); err != nil {
			continue
		}
		for _, a := range nodeAddress(&n, o.AllowInternalIP) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// nodeAddress is n's ExternalIPs, else (allowInternal) its InternalIPs.
func nodeAddress(n *corev1.Node, allowInternal bool) []string {
	var ext, internal []string
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeExternalIP:
			ext = append(ext, a.Address)
		case corev1.NodeInternalIP:
			internal = append(internal, a.Address)
		}
	}
	if len(ext) > 0 || !allowInternal {
		return ext
	}
	return internal
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// inPodHealthz and inPodReadyz are the data plane's checks (nil without it).
func (c *Controller) inPodHealthz(*http.Request) error { return c.opts.InPod.DataPlane.Healthy() }
func (c *Controller) inPodReadyz(*http.Request) error  { return c.opts.InPod.DataPlane.Ready() }

// notifyHandler calls notify on every event.
func notifyHandler(notify func()) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(_, _ any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
}
