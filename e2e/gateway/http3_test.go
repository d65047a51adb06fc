//go:build e2e

package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	quictest "github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// h3Host is the host every request of TestHTTP3 names (route hostname, SNI).
const h3Host = "h3.example"

// h3Gateway is one Gateway of TestHTTP3 once it serves.
type h3Gateway struct {
	name string
	gw   *gatewayv1.Gateway
	pods []string // IPs of its ready data-plane pods
}

// TestHTTP3: HTTP/3 through a Gateway's HTTPS listener via its load balancer
// (UDP), Alt-Svc on the TCP answers, no request of new connections lost while
// the leader rotates the shared keys, and QUIC tokens one replica issues
// accepted by the other when the class requires address validation.
//
// Two Gateways: "gw" (class with quicRequireToken, 2 replicas: every h2load
// connection to it goes through a Retry and token validation too) and "other"
// (default class, 1 replica, its own keys Secret: the negative control).
func TestHTTP3(t *testing.T) {
	began := time.Now()
	var (
		ns           string
		guard, plain h3Gateway
		h2loadBin    string
	)
	f := features.New("HTTP/3").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			bin, err := e2eutil.NghttpxBinary()
			if err != nil {
				t.Fatal(err)
			}
			h2loadBin = nghttpx.H2load(bin)
			ns = s.namespace(ctx, t, "e2e-h3")
			class := "e2e-h3-" + ns[len("e2e-h3-"):]
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: class},
				Data: map[string]string{translate.ParamHTTP3: "true", translate.ParamQUICRequireToken: "true"}}
			gc := paramsClassObj(class, s.controllerName, class)
			t.Cleanup(func() {
				dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for _, o := range []client.Object{gc, cm} {
					if err := s.cl.Delete(dctx, o); client.IgnoreNotFound(err) != nil {
						t.Errorf("delete %T %s: %v", o, o.GetName(), err)
					}
				}
			})
			s.create(ctx, t, cm, gc)
			d, svc := echoApp(ns, "echo", 1)
			s.create(ctx, t, d, svc, selfSigned(t, ns, "cert", h3Host))
			for _, g := range []struct{ name, class string }{{"gw", class}, {"other", className}} {
				gw := newGateway(ns, g.name)
				gw.Spec.GatewayClassName = gatewayv1.ObjectName(g.class)
				gw.Spec.Listeners = append(gw.Spec.Listeners, httpsListener("cert"))
				s.create(ctx, t, gw, newRoute(ns, g.name, g.name, h3Host, rule("/", "echo")))
			}
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			guard = h3Gateway{name: "gw", gw: s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)}
			plain = h3Gateway{name: "other", gw: s.waitGateway(ctx, t, ns, "other", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)}
			s.scaleDataPlane(ctx, t, ns, "gw", 2)
			guard.pods = s.readyPodIPs(ctx, t, ns, "gw", 2)
			plain.pods = s.readyPodIPs(ctx, t, ns, "other", 1)
			// Both serve over TCP first: the QUIC checks below then fail on QUIC only.
			for _, g := range []h3Gateway{guard, plain} {
				s.waitServes(ctx, t, target{addr: gatewayAddr(t, g.gw, 80), host: h3Host, path: "/ready"}, trafficTimeout, "200 from echo",
					func(status int, e *echoResponse) bool { return status == http.StatusOK && e != nil })
			}
			t.Logf("Gateways serving (gw: 2 replicas %v, other: %v) after %s", guard.pods, plain.pods, time.Since(began).Round(time.Millisecond))
			return ctx
		}).
		Assess("HTTP/3 through the load balancer, Alt-Svc on TCP", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			for _, g := range []h3Gateway{guard, plain} {
				addr := gatewayAddr(t, g.gw, 443)
				for _, h2 := range []bool{false, true} {
					proto, altSvc := s.altSvc(ctx, t, addr, h2)
					t.Logf("%s: HTTPS over TCP (%s) to %s: Alt-Svc %q", g.name, proto, addr, altSvc)
					if !strings.Contains(altSvc, `h3=":443"`) {
						t.Errorf("%s: %s answer on %s has Alt-Svc %q, want h3 on :443 advertised", g.name, proto, addr, altSvc)
					}
				}
				r, out := s.h2load(ctx, t, h2loadBin, addr, "-n", "200", "-c", "4")
				t.Logf("%s: h2load h3 via %s: %+v", g.name, addr, r)
				if r.Total != 200 || r.Succeeded != 200 || r.Failed != 0 || r.Errored != 0 || r.Timeout != 0 || !allTwoXX(out, 200) {
					t.Errorf("%s: HTTP/3 via the load balancer: %+v, want 200 of 200 answered 2xx\n%s", g.name, r, e2eutil.Tail(out, 30))
				}
				if !strings.Contains(out, "Application protocol: h3") {
					t.Errorf("%s: h2load did not speak h3:\n%s", g.name, e2eutil.Tail(out, 30))
				}
			}
			return ctx
		}).
		Assess("replicas accept each other's QUIC tokens", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			a, b := guard.pods[0], guard.pods[1]
			// Address validation is on: no token, a Retry.
			if r := s.quicHandshake(ctx, t, b, nil); !r.Retried {
				t.Fatalf("%s accepted a QUIC client without a token: quicRequireToken is not in effect, the rest proves nothing", b)
			}
			// A's NEW_TOKEN on B. The keys Secret may reach the two replicas a
			// moment apart (each reloads when it sees it): a few tries.
			var fromA quictest.QUICResult
			accepted, tries := false, 0
			for tries < 5 && !accepted {
				tries++
				fromA = s.quicHandshake(ctx, t, a, nil)
				if !fromA.Retried {
					t.Errorf("%s accepted a QUIC client without a token", a)
				}
				accepted = !s.quicHandshake(ctx, t, b, fromA.NewToken).Retried
				if !accepted {
					time.Sleep(time.Second)
				}
			}
			if !accepted {
				t.Errorf("%s answered the NEW_TOKEN of %s (same Gateway, same keys Secret) with a Retry %d times; want it accepted", b, a, tries)
			} else {
				t.Logf("%s: no token -> Retry; NEW_TOKEN from %s -> accepted without Retry (try %d)", b, a, tries)
			}
			// And the other way round.
			if r := s.quicHandshake(ctx, t, a, s.quicHandshake(ctx, t, b, nil).NewToken); r.Retried {
				t.Errorf("%s answered the NEW_TOKEN of %s with a Retry; want it accepted", a, b)
			}
			// Negative control: a token of a Gateway with another keys Secret.
			s.differentKeys(ctx, t, ns)
			other := s.quicHandshake(ctx, t, plain.pods[0], nil)
			if other.Retried {
				t.Errorf("%s (default class, no quicRequireToken) sent a Retry", plain.pods[0])
			}
			if r := s.quicHandshake(ctx, t, b, other.NewToken); !r.Retried {
				t.Errorf("%s accepted the NEW_TOKEN of Gateway other (another keys Secret) without a Retry", b)
			} else {
				t.Logf("negative control: the NEW_TOKEN of Gateway other -> Retry on %s", b)
			}
			return ctx
		}).
		Assess("h3 new connections across key rotations: none lost", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			t0 := time.Now()
			s.withControllerArgs(ctx, t, keysFlags)

			// Counters from here: reloads during the runs only.
			before := s.proxyStatuses(ctx, t, ns, "gw")
			w := s.watchKeys(ctx, ns, "gw")
			addr := gatewayAddr(t, guard.gw, 443)
			var total nghttpx.H2loadResult
			runs, after := 0, 0
			deadline := time.Now().Add(40 * time.Second)
			// New connections only (one request each, 5 every 20 ms): h2load 1.52
			// does not reconnect after a GOAWAY, so a long-lived connection would
			// count the requests it never sent as failed. Two runs after the third
			// rotation cover its reloads.
			for after < 2 && time.Now().Before(deadline) {
				r, out := s.h2load(ctx, t, h2loadBin, addr, "-r", "5", "--rate-period=20ms", "-c", "100", "-n", "100")
				runs++
				total.Total += r.Total
				total.Succeeded += r.Succeeded
				total.Failed += r.Failed
				total.Errored += r.Errored
				total.Timeout += r.Timeout
				if r.Succeeded != r.Total || r.Failed != 0 || r.Errored != 0 || r.Timeout != 0 || !allTwoXX(out, r.Total) {
					t.Errorf("run %d (%s after the flags, %d rotations so far): %+v\n%s", runs, time.Since(t0).Round(time.Millisecond), w.rotations(), r, e2eutil.Tail(out, 20))
				}
				if w.rotations() >= 3 {
					after++
				}
			}
			n, versions := w.stop()
			res := s.proxyStatuses(ctx, t, ns, "gw")
			t.Logf("h3 across key rotations: %d h2load runs, %d requests on new connections: %d succeeded, %d failed, %d errored, %d timeout; %d rotations (%d Secret versions) in %s",
				runs, total.Total, total.Succeeded, total.Failed, total.Errored, total.Timeout, n, versions, time.Since(t0).Round(time.Millisecond))
			if n < 3 {
				t.Errorf("only %d rotations of the keys Secret within 40s with a %s period", n, keysPeriod)
			}
			if total.Total < 500 || total.Succeeded != total.Total {
				t.Errorf("%d of %d requests succeeded; want all of at least 500", total.Succeeded, total.Total)
			}
			// Every replica reloaded for every rotation while the runs went on.
			for name, a := range res {
				b, ok := before[name]
				if !ok || len(res) != 2 {
					t.Fatalf("data-plane pods changed during the runs: before %v, after %v", before, res)
				}
				if d := *a.Reloads - *b.Reloads; d < int64(n) {
					t.Errorf("%s: %d nghttpx reloads during the runs for %d rotations: the runs did not cross each key change", name, d, n)
				} else {
					t.Logf("%s: %d nghttpx reloads during the runs", name, d)
				}
			}
			if d := counterDelta(t, "restarts", before, res, proxyStatus.restarts); d != 0 {
				t.Errorf("nghttpx was restarted %d times during the rotations", d)
			}
			t.Logf("wall time so far %s", time.Since(began).Round(time.Millisecond))
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// readyPodIPs returns the IPs of want ready, not terminating data-plane pods of
// the Gateway.
func (s *suite) readyPodIPs(ctx context.Context, t *testing.T, ns, gw string, want int) []string {
	t.Helper()
	var ips []string
	err := e2eutil.Poll(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, gw))
		if err != nil {
			return false, nil
		}
		ips = ips[:0]
		for i := range pods {
			if p := &pods[i]; e2eutil.PodReady(p) && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				ips = append(ips, p.Status.PodIP)
			}
		}
		return len(ips) == want, nil
	})
	if err != nil {
		t.Fatalf("Gateway %s: %d ready data-plane pods %v, want %d", gw, len(ips), ips, want)
	}
	return ips
}

