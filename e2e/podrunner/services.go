package podrunner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// lbProvider is a small cloud provider: LoadBalancer Services get an address from the
// load-balancer range, and (when ranges are configured) LB and ClusterIP addresses
// forward TCP and UDP to ready endpoints, round robin, in user space.
type lbProvider struct {
	r      *Runner
	svcs   corelisters.ServiceLister
	slices discoverylisters.EndpointSliceLister
	queue  workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	addrOf    map[string]net.IP // service key -> LB address
	owner     map[uint32]string // LB address -> service key
	nextLB    uint32
	listeners map[listenKey]*forwarder
}

type listenKey struct {
	ip    string
	port  int32
	proto corev1.Protocol
}

func newLBProvider(r *Runner, f informers.SharedInformerFactory) *lbProvider {
	p := &lbProvider{
		r:         r,
		svcs:      f.Core().V1().Services().Lister(),
		slices:    f.Discovery().V1().EndpointSlices().Lister(),
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		addrOf:    map[string]net.IP{},
		owner:     map[uint32]string{},
		nextLB:    1,
		listeners: map[listenKey]*forwarder{},
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			p.queue.Add(key)
		}
	}
	_, _ = f.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	})
	// Endpoints are looked up per connection; the slice informer only has to exist.
	f.Discovery().V1().EndpointSlices().Informer()
	return p
}

func (p *lbProvider) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		p.queue.ShutDown()
	}()
	for {
		key, quit := p.queue.Get()
		if quit {
			return
		}
		if err := p.sync(ctx, key); err != nil {
			if ctx.Err() == nil {
				p.r.log.Info("service sync failed, retrying", "service", key, "err", err.Error())
			}
			p.queue.AddRateLimited(key)
		} else {
			p.queue.Forget(key)
		}
		p.queue.Done(key)
	}
}

