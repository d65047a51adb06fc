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
)

// lbController is the cloud provider's part that kube-proxy does not do: it gives
// each LoadBalancer Service (without a loadBalancerClass) an address from the
// load-balancer range in status.loadBalancer.ingress. kube-proxy forwards it; the
// range is local on lo of the cluster namespace, so the address is reachable there.
type lbController struct {
	client kubernetes.Interface
	cidr   *net.IPNet
	log    logr.Logger
	queue  workqueue.TypedRateLimitingInterface[string]

	mu     sync.Mutex
	addrOf map[string]uint32 // service key -> address
	owner  map[uint32]string
	next   uint32
}

func newLBController(client kubernetes.Interface, cidr *net.IPNet, log logr.Logger) *lbController {
	return &lbController{
		client: client, cidr: cidr, log: log,
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
	ip := c.allocate(key, svc)
	if ip == nil {
		c.log.Info("no load-balancer address available; Service stays pending", "service", key, "loadBalancerIP", svc.Spec.LoadBalancerIP)
		return nil
	}
	if in := svc.Status.LoadBalancer.Ingress; len(in) == 1 && in[0].IP == ip.String() {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := c.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		vip := corev1.LoadBalancerIPModeVIP
		cur.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String(), IPMode: &vip}}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.addrOf[key]; ok {
		delete(c.owner, u)
		delete(c.addrOf, key)
	}
}
