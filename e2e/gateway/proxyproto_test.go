//go:build e2e

package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// clientSource is the address the test's client binds inside the cluster network
// namespace: neither the load balancer's, the bridge's nor a pod's, so the backend
// can only see it if the PROXY header carried it.
const clientSource = "127.0.0.77"

// rawGet sends one HTTP/1.1 GET over a fresh connection from clientSource (when
// bind is set) to addr, first writing preamble (a PROXY header, or nothing). It
// returns the response, or the error that ended the exchange.
func (s *suite) rawGet(ctx context.Context, addr, host, path string, bind bool, preamble []byte) (*http.Response, []byte, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if bind {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(clientSource)}
	}
	var conn net.Conn
	err := s.c.InNamespace(func() error {
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
	if _, err := conn.Write(append(preamble, req...)); err != nil {
		return nil, nil, fmt.Errorf("write: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, body, err
}

// proxyGateway is one Gateway of the test with what the load balancer sends.
type proxyGateway struct {
	name, version string // version: the PROXY protocol version the LB sends
	class         string
	annotate      bool // our Gateway annotation turns PROXY protocol on
}

// TestProxyProtocol: a Gateway that requires PROXY protocol (by our annotation,
// or by its GatewayClass parameters) behind a load balancer that sends a real
// PROXY v1 or v2 header passes the client's own address to the backend in
// X-Forwarded-For (the data plane adds no Forwarded header), and refuses a
// connection that comes without the header. A GatewayClass whose parameters
// cannot be used is not accepted, and is once they are fixed.
func TestProxyProtocol(t *testing.T) {
	var (
		ns       string
		t0       time.Time
		suffix   string
		paramsCM string // valid parameters of the "pp" class
		badCM    string // parameters ConfigMap of the "bad" class
		gws      []proxyGateway
	)
	f := features.New("PROXY protocol").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			t0 = time.Now()
			ns = s.namespace(ctx, t, "e2e-proxyproto")
			suffix = ns[len("e2e-proxyproto-"):]
			paramsCM, badCM = "e2e-pp-"+suffix, "e2e-pp-bad-"+suffix
			ppClass, badClass := "e2e-pp-"+suffix, "e2e-pp-bad-"+suffix
			gws = []proxyGateway{
				{name: "gw-v1", version: "v1", class: className, annotate: true},
				{name: "gw-v2", version: "v2", class: ppClass},
			}
			cms := []client.Object{
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: paramsCM},
					Data: map[string]string{translate.ParamProxyProtocol: "true"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: badCM},
					Data: map[string]string{translate.ParamProxyProtocol: "maybe"}},
			}
			classes := []client.Object{paramsClassObj(ppClass, s.controllerName, paramsCM), paramsClassObj(badClass, s.controllerName, badCM)}
			// Cluster-scoped and system-namespace objects outlive the test namespace.
			t.Cleanup(func() {
				dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for _, o := range append(classes, cms...) {
					if err := s.cl.Delete(dctx, o); client.IgnoreNotFound(err) != nil {
						t.Errorf("delete %T %s: %v", o, o.GetName(), err)
					}
				}
			})
			s.create(ctx, t, cms...)
			s.create(ctx, t, classes...)
			d, svc := echoApp(ns, "echo", 1)
			s.create(ctx, t, d, svc)
			for _, g := range gws {
				gw := newGateway(ns, g.name)
				gw.Spec.GatewayClassName = gatewayv1.ObjectName(g.class)
				// The load balancer in front sends a PROXY header of this version.
				gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{
					podrunner.ProxyProtocolAnnotation: gatewayv1.AnnotationValue(g.version),
				}}
				if g.annotate {
					gw.Annotations = map[string]string{translate.AnnotationProxyProtocol: "true"}
				}
				s.create(ctx, t, gw, newRoute(ns, g.name, g.name, g.name+".example", rule("/", "echo")))
			}
			return ctx
		}).
		Assess("a GatewayClass with unusable parameters is not accepted until they are fixed", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			name := "e2e-pp-bad-" + suffix
			gc := s.waitClass(ctx, t, name, "Accepted=False InvalidParameters", func(c *metav1.Condition) bool {
				return c.Status == metav1.ConditionFalse && c.Reason == string(gatewayv1.GatewayClassReasonInvalidParameters) &&
					strings.Contains(c.Message, `value "maybe" is not "true" or "false"`)
			})
			t.Logf("%s: %s", name, e2eutil.CondSummary(gc.Status.Conditions))
			// Fixing the ConfigMap (the controller watches it) accepts the class.
			var cm corev1.ConfigMap
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: badCM}, &cm); err != nil {
				t.Fatal(err)
			}
			cm.Data[translate.ParamProxyProtocol] = "false"
			if err := s.cl.Update(ctx, &cm); err != nil {
				t.Fatal(err)
			}
			s.waitClass(ctx, t, name, "Accepted=True after the fix", func(c *metav1.Condition) bool {
				return c.Status == metav1.ConditionTrue
			})
			return ctx
		}).
		Assess("the backend sees the client's address through PROXY v1 and v2", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			var wg sync.WaitGroup
			for _, g := range gws {
				wg.Go(func() { s.checkProxyGateway(ctx, t, ns, g) })
			}
			wg.Wait()
			t.Logf("both Gateways checked %s after the test started", time.Since(t0).Round(time.Millisecond))
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func paramsClassObj(name string, controller gatewayv1.GatewayController, cm string) *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gatewayv1.GatewayClassSpec{
			ControllerName: controller,
			ParametersRef: &gatewayv1.ParametersReference{
				Group: "", Kind: "ConfigMap", Name: cm, Namespace: ptr.To(gatewayv1.Namespace(systemNS)),
			},
		},
	}
}