func (p *lbProvider) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	svc, err := p.svcs.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		p.reconcileListeners(key, nil)
		p.releaseLB(key)
		return nil
	}
	if err != nil {
		return err
	}
	want := map[listenKey]fwdConfig{}
	mode := svc.Annotations[ProxyProtocolAnnotation]
	add := func(ip net.IP, ppMode string) {
		for _, sp := range svc.Spec.Ports {
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
				continue
			}
			want[listenKey{ip.String(), sp.Port, proto}] = fwdConfig{svcKey: key, ns: ns, svc: name, portName: sp.Name, proxyProto: ppMode}
		}
	}
	if cidr := p.r.cfg.ServiceCIDR; cidr != nil {
		for _, s := range svc.Spec.ClusterIPs {
			if ip := net.ParseIP(s); ip != nil && cidr.Contains(ip) {
				add(ip, "")
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil && p.r.cfg.LoadBalancerCIDR != nil {
		ip, err := p.allocateLB(key, svc)
		if errors.Is(err, errLBIPUnavailable) {
			// A cloud load balancer leaves the Service pending rather than hand out
			// another address; a change to the Service requeues it.
			p.r.log.Info("requested load-balancer address unavailable; Service stays pending",
				"service", key, "loadBalancerIP", svc.Spec.LoadBalancerIP)
			if err := p.publish(ctx, svc, nil); err != nil {
				return err
			}
			return p.reconcileListeners(key, want)
		}
		if err != nil {
			return err
		}
		add(ip, mode)
		if err := p.publish(ctx, svc, ip); err != nil {
			return err
		}
	} else {
		p.releaseLB(key)
	}
	return p.reconcileListeners(key, want)
}

// errLBIPUnavailable: the Service asks for a spec.loadBalancerIP outside the range or
// owned by another Service.
var errLBIPUnavailable = errors.New("requested load-balancer address is not available")

// allocateLB returns the service's address: the one it asks for (spec.loadBalancerIP;
// errLBIPUnavailable when that cannot be had, never another one), else the one it
// has, a current status address in range, or the next free one.
func (p *lbProvider) allocateLB(key string, svc *corev1.Service) (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := net.ParseIP(svc.Spec.LoadBalancerIP)
	if ip := p.addrOf[key]; ip != nil {
		if want == nil || want.Equal(ip) {
			return ip, nil
		}
		// The Service now asks for another address.
		delete(p.owner, binary.BigEndian.Uint32(ip.To4()))
		delete(p.addrOf, key)
	}
	cidr := p.r.cfg.LoadBalancerCIDR
	ones, bits := cidr.Mask.Size()
	base := cidr.IP.To4()
	if base == nil || bits != 32 {
		return nil, errors.New("load-balancer range must be IPv4")
	}
	size := uint32(1) << (32 - ones)
	take := func(ip net.IP) bool {
		v4 := ip.To4()
		if v4 == nil || !cidr.Contains(v4) {
			return false
		}
		u := binary.BigEndian.Uint32(v4)
		if off := u - binary.BigEndian.Uint32(base); off == 0 || off >= size-1 {
			return false
		}
		if o, ok := p.owner[u]; ok && o != key {
			return false
		}
		p.owner[u], p.addrOf[key] = key, v4
		return true
	}
	if want != nil {
		if take(want) {
			return want.To4(), nil
		}
		return nil, errLBIPUnavailable
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ip := net.ParseIP(ing.IP); ip != nil && take(ip) {
			return ip.To4(), nil
		}
	}
	for range size {
		off := p.nextLB
		p.nextLB++
		if p.nextLB >= size-1 {
			p.nextLB = 1
		}
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(base)+off)
		if take(ip) {
			return ip, nil
		}
	}
	return nil, errors.New("load-balancer range exhausted")
}

func (p *lbProvider) releaseLB(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip := p.addrOf[key]; ip != nil {
		delete(p.owner, binary.BigEndian.Uint32(ip.To4()))
		delete(p.addrOf, key)
	}
}

// publish sets the Service's status.loadBalancer.ingress to ip (none when ip is nil).
func (p *lbProvider) publish(ctx context.Context, svc *corev1.Service, ip net.IP) error {
	if ip == nil && len(svc.Status.LoadBalancer.Ingress) == 0 ||
		ip != nil && len(svc.Status.LoadBalancer.Ingress) == 1 && svc.Status.LoadBalancer.Ingress[0].IP == ip.String() {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := p.r.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LoadBalancer.Ingress = nil
		if ip != nil {
			vip := corev1.LoadBalancerIPModeVIP
			cur.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String(), IPMode: &vip}}
		}
		_, err = p.r.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// reconcileListeners makes the forwarders of service key exactly want.
func (p *lbProvider) reconcileListeners(key string, want map[listenKey]fwdConfig) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for lk, f := range p.listeners {
		if f.cfg().svcKey != key {
			continue
		}
		if _, ok := want[lk]; !ok {
			f.close()
			delete(p.listeners, lk)
		}
	}
	var errs []error
	for lk, cfg := range want {
		if f := p.listeners[lk]; f != nil {
			if f.cfg().svcKey != key {
				errs = append(errs, fmt.Errorf("%s %s:%d is already served for %s", lk.proto, lk.ip, lk.port, f.cfg().svcKey))
				continue
			}
			f.setCfg(cfg)
			continue
		}
		f, err := p.listen(lk, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.listeners[lk] = f
	}
	return errors.Join(errs...)
}

func (p *lbProvider) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for lk, f := range p.listeners {
		f.close()
		delete(p.listeners, lk)
	}
}

// endpoints lists ready "ip:port" backends of a service port.
func (p *lbProvider) endpoints(cfg fwdConfig, proto corev1.Protocol) []string {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: cfg.svc})
	slices, err := p.slices.EndpointSlices(cfg.ns).List(sel)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32 = -1
		for _, sp := range s.Ports {
			name, pr := "", corev1.ProtocolTCP
			if sp.Name != nil {
				name = *sp.Name
			}
			if sp.Protocol != nil {
				pr = *sp.Protocol
			}
			if name == cfg.portName && pr == proto && sp.Port != nil {
				port = *sp.Port
			}
		}
		if port < 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(port))))
			}
		}
	}
	return out
}

type fwdConfig struct {
	svcKey, ns, svc, portName string
	proxyProto                string
}

