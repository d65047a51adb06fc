//go:build e2e

package ingress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
)

const backendConfig = "ingress.zlab.co.jp/backend-config"

// dataPlaneAddress is the load-balancer address of the IngressClass's data plane.
func (s *suite) dataPlaneAddress(ctx context.Context, t *testing.T) string {
	t.Helper()
	var svc corev1.Service
	if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: dataPlane}, &svc); err != nil {
		t.Fatalf("data-plane Service: %v", err)
	}
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		t.Fatalf("data-plane Service %s has no load-balancer address", svc.Name)
	}
	return svc.Status.LoadBalancer.Ingress[0].IP
}

// TestReadmeExample: the original controller's README example. One echo Deployment
// exposed as two Services; an Ingress routes by host and path. To tell the Services
// apart, echoheaders-y targets the pods' h2c port (backend-config proto h2), so its
// requests arrive as HTTP/2.0 and echoheaders-x's as HTTP/1.1.
func TestReadmeExample(t *testing.T) {
	f := features.New("readme example").
		Assess("hosts reach the right Service; status has the address", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "ing-readme")
			is := networkingv1.PathTypeImplementationSpecific
			s.create(ctx, t,
				echoDeployment(ns, "echoheaders", 1),
				service(ns, "echoheaders-x", "echoheaders", 3000),
				service(ns, "echoheaders-y", "echoheaders", 3001),
			)
			s.waitDeployment(ctx, t, ns, "echoheaders", 1)
			// The backends are up: what follows measures the Ingress alone.
			t0 := time.Now()
			s.create(ctx, t, newIngress(ns, "echomap", map[string]string{backendConfig: `{"echoheaders-y": {"80": {"proto": "h2"}}}`},
				rule("foo.bar.com", path("/foo", is, "echoheaders-x")),
				rule("bar.baz.com", path("/bar", is, "echoheaders-y"), path("/foo", is, "echoheaders-x"))))
			addr := s.waitIngressAddress(ctx, t, ns, "echomap")
			if lb := s.dataPlaneAddress(ctx, t); addr != lb {
				t.Errorf("Ingress status address %s, data-plane Service address %s", addr, lb)
			}
			t.Logf("Ingress status address %s %s after the Ingress was created", addr, time.Since(t0).Round(time.Millisecond))
			base := "http://" + net.JoinHostPort(addr, "80")
			s.waitAnswer(ctx, t, base+"/foo", "foo.bar.com", nil, "200 from echoheaders-x", func(a answer) bool {
				return a.status == http.StatusOK && a.echo != nil
			})
			t.Logf("first answer %s after the Ingress was created", time.Since(t0).Round(time.Millisecond))
			for _, c := range []struct {
				host, path string
				status     int
				proto      string // "" when no backend may answer
			}{
				{"foo.bar.com", "/foo", 200, "HTTP/1.1"},
				{"bar.baz.com", "/bar", 200, "HTTP/2.0"},
				{"bar.baz.com", "/foo", 200, "HTTP/1.1"},
				{"foo.bar.com", "/bar", 404, ""},   // no such path on this host
				{"foo.bar.com", "/foo/x", 404, ""}, // ImplementationSpecific "/foo" is exact
				{"unknown.example", "/foo", 404, ""},
				{"unknown.example", "/healthz", 200, ""}, // internal default backend
			} {
				a, err := s.get(ctx, base+c.path, c.host, nil)
				if err != nil {
					t.Errorf("%s%s: %v", c.host, c.path, err)
					continue
				}
				switch {
				case a.status != c.status:
					t.Errorf("%s%s: %s, want %d", c.host, c.path, a, c.status)
				case c.proto == "" && a.echo != nil:
					t.Errorf("%s%s: answered by backend %s, want the data plane", c.host, c.path, a.echo.Pod)
				case c.proto != "" && (a.echo == nil || a.echo.Proto != c.proto || a.echo.Host != c.host || a.echo.Path != c.path || a.echo.Namespace != ns):
					t.Errorf("%s%s: echo saw %+v, want proto %s (the Service of that path), host %s, path %s", c.host, c.path, a.echo, c.proto, c.host, c.path)
				}
				// The operator ConfigMap's nghttpx-conf reached the data plane.
				if c.proto != "" && a.header.Get(operatorHeader) != "configmap" {
					t.Errorf("%s%s: response header %s = %q, want the operator ConfigMap's", c.host, c.path, operatorHeader, a.header.Get(operatorHeader))
				}
			}
			s.checkIngressObjects(ctx, t)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// checkIngressObjects: the data plane of the IngressClass's Gateway belongs to the
// IngressClass and runs the proxy with the Ingress flags; the shim's Gateway API
// objects exist only inside the controller (checked while an Ingress is served).
func (s *suite) checkIngressObjects(ctx context.Context, t *testing.T) {
	t.Helper()
	var class networkingv1.IngressClass
	if err := s.cl.Get(ctx, client.ObjectKey{Name: ingressClass}, &class); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: dataPlane}, &d); err != nil {
		t.Fatalf("data-plane Deployment of the IngressClass: %v", err)
	}
	refs := d.OwnerReferences
	if len(refs) != 1 || refs[0].Kind != "IngressClass" || refs[0].UID != class.UID {
		t.Errorf("data-plane Deployment owners %+v, want the IngressClass %s", refs, class.UID)
	}
	// The shim's Gateway API objects exist only inside the controller.
	var gws gatewayv1.GatewayList
	var routes gatewayv1.HTTPRouteList
	var classes gatewayv1.GatewayClassList
	for _, l := range []client.ObjectList{&gws, &routes, &classes} {
		if err := s.cl.List(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range gws.Items {
		t.Errorf("Gateway %s/%s exists in the API server", g.Namespace, g.Name)
	}
	for _, r := range routes.Items {
		t.Errorf("HTTPRoute %s/%s exists in the API server", r.Namespace, r.Name)
	}
	for _, c := range classes.Items {
		if c.Name != "nghttpx" {
			t.Errorf("GatewayClass %s exists in the API server", c.Name)
		}
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--ingress", "--gateway-name=" + ingressClass, "--nghttpx-configmap=" + systemNS + "/" + configMap} {
		if !slices.Contains(args, want) {
			t.Errorf("proxy args %q lack %s", args, want)
		}
	}
}

// TestTLSRedirect: a TLS Ingress answers cleartext requests with 308 to HTTPS and
// serves its certificate by SNI.
func TestTLSRedirect(t *testing.T) {
	f := features.New("tls redirect").
		Assess("308 to https; https with the Secret's certificate", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "ing-tls")
			const host = "secure.example.com"
			pair, err := selfsigned.New(host)
			if err != nil {
				t.Fatal(err)
			}
			ing := newIngress(ns, "secure", nil, rule(host, path("/", networkingv1.PathTypePrefix, "echo")))
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "secure-cert"}}
			s.create(ctx, t,
				echoDeployment(ns, "echo", 1),
				service(ns, "echo", "echo", 3000),
				&corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-cert"},
					Type:       corev1.SecretTypeTLS,
					Data:       map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM},
				},
			)
			s.waitDeployment(ctx, t, ns, "echo", 1)
			// The first certificate adds an HTTPS listener: the data plane's
			// Deployment and Service gain port 443 (a rollout).
			t0 := time.Now()
			s.create(ctx, t, ing)
			addr := s.waitIngressAddress(ctx, t, ns, "secure")
			a := s.waitAnswer(ctx, t, "http://"+net.JoinHostPort(addr, "80")+"/some/path?q=1", host, nil, "308",
				func(a answer) bool { return a.status == http.StatusPermanentRedirect })
			t.Logf("308 redirect %s after the Ingress was created", time.Since(t0).Round(time.Millisecond))
			if loc := a.header.Get("Location"); loc != "https://"+host+"/some/path?q=1" {
				t.Errorf("Location %q, want https://%s/some/path?q=1", loc, host)
			}
			block, _ := pem.Decode(pair.CertPEM)
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pair.CertPEM)
			conf := &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
			a = s.waitAnswer(ctx, t, "https://"+net.JoinHostPort(addr, "443")+"/secure", host, conf, "200 over TLS",
				func(a answer) bool { return a.status == http.StatusOK && a.echo != nil })
			t.Logf("redirect and HTTPS served %s after the Ingress was created", time.Since(t0).Round(time.Millisecond))
			if a.tls == nil || len(a.tls.PeerCertificates) == 0 || !bytes.Equal(a.tls.PeerCertificates[0].Raw, block.Bytes) {
				t.Errorf("the data plane did not present the Ingress's certificate for SNI %s", host)
			}
			if a.echo.Host != host || a.echo.Path != "/secure" {
				t.Errorf("echo saw host %s path %s", a.echo.Host, a.echo.Path)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestWeightedBackendConfig: backend-config weights 3:1 split the traffic of one
// path between two Services.
func TestWeightedBackendConfig(t *testing.T) {
	f := features.New("weighted backend-config").
		Assess("3:1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "ing-weight")
			const host = "weighted.example.com"
			s.create(ctx, t,
				echoDeployment(ns, "echo-a", 1), service(ns, "echo-a", "echo-a", 3000),
				echoDeployment(ns, "echo-b", 1), service(ns, "echo-b", "echo-b", 3000),
				newIngress(ns, "weighted", map[string]string{backendConfig: `{"echo-a": {"80": {"weight": 3}}, "echo-b": {"80": {"weight": 1}}}`},
					rule(host, path("/", networkingv1.PathTypePrefix, "echo-a"), path("/", networkingv1.PathTypePrefix, "echo-b"))),
			)
			s.waitDeployment(ctx, t, ns, "echo-a", 1)
			s.waitDeployment(ctx, t, ns, "echo-b", 1)
			addr := s.waitIngressAddress(ctx, t, ns, "weighted")
			url := "http://" + net.JoinHostPort(addr, "80") + "/split"
			// Both Services have endpoints in the data plane before counting.
			seen := map[string]bool{}
			s.waitAnswer(ctx, t, url, host, nil, "answers from both Services", func(a answer) bool {
				if a.status == http.StatusOK && a.echo != nil {
					seen[strings.SplitN(a.echo.Pod, "-", 3)[1]] = true
				}
				return seen["a"] && seen["b"]
			})
			hc := s.client(nil)
			defer hc.CloseIdleConnections()
			const n = 400
			counts := map[string]int{}
			for range n {
				a, err := do(ctx, hc, url, host)
				if err != nil || a.status != http.StatusOK || a.echo == nil {
					t.Fatalf("GET %s: %v %s", url, err, a)
				}
				counts[strings.SplitN(a.echo.Pod, "-", 3)[1]]++
			}
			share := float64(counts["a"]) / n
			t.Logf("%d requests: echo-a %d, echo-b %d (share of a %.3f, want 0.75)", n, counts["a"], counts["b"], share)
			if counts["a"]+counts["b"] != n || math.Abs(share-0.75) > 0.05 {
				t.Errorf("counts %v: share of echo-a %.3f, want 0.75 +- 0.05", counts, share)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestBrokenAnnotation: a broken annotation on one Ingress is an Event on that
// Ingress (once, not per rebuild); the healthy Ingress next to it is served, and so
// is the rest of the broken one.
func TestBrokenAnnotation(t *testing.T) {
	f := features.New("broken annotation").
		Assess("event on the broken Ingress; the healthy one serves", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns := s.namespace(ctx, t, "ing-broken")
			s.create(ctx, t,
				echoDeployment(ns, "echo", 1), service(ns, "echo", "echo", 3000),
				newIngress(ns, "healthy", nil, rule("healthy.example.com", path("/", networkingv1.PathTypePrefix, "echo"))),
				newIngress(ns, "broken", map[string]string{backendConfig: `{"echo": {"80": {"proto": "h2"}`},
					rule("broken.example.com", path("/", networkingv1.PathTypePrefix, "echo"))),
			)
			s.waitDeployment(ctx, t, ns, "echo", 1)
			addr := s.waitIngressAddress(ctx, t, ns, "healthy")
			base := "http://" + net.JoinHostPort(addr, "80")
			s.waitAnswer(ctx, t, base+"/", "healthy.example.com", nil, "200 from echo", func(a answer) bool {
				return a.status == http.StatusOK && a.echo != nil
			})
			// The unparsable annotation is ignored as a whole: the path is served over
			// HTTP/1.1, not h2.
			s.waitAnswer(ctx, t, base+"/", "broken.example.com", nil, "200 over HTTP/1.1", func(a answer) bool {
				return a.status == http.StatusOK && a.echo != nil && a.echo.Proto == "HTTP/1.1"
			})
			ev := s.waitEvent(ctx, t, ns, "broken", "InvalidAnnotation")
			if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Note, backendConfig) {
				t.Errorf("event %s %s: %q, want a Warning naming %s", ev.Type, ev.Reason, ev.Note, backendConfig)
			}
			t.Logf("event on the broken Ingress: %s %s: %s", ev.Type, ev.Reason, ev.Note)

			// Rebuilds (here: a change of the healthy Ingress) do not record it again.
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var h networkingv1.Ingress
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "healthy"}, &h); err != nil {
					return err
				}
				h.Spec.Rules = append(h.Spec.Rules, rule("healthy2.example.com", path("/", networkingv1.PathTypePrefix, "echo")))
				return s.cl.Update(ctx, &h)
			})
			if err != nil {
				t.Fatal(err)
			}
			s.waitAnswer(ctx, t, base+"/", "healthy2.example.com", nil, "200 for the new host", func(a answer) bool {
				return a.status == http.StatusOK && a.echo != nil
			})
			time.Sleep(2 * time.Second)
			evs := s.events(ctx, t, ns)
			var broken, healthy []string
			for _, e := range evs {
				desc := fmt.Sprintf("%s %s (series %v): %s", e.Type, e.Reason, e.Series, e.Note)
				switch e.Regarding.Name {
				case "broken":
					broken = append(broken, desc)
					if e.Series != nil {
						t.Errorf("event recorded %d times: %s", e.Series.Count, desc)
					}
				case "healthy":
					healthy = append(healthy, desc)
				}
			}
			if len(broken) != 1 {
				t.Errorf("events on the broken Ingress: %q, want exactly one", broken)
			}
			if len(healthy) != 0 {
				t.Errorf("events on the healthy Ingress: %q, want none", healthy)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// events lists the events.k8s.io/v1 Events about Ingresses in ns.
func (s *suite) events(ctx context.Context, t *testing.T, ns string) []eventsv1.Event {
	t.Helper()
	l, err := s.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list events in %s: %v", ns, err)
	}
	var out []eventsv1.Event
	for _, e := range l.Items {
		if e.Regarding.Kind == "Ingress" {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an Event with reason about Ingress name.
func (s *suite) waitEvent(ctx context.Context, t *testing.T, ns, name, reason string) eventsv1.Event {
	t.Helper()
	var found *eventsv1.Event
	var seen []string
	err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
		seen = seen[:0]
		for _, e := range s.events(ctx, t, ns) {
			seen = append(seen, e.Regarding.Name+": "+e.Reason)
			if e.Regarding.Name == name && e.Reason == reason {
				found = &e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event on Ingress %s/%s within %s; events: %v", reason, ns, name, statusTimeout, seen)
	}
	return *found
}

// TestNoPermissionErrors (runs last): the controller and the Ingress data plane did
// everything above with the RBAC of config/ and never hit a permission error
// (an informer without list/watch retries quietly, so a test could pass without it
// for a while).
func TestNoPermissionErrors(t *testing.T) {
	f := features.New("rbac").
		Assess("no forbidden in the logs", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			pods, err := e2eutil.Pods(ctx, s.cs, systemNS, "")
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, p := range pods {
				b, err := s.cs.CoreV1().Pods(systemNS).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
				if err != nil {
					t.Errorf("logs of %s: %v", p.Name, err)
					continue
				}
				checked++
				for _, line := range strings.Split(string(b), "\n") {
					// RBAC denials read `... is forbidden: User "..." cannot <verb> ...`
					// (a terminating namespace's "forbidden: unable to create" is not one).
					if strings.Contains(line, "forbidden: User") {
						t.Errorf("%s: %.400s", p.Name, line)
					}
				}
			}
			t.Logf("checked the logs of %d pods in %s", checked, systemNS)
			if checked < 3 {
				t.Errorf("checked the logs of %d pods, want both controller replicas and the data plane", checked)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