// waitClass waits until the GatewayClass's Accepted condition, for its current
// generation, satisfies ok.
func (s *suite) waitClass(ctx context.Context, t *testing.T, name, what string, ok func(*metav1.Condition) bool) *gatewayv1.GatewayClass {
	t.Helper()
	var gc gatewayv1.GatewayClass
	err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Name: name}, &gc); err != nil {
			return false, nil
		}
		for i, c := range gc.Status.Conditions {
			if c.Type == string(gatewayv1.GatewayClassConditionStatusAccepted) && c.ObservedGeneration == gc.Generation {
				return ok(&gc.Status.Conditions[i]), nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("GatewayClass %s: %s not reached within %s: %s", name, what, statusTimeout, e2eutil.CondSummary(gc.Status.Conditions))
	}
	return &gc
}

// checkProxyGateway waits for one Gateway and checks its traffic; it reports
// with t.Errorf (it runs on its own goroutine).
func (s *suite) checkProxyGateway(ctx context.Context, t *testing.T, ns string, g proxyGateway) {
	var gw gatewayv1.Gateway
	err := e2eutil.Poll(ctx, gatewayTimeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: g.name}, &gw); err != nil {
			return false, nil
		}
		return gatewayReady(&gw), nil
	})
	if err != nil {
		t.Errorf("%s: not Accepted+Programmed with an address: %s", g.name, e2eutil.CondSummary(gw.Status.Conditions))
		return
	}
	// The LB address forwards with a PROXY header; the data plane may take a
	// moment to serve the route, so poll.
	addr := net.JoinHostPort(gw.Status.Addresses[0].Value, "80")
	host := g.name + ".example"
	var (
		last string
		e    echoResponse
	)
	err = e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
		res, body, err := s.rawGet(ctx, addr, host, "/"+g.version, true, nil)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("status %d: %.300s", res.StatusCode, body)
		e = echoResponse{}
		return res.StatusCode == http.StatusOK && json.Unmarshal(body, &e) == nil && e.Pod != "", nil
	})
	if err != nil {
		t.Errorf("%s: no 200 from echo through the load balancer %s (PROXY %s): %s", g.name, addr, g.version, last)
		return
	}
	xff := e.header("X-Forwarded-For")
	if xff != clientSource {
		t.Errorf("%s (PROXY %s): backend saw X-Forwarded-For %q, want the client's own address %s (load balancer %s)",
			g.name, g.version, xff, clientSource, gw.Status.Addresses[0].Value)
	}
	if fwd := e.header("Forwarded"); fwd != "" {
		t.Errorf("%s: unexpected Forwarded header %q (the data plane renders add-x-forwarded-for only)", g.name, fwd)
	}
	t.Logf("%s (PROXY %s via %s): X-Forwarded-For %q", g.name, g.version, addr, xff)

	// Straight to the pod: without a PROXY header the data plane closes the
	// connection without an answer; the same request with one is served (so the
	// refusal is the header's doing, not a closed port).
	pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, g.name))
	if err != nil || len(pods) == 0 || pods[0].Status.PodIP == "" {
		t.Errorf("%s: data-plane pod: %v (%d pods)", g.name, err, len(pods))
		return
	}
	podAddr := net.JoinHostPort(pods[0].Status.PodIP, "80")
	res, body, err := s.rawGet(ctx, podAddr, host, "/direct", false, nil)
	switch {
	case err == nil:
		t.Errorf("%s: a connection to %s without a PROXY header was answered: %d %.200s", g.name, podAddr, res.StatusCode, body)
	case strings.HasPrefix(err.Error(), "dial"):
		t.Errorf("%s: %v", g.name, err)
	case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "connection reset"):
		t.Errorf("%s: without a PROXY header the connection to %s ended with %v, want it closed", g.name, podAddr, err)
	default:
		t.Logf("%s: without a PROXY header %s closed the connection (%v)", g.name, podAddr, err)
	}
	header := fmt.Appendf(nil, "PROXY TCP4 192.0.2.9 %s 4242 80\r\n", pods[0].Status.PodIP)
	res, body, err = s.rawGet(ctx, podAddr, host, "/direct", false, header)
	var direct echoResponse
	if err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(body, &direct) != nil || direct.header("X-Forwarded-For") != "192.0.2.9" {
		t.Errorf("%s: direct request with a PROXY header: err %v, body %.200s; want 200 from echo with X-Forwarded-For 192.0.2.9", g.name, err, body)
	}
}