// forwarder serves one address:port:protocol of a service.
type forwarder struct {
	p    *lbProvider
	key  listenKey
	c    atomic.Pointer[fwdConfig]
	rr   atomic.Uint64
	l    net.Listener
	pc   net.PacketConn
	done chan struct{}
}

func (f *forwarder) cfg() fwdConfig       { return *f.c.Load() }
func (f *forwarder) setCfg(cfg fwdConfig) { f.c.Store(&cfg) }

func (p *lbProvider) listen(lk listenKey, cfg fwdConfig) (*forwarder, error) {
	f := &forwarder{p: p, key: lk, done: make(chan struct{})}
	f.setCfg(cfg)
	addr := net.JoinHostPort(lk.ip, strconv.Itoa(int(lk.port)))
	var err error
	if lk.proto == corev1.ProtocolUDP {
		if f.pc, err = p.r.cfg.Netns.ListenPacket("udp", addr); err != nil {
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		go f.serveUDP()
	} else {
		if f.l, err = p.r.cfg.Netns.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
		go f.serveTCP()
	}
	return f, nil
}

func (f *forwarder) close() {
	close(f.done)
	if f.l != nil {
		_ = f.l.Close()
	}
	if f.pc != nil {
		_ = f.pc.Close()
	}
}

// pick returns backends in round-robin order starting at the next one.
func (f *forwarder) pick() []string {
	eps := f.p.endpoints(f.cfg(), f.key.proto)
	if len(eps) == 0 {
		return nil
	}
	start := int(f.rr.Add(1)-1) % len(eps)
	return append(eps[start:len(eps):len(eps)], eps[:start]...)
}

func (f *forwarder) serveTCP() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		go f.handleTCP(c)
	}
}

func (f *forwarder) handleTCP(c net.Conn) {
	defer c.Close()
	var be net.Conn
	for _, addr := range f.pick() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := f.p.r.cfg.Netns.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			be = conn
			break
		}
	}
	if be == nil {
		return // no ready endpoint: the client sees the connection close
	}
	defer be.Close()
	if mode := f.cfg().proxyProto; mode != "" {
		h, err := ProxyHeader(mode, c.RemoteAddr(), c.LocalAddr())
		if err != nil {
			f.p.r.log.Error(err, "proxy protocol header", "service", f.cfg().svcKey)
			return
		}
		if _, err := be.Write(h); err != nil {
			return
		}
	}
	errc := make(chan error, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		errc <- err
	}
	go pipe(be, c)
	go pipe(c, be)
	select {
	case <-errc:
		<-errc
	case <-f.done:
	}
}

// serveUDP keeps one backend socket per client address, dropped after a minute idle.
func (f *forwarder) serveUDP() {
	type session struct {
		conn net.Conn
		last atomic.Int64
	}
	var mu sync.Mutex
	sessions := map[string]*session{}
	defer func() {
		mu.Lock()
		for _, s := range sessions {
			_ = s.conn.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := f.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		mu.Lock()
		s := sessions[client.String()]
		if s == nil {
			for _, addr := range f.pick() {
				conn, err := f.p.r.cfg.Netns.DialContext(context.Background(), "udp", addr)
				if err == nil {
					s = &session{conn: conn}
					break
				}
			}
			if s != nil {
				sessions[client.String()] = s
				go func(s *session, client net.Addr) {
					rb := make([]byte, 64<<10)
					for {
						_ = s.conn.SetReadDeadline(time.Now().Add(time.Minute))
						m, err := s.conn.Read(rb)
						if err != nil {
							if time.Since(time.Unix(0, s.last.Load())) < time.Minute && !errors.Is(err, net.ErrClosed) {
								if ne, ok := err.(net.Error); ok && ne.Timeout() {
									continue
								}
							}
							mu.Lock()
							if sessions[client.String()] == s {
								delete(sessions, client.String())
							}
							mu.Unlock()
							_ = s.conn.Close()
							return
						}
						_, _ = f.pc.WriteTo(rb[:m], client)
					}
				}(s, client)
			}
		}
		mu.Unlock()
		if s == nil {
			continue
		}
		s.last.Store(time.Now().UnixNano())
		_, _ = s.conn.Write(buf[:n])
	}
}
