package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// proxyForwarders serve the load-balancer addresses of Services that ask for a
// PROXY protocol header (podrunner.ProxyProtocolAnnotation). Their ingress is
// published with ipMode Proxy, so kube-proxy leaves the address alone and the
// connection reaches a listener here, which sends the header and then the client's
// bytes to the Service's cluster IP (where kube-proxy picks an endpoint). UDP ports of
// such a Service are forwarded without a header.
type proxyForwarders struct {
	ns  *podrunner.NetNS
	log logr.Logger

	mu  sync.Mutex
	svc map[string]*svcForwarder // service key
}

type svcForwarder struct {
	sig     string
	closers []io.Closer
	done    chan struct{}
}

func (f *svcForwarder) close() {
	close(f.done)
	for _, c := range f.closers {
		_ = c.Close()
	}
}

// ensure makes key's forwarders match (lbIP, svc ports -> cluster IP, mode).
func (p *proxyForwarders) ensure(key string, lbIP net.IP, svc *corev1.Service, mode string) error {
	sig := fmt.Sprintf("%s %s %s", lbIP, svc.Spec.ClusterIP, mode)
	for _, sp := range svc.Spec.Ports {
		sig += fmt.Sprintf(" %s/%d", sp.Protocol, sp.Port)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.svc[key]; cur != nil {
		if cur.sig == sig {
			return nil
		}
		cur.close()
		delete(p.svc, key)
	}
	f := &svcForwarder{sig: sig, done: make(chan struct{})}
	for _, sp := range svc.Spec.Ports {
		listen := net.JoinHostPort(lbIP.String(), strconv.Itoa(int(sp.Port)))
		target := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(sp.Port)))
		if sp.Protocol == corev1.ProtocolUDP {
			pc, err := p.ns.ListenPacket("udp", listen)
			if err != nil {
				f.close()
				return fmt.Errorf("listen udp %s: %w", listen, err)
			}
			f.closers = append(f.closers, pc)
			go p.serveUDP(pc, target, f.done)
			continue
		}
		l, err := p.ns.Listen("tcp", listen)
		if err != nil {
			f.close()
			return fmt.Errorf("listen tcp %s: %w", listen, err)
		}
		f.closers = append(f.closers, l)
		go p.serveTCP(key, l, target, mode)
	}
	p.svc[key] = f
	return nil
}

func (p *proxyForwarders) remove(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.svc[key]; cur != nil {
		cur.close()
		delete(p.svc, key)
	}
}

func (p *proxyForwarders) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, f := range p.svc {
		f.close()
		delete(p.svc, k)
	}
}

func (p *proxyForwarders) serveTCP(key string, l net.Listener, target, mode string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			be, err := p.ns.DialContext(ctx, "tcp", target)
			cancel()
			if err != nil {
				return // no endpoint: the client sees the connection close, as with a cloud LB
			}
			defer be.Close()
			h, err := podrunner.ProxyHeader(mode, c.RemoteAddr(), c.LocalAddr())
			if err != nil {
				p.log.Error(err, "PROXY protocol header", "service", key)
				return
			}
			if _, err := be.Write(h); err != nil {
				return
			}
			podrunner.Pipe(be, c)
		}()
	}
}

// serveUDP keeps one upstream socket per client address, dropped after a minute idle.
func (p *proxyForwarders) serveUDP(pc net.PacketConn, target string, done chan struct{}) {
	type session struct {
		conn net.Conn
		last atomic.Int64
	}
	var mu sync.Mutex
	sessions := map[string]*session{}
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				mu.Lock()
				for _, s := range sessions {
					_ = s.conn.Close()
				}
				mu.Unlock()
				return
			case <-t.C:
				mu.Lock()
				for k, s := range sessions {
					if time.Since(time.Unix(0, s.last.Load())) > time.Minute {
						_ = s.conn.Close()
						delete(sessions, k)
					}
				}
				mu.Unlock()
			}
		}
	}()
	buf := make([]byte, 65535)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		mu.Lock()
		s := sessions[addr.String()]
		if s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			conn, err := p.ns.DialContext(ctx, "udp", target)
			cancel()
			if err != nil {
				mu.Unlock()
				continue
			}
			s = &session{conn: conn}
			sessions[addr.String()] = s
			go func() {
				b := make([]byte, 65535)
				for {
					m, err := conn.Read(b)
					if err != nil {
						return
					}
					s.last.Store(time.Now().UnixNano())
					_, _ = pc.WriteTo(b[:m], addr)
				}
			}()
		}
		mu.Unlock()
		s.last.Store(time.Now().UnixNano())
		_, _ = s.conn.Write(buf[:n])
	}
}