// altSvc sends one HTTPS request over TCP (HTTP/2 or HTTP/1.1) from inside the
// cluster network and returns the protocol and the Alt-Svc header of the answer.
func (s *suite) altSvc(ctx context.Context, t *testing.T, addr string, h2 bool) (string, string) {
	t.Helper()
	tr := &http.Transport{
		DialContext:     s.c.DialContext,
		TLSClientConfig: &tls.Config{ServerName: h3Host, InsecureSkipVerify: true}, //nolint:gosec // the test's self-signed certificate
	}
	if h2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	defer tr.CloseIdleConnections()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "https://"+addr+"/altsvc", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = h3Host
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("HTTPS to %s: %v", addr, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS to %s: status %d", addr, res.StatusCode)
	}
	return res.Proto, res.Header.Get("Alt-Svc")
}

// h2load runs h2load over HTTP/3 against https://addr/h3 from inside the cluster
// network with extra arguments and returns its parsed summary and output.
func (s *suite) h2load(ctx context.Context, t *testing.T, bin, addr string, args ...string) (nghttpx.H2loadResult, string) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args = append([]string{"--npn-list=h3", "-H", ":authority: " + h3Host}, args...)
	args = append(args, "https://"+addr+"/h3")
	out, err := s.c.Command(rctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("h2load %s: %v\n%s", strings.Join(args, " "), err, e2eutil.Tail(string(out), 30))
	}
	r, err := nghttpx.ParseH2load(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return r, string(out)
}

