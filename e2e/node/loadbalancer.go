package node

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// lbController is the cloud provider's part that kube-proxy does not do: it gives
// each LoadBalancer Service (without a loadBalancerClass) an address from the
// load-balancer range in status.loadBalancer.ingress. kube-proxy forwards it; the
// range is local on lo of the cluster namespace, so the address is reachable there.
// Services that ask for a PROXY protocol header are served by fwd instead.
type lbController struct {
	client kubernetes.Interface
	cidr   *net.IPNet
	log    logr.Logger
	fwd    *proxyForwarders // nil: no PROXY protocol support
	queue  workqueue.TypedRateLimitingInterface[string]

	mu     sync.Mutex
	addrOf map[string]uint32 // service key -> address
	owner  map[uint32]string
	next   uint32
}

func newLBController(client kubernetes.Interface, cidr *net.IPNet, ns *podrunner.NetNS, log logr.Logger) *lbController {
	var fwd *proxyForwarders
	if ns != nil {
		fwd = &proxyForwarders{ns: ns, log: log, svc: map[string]*svcForwarder{}}
	}
	return &lbController{
		client: client, cidr: cidr, log: log, fwd: fwd,
		queue:  workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		addrOf: map[string]uint32{}, owner: map[uint32]string{}, next: 2, // .1 is the range's own address on lo
	}
}

func (c *lbController) run(ctx context.Context) {
	f := informers.NewSharedInformerFactory(c.client, 10*time.Minute)
	svcs := f.Core().V1().Services()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = svcs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	go func() { <-ctx.Done(); c.queue.ShutDown() }()
	lister := svcs.Lister()
	for {
		key, quit := c.queue.Get()
		if quit {
			f.Shutdown()
			if c.fwd != nil {
				c.fwd.closeAll()
			}
			return
		}
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		svc, err := lister.Services(ns).Get(name)
		if apierrors.IsNotFound(err) {
			c.release(key)
			err = nil
		} else if err == nil {
			err = c.sync(ctx, key, svc)
		}
		if err != nil && ctx.Err() == nil {
			c.log.Info("load-balancer sync failed, retrying", "service", key, "err", err.Error())
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

func (c *lbController) sync(ctx context.Context, key string, svc *corev1.Service) error {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerClass != nil {
		c.release(key)
		return nil
	}
	mode := svc.Annotations[podrunner.ProxyProtocolAnnotation]
	if mode != "" && mode != "v1" && mode != "v2" {
		c.release(key)
		c.log.Info("PROXY protocol annotation must be v1 or v2; Service stays pending", "service", key, "value", mode)
		return nil
	}
	ip := c.allocate(key, svc)
	if ip == nil {
		c.log.Info("no load-balancer address available; Service stays pending", "service", key, "loadBalancerIP", svc.Spec.LoadBalancerIP)
		return nil
	}
	ipMode := corev1.LoadBalancerIPModeVIP
	if mode != "" && c.fwd != nil {
		if err := c.fwd.ensure(key, ip, svc, mode); err != nil {
			return err
		}
		// kube-proxy leaves Proxy-mode addresses to the load balancer (the forwarder).
		ipMode = corev1.LoadBalancerIPModeProxy
	} else if c.fwd != nil {
		c.fwd.remove(key)
	}
	if in := svc.Status.LoadBalancer.Ingress; len(in) == 1 && in[0].IP == ip.String() && in[0].IPMode != nil && *in[0].IPMode == ipMode {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := c.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String(), IPMode: &ipMode}}
		_, err = c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// allocate keeps a Service's address, honours spec.loadBalancerIP (nil when taken or
// outside the range: a cloud load balancer leaves such a Service pending) and
// otherwise takes the next free one.
func (c *lbController) allocate(key string, svc *corev1.Service) net.IP {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := binary.BigEndian.Uint32(c.cidr.IP.To4())
	ones, _ := c.cidr.Mask.Size()
	size := uint32(1) << (32 - ones)
	toIP := func(u uint32) net.IP { ip := make(net.IP, 4); binary.BigEndian.PutUint32(ip, u); return ip }
	take := func(u uint32) bool {
		if u-base < 2 || u-base >= size-1 {
			return false
		}
		if o, ok := c.owner[u]; ok && o != key {
			return false
		}
		if old, ok := c.addrOf[key]; ok && old != u {
			delete(c.owner, old)
		}
		c.owner[u], c.addrOf[key] = key, u
		return true
	}
	parse := func(s string) (uint32, bool) {
		ip := net.ParseIP(s).To4()
		if ip == nil || !c.cidr.Contains(ip) {
			return 0, false
		}
		return binary.BigEndian.Uint32(ip), true
	}
	if svc.Spec.LoadBalancerIP != "" {
		if u, ok := parse(svc.Spec.LoadBalancerIP); ok && take(u) {
			return toIP(u)
		}
		return nil
	}
	if u, ok := c.addrOf[key]; ok {
		return toIP(u)
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if u, ok := parse(in.IP); ok && take(u) {
			return toIP(u)
		}
	}
	for range size {
		off := c.next
		if c.next++; c.next >= size-1 {
			c.next = 2
		}
		if take(base + off) {
			return toIP(base + off)
		}
	}
	return nil
}

func (c *lbController) release(key string) {
	if c.fwd != nil {
		c.fwd.remove(key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.addrOf[key]; ok {
		delete(c.owner, u)
		delete(c.addrOf, key)
	}
}
