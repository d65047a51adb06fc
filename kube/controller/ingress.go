package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/status"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// IngressOptions turn on the Ingress front-end: Ingresses of our IngressClasses
// become synthetic Gateways (package ingressshim) that are provisioned like any
// Gateway, the Ingresses get status.loadBalancer.ingress and Events.
type IngressOptions struct {
	// Shim holds the original controller's options. Shim.Namespace (where the
	// synthetic Gateways and their data planes live) defaults to Options.Namespace.
	Shim ingressshim.Options
	// ProxyProtocol is --proxy-proto: the synthetic Gateways' listeners accept a
	// PROXY protocol header.
	ProxyProtocol bool
	// PublishService is --publish-service: Ingress status shows the addresses of
	// this Service instead of those of the data plane's.
	PublishService types.NamespacedName
}

// EventAction is the action of the Events recorded on Ingresses.
const EventAction = "Translate"

// ingressFrontEnd is the controller's Ingress state.
type ingressFrontEnd struct {
	opts     IngressOptions
	recorder events.EventRecorder
	// recorded are the events of the last batch (by object UID, type, reason and
	// message): only new ones are recorded, and one that goes away and comes back
	// is recorded again.
	recorded map[string]bool
}

func (o *IngressOptions) source() *source.Ingress {
	if o == nil {
		return nil
	}
	return &source.Ingress{Shim: o.Shim, PublishService: o.PublishService}
}

// synthetic reports the shim's made-up objects of the current translation.
func (c *Controller) synthetic() status.Synthetic {
	if c.out == nil || c.out.Ingress == nil {
		return nil
	}
	return c.out.Ingress.Synthetic
}

func (c *Controller) isSynthetic(kind, ns, name string) bool {
	s := c.synthetic()
	return s != nil && s(kind, ns, name)
}

// ingressPipeline fills the Ingress part of the pipeline options.
func (c *Controller) ingressPipeline(po *pipeline.Options) {
	if o := c.opts.Ingress; o != nil {
		po.Ingress = o.Shim
		po.ProxyProtocol = o.ProxyProtocol
	}
}

// ensureGateway provisions a Gateway's data plane; a synthetic Gateway of the
// Ingress shim is owned by the IngressClass it serves.
func (c *Controller) ensureGateway(ctx context.Context, g *gatewayv1.Gateway) error {
	if !c.isSynthetic("Gateway", g.Namespace, g.Name) {
		return c.prov.Ensure(ctx, g)
	}
	var class *networkingv1.IngressClass
	if name := g.Annotations[ingressshim.AnnotationIngressClass]; name != "" {
		for i := range c.in.IngressClasses {
			if c.in.IngressClasses[i].Name == name {
				class = &c.in.IngressClasses[i]
			}
		}
	}
	return c.prov.EnsureIngress(ctx, g, class)
}

// syncIngresses writes Ingress status and records the shim's events (leader only).
func (c *Controller) syncIngresses(ctx context.Context) error {
	if c.ing == nil || c.out == nil || c.out.Ingress == nil {
		return nil
	}
	shim := c.out.Ingress
	byKey := map[types.NamespacedName]*networkingv1.Ingress{}
	for i := range c.in.Ingresses {
		x := &c.in.Ingresses[i]
		byKey[types.NamespacedName{Namespace: x.Namespace, Name: x.Name}] = x
	}
	var desired []status.IngressStatus
	var publish, nodes []string
	if k := c.ing.opts.PublishService; k.Name != "" {
		publish = c.publishAddresses(ctx, k)
	}
	// Nothing is written about what is going away: a terminating namespace takes
	// no new Events, and its Services may vanish before its Ingresses.
	terminating := map[string]bool{}
	for _, ns := range c.in.Namespaces {
		terminating[ns.Name] = ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
	}
	recorded := map[string]bool{}
	for _, ir := range shim.Ingresses {
		k := types.NamespacedName{Namespace: ir.Namespace, Name: ir.Name}
		ing := byKey[k]
		if ing == nil || ing.DeletionTimestamp != nil || terminating[ing.Namespace] {
			continue
		}
		addrs := publish
		switch {
		case c.ing.opts.PublishService.Name != "":
		case c.opts.InPod != nil:
			if nodes == nil {
				nodes = c.nodeAddresses(ctx)
			}
			addrs = nodes
		default:
			addrs = c.serviceAddresses(ctx, ir.Gateway.Namespace, ir.Gateway.Name)
		}
		desired = append(desired, status.IngressStatus{NamespacedName: k, UID: ing.UID, Addresses: addrs})
		for _, e := range ir.Events {
			c.recordEvent(recorded, ing, e, "ingress", k.String())
		}
	}
	for _, oe := range shim.Events {
		obj := c.eventObject(ctx, oe)
		if obj == nil {
			key := fmt.Sprintf("log\x00%v\x00%s\x00%s\x00%s", oe.Regarding, oe.Type, oe.Reason, oe.Message)
			if !c.ing.recorded[key] {
				c.log.Info("Ingress controller: "+oe.Message, "type", oe.Type, "reason", oe.Reason, "regarding", oe.Regarding)
			}
			recorded[key] = true
			continue
		}
		c.recordEvent(recorded, obj, oe.Event, oe.Regarding.Kind, oe.Regarding.Namespace+"/"+oe.Regarding.Name)
	}
	c.ing.recorded = recorded
	return c.writer.Ingresses(ctx, desired)
}

// recordEvent records e on obj (and logs it) unless the last batch had it too.
func (c *Controller) recordEvent(recorded map[string]bool, obj client.Object, e ingressshim.Event, kind, name string) {
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s", obj.GetUID(), e.Type, e.Reason, e.Message)
	recorded[key] = true
	if c.ing.recorded[key] {
		return
	}
	c.log.Info("Ingress controller event: "+e.Message, kind, name, "type", e.Type, "reason", e.Reason)
	if c.ing.recorder != nil {
		c.ing.recorder.Eventf(obj, nil, e.Type, e.Reason, EventAction, "%s", e.Message)
	}
}

// eventObject is the real object an ObjectEvent is about (from the cache), nil
// when there is none: the controller's options, a synthetic Gateway, or an
// object that does not exist (its events are logged only).
func (c *Controller) eventObject(ctx context.Context, oe ingressshim.ObjectEvent) client.Object {
	if oe.Regarding == nil {
		return nil
	}
	var obj client.Object
	switch oe.Regarding.Kind {
	case "Secret":
		obj = &corev1.Secret{}
	case "Service":
		obj = &corev1.Service{}
	case "ConfigMap":
		obj = &corev1.ConfigMap{}
	case "Ingress":
		obj = &networkingv1.Ingress{}
	case "IngressClass":
		obj = &networkingv1.IngressClass{}
	default:
		return nil
	}
	k := types.NamespacedName{Namespace: oe.Regarding.Namespace, Name: oe.Regarding.Name}
	if err := c.cache.Get(ctx, k, obj); err != nil {
		return nil
	}
	return obj
}

// publishAddresses are the addresses of --publish-service: its load-balancer
// ingress IPs or host names, then its external IPs.
func (c *Controller) publishAddresses(ctx context.Context, k types.NamespacedName) []string {
	var svc corev1.Service
	if err := c.cache.Get(ctx, k, &svc); err != nil {
		return nil
	}
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			out = append(out, in.IP)
		} else if in.Hostname != "" {
			out = append(out, in.Hostname)
		}
	}
	for _, ip := range svc.Spec.ExternalIPs {
		if !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}