// allTwoXX: h2load's status code line counts n 2xx answers.
func allTwoXX(out string, n int) bool {
	return strings.Contains(out, "status codes: "+strconv.Itoa(n)+" 2xx,")
}

// quicHandshake completes an h3 handshake with ip:443 presenting token (nil:
// none) and waits for the NEW_TOKEN. The UDP socket is made inside the cluster
// network namespace, so it lives there (and the source address, which tokens are
// bound to, is the same for every pod).
func (s *suite) quicHandshake(ctx context.Context, t *testing.T, ip string, token *quic.ClientToken) quictest.QUICResult {
	t.Helper()
	var udp *net.UDPConn
	err := s.c.InNamespace(func() error {
		var err error
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4zero})
		return err
	})
	if err != nil {
		t.Fatalf("UDP socket in the cluster network: %v", err)
	}
	defer udp.Close()
	res, err := quictest.QUICHandshake(ctx, udp, &net.UDPAddr{IP: net.ParseIP(ip), Port: 443}, h3Host, token)
	if err != nil {
		t.Fatalf("%s: %v", ip, err)
	}
	return res
}

// differentKeys checks that the two Gateways' keys Secrets exist and hold other
// QUIC keys (else the negative control would prove nothing).
func (s *suite) differentKeys(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	var first [][]byte
	for _, gw := range []string{"gw", "other"} {
		var sec corev1.Secret
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataPlaneName(gw) + "-keys"}, &sec); err != nil {
			t.Fatalf("keys Secret of %s: %v", gw, err)
		}
		st, err := keys.Decode(sec.Data, sec.Annotations)
		if err != nil {
			t.Fatalf("keys Secret of %s: %v", gw, err)
		}
		first = append(first, st.QUIC.Keys[0])
	}
	if bytes.Equal(first[0], first[1]) {
		t.Fatal("both Gateways have the same encrypting QUIC key")
	}
}

// keysWatch polls a Gateway's keys Secret in the background.
type keysWatch struct {
	mu       sync.Mutex
	versions []keysVersion
	stopC    chan struct{}
	done     chan struct{}
}

func (s *suite) watchKeys(ctx context.Context, ns, gw string) *keysWatch {
	w := &keysWatch{stopC: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		seen := ""
		for {
			var sec corev1.Secret
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataPlaneName(gw) + "-keys"}, &sec); err == nil && sec.ResourceVersion != seen {
				if st, err := keys.Decode(sec.Data, sec.Annotations); err == nil {
					seen = sec.ResourceVersion
					w.mu.Lock()
					w.versions = append(w.versions, keysVersion{rv: sec.ResourceVersion, st: st})
					w.mu.Unlock()
				}
			}
			select {
			case <-w.stopC:
				return
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *keysWatch) rotations() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return rotations(w.versions)
}

// stop ends the watch; it returns the rotations and versions seen.
func (w *keysWatch) stop() (int, int) {
	close(w.stopC)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return rotations(w.versions), len(w.versions)
}
