//go:build e2e

package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// The controller looks for the Certificate CRD every 30 s while it is missing
// (kube/controller Options.CertManagerCheck), then syncs and rebuilds.
const certManagerTimeout = 2 * time.Minute

const (
	awarenessOff = "cert-manager awareness is off"
	awarenessOn  = "cert-manager awareness is on"
)

// certificateCRD reads the real certificates.cert-manager.io CRD that ships in
// the cert-manager Go module we build against.
func certificateCRD(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		t.Fatalf("locating the cert-manager module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds", "cert-manager.io_certificates.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the Certificate CRD: %v", err)
	}
	var u unstructured.Unstructured
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&u.Object); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if u.GetKind() != "CustomResourceDefinition" || u.GetName() != "certificates.cert-manager.io" {
		t.Fatalf("%s holds %s %s, want the Certificate CRD", path, u.GetKind(), u.GetName())
	}
	return &u
}

// controllerLogs returns the logs of every controller pod, by pod name.
func (s *suite) controllerLogs(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	pods, err := e2eutil.Pods(ctx, s.cs, systemNS, "app.kubernetes.io/name="+controllerApp)
	if err != nil || len(pods) == 0 {
		t.Fatalf("controller pods: %v (%d)", err, len(pods))
	}
	out := map[string]string{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		b, err := s.cs.CoreV1().Pods(systemNS).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs of %s: %v", p.Name, err)
		}
		out[p.Name] = string(b)
	}
	return out
}

// listenerCond returns a listener's condition of the given type.
func listenerCond(gw *gatewayv1.Gateway, listener string, typ gatewayv1.ListenerConditionType) *metav1.Condition {
	for _, l := range gw.Status.Listeners {
		if string(l.Name) != listener {
			continue
		}
		for i, c := range l.Conditions {
			if c.Type == string(typ) {
				return &l.Conditions[i]
			}
		}
	}
	return nil
}

// TestCertManager: with only cert-manager's Certificate CRD installed (no
// cert-manager), the test plays cert-manager. A listener whose Secret does not
// exist yet names the Certificate and its Ready state; once the Secret appears
// the listener comes up by itself and serves that certificate.
//
// The CRD is installed here, while the controller runs, and removed at the end:
// the controller notices both without a restart (discovery, every 30 s), and the
// rest of the suite runs without the CRD, as before.
func TestCertManager(t *testing.T) {
	const host = "cm.example"
	var (
		ns   string
		cl   client.Client
		pair selfsigned.Pair
		// preinstalled: the CRD was there before (an attached cluster); leave it.
		preinstalled bool
	)
	f := features.New("cert-manager").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			scheme, err := source.NewScheme() // includes cert-manager's kinds
			if err != nil {
				t.Fatal(err)
			}
			if err := apiextensionsv1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			if cl, err = client.New(s.c.RESTConfig, client.Options{Scheme: scheme}); err != nil {
				t.Fatal(err)
			}
			crd := certificateCRD(t)
			var probe cmv1.CertificateList
			preinstalled = cl.List(ctx, &probe, client.InNamespace("default")) == nil
			if !preinstalled {
				// Without the CRD the controller runs as before and says so.
				for pod, logs := range s.controllerLogs(ctx, t) {
					if !strings.Contains(logs, awarenessOff) {
						t.Errorf("controller %s did not log %q without the CRD:\n%s", pod, awarenessOff, e2eutil.Tail(logs, 20))
					}
				}
			}
			if err := e2eutil.Apply(ctx, s.c.RESTConfig, fieldManager, []*unstructured.Unstructured{crd}); err != nil {
				t.Fatalf("install the Certificate CRD: %v", err)
			}

			ns = s.namespace(ctx, t, "e2e-certmanager")
			d, svc := echoApp(ns, "echo", 1)
			s.create(ctx, t, d, svc)
			cert := &cmv1.Certificate{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site"},
				Spec: cmv1.CertificateSpec{
					SecretName: "site-tls",
					DNSNames:   []string{host},
					IssuerRef:  cmmeta.IssuerReference{Name: "letsencrypt", Kind: "ClusterIssuer"},
				},
			}
			if err := cl.Create(ctx, cert); err != nil {
				t.Fatalf("create Certificate: %v", err)
			}
			setCertificateReady(ctx, t, cl, ns, "site", cmmeta.ConditionFalse, "Issuing", "Issuing certificate as Secret does not exist")

			gw := newGateway(ns, "gw")
			gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{
				Name:     "https",
				Protocol: gatewayv1.HTTPSProtocolType,
				Port:     443,
				TLS: &gatewayv1.ListenerTLSConfig{
					CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "site-tls"}},
				},
			})
			s.create(ctx, t, gw, newRoute(ns, "route", "gw", host, rule("/", "echo")))
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			return ctx
		}).
		Assess("the listener names the Certificate and its Ready state", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			want := fmt.Sprintf("Secret %s/site-tls does not exist yet; cert-manager Certificate %s/site (Ready=False, reason Issuing: "+
				"Issuing certificate as Secret does not exist) will create it", ns, ns)
			t0 := time.Now()
			s.waitGateway(ctx, t, ns, "gw", certManagerTimeout, "https ResolvedRefs=False naming the Certificate", func(gw *gatewayv1.Gateway) bool {
				c := listenerCond(gw, "https", gatewayv1.ListenerConditionResolvedRefs)
				return c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration == gw.Generation &&
					c.Reason == string(gatewayv1.ListenerReasonInvalidCertificateRef) && c.Message == want
			})
			t.Logf("listener named the Certificate %s after the Gateway was created", time.Since(t0).Round(time.Millisecond))
			// A change of the Ready condition shows up too.
			setCertificateReady(ctx, t, cl, ns, "site", cmmeta.ConditionFalse, "Failed", "rate limited, will retry")
			s.waitGateway(ctx, t, ns, "gw", statusTimeout, "message following the Ready condition", func(gw *gatewayv1.Gateway) bool {
				c := listenerCond(gw, "https", gatewayv1.ListenerConditionResolvedRefs)
				return c != nil && strings.Contains(c.Message, "(Ready=False, reason Failed: rate limited, will retry)")
			})
			// The HTTP listener is not held back by the missing certificate.
			gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Programmed with an address", gatewayReady)
			tg := target{addr: gatewayAddr(t, gw, 80), host: host, path: "/cm"}
			s.waitServes(ctx, t, tg, trafficTimeout, "200 over HTTP", func(status int, e *echoResponse) bool {
				return status == http.StatusOK && e != nil
			})
			// Every replica checks discovery on its own timer (30 s), so the others
			// may notice later than the leader that named the Certificate.
			var logs map[string]string
			err := e2eutil.Poll(ctx, certManagerTimeout, func(ctx context.Context) (bool, error) {
				logs = s.controllerLogs(ctx, t)
				for _, l := range logs {
					if !strings.Contains(l, awarenessOn) {
						return false, nil
					}
				}
				return true, nil
			})
			if err != nil {
				for pod, l := range logs {
					if !strings.Contains(l, awarenessOn) {
						t.Errorf("controller %s did not log %q after the CRD was installed:\n%s", pod, awarenessOn, e2eutil.Tail(l, 20))
					}
				}
			}
			return ctx
		}).
		Assess("playing cert-manager brings the listener up with that certificate", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var err error
			if pair, err = selfsigned.New(host); err != nil {
				t.Fatal(err)
			}
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site-tls"},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM},
			}
			t0 := time.Now()
			if err := cl.Create(ctx, secret); err != nil {
				t.Fatalf("create Secret: %v", err)
			}
			setCertificateReady(ctx, t, cl, ns, "site", cmmeta.ConditionTrue, "Ready", "Certificate is up to date and has not expired")
			gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "https ResolvedRefs+Programmed and the Gateway Programmed", func(gw *gatewayv1.Gateway) bool {
				rr := listenerCond(gw, "https", gatewayv1.ListenerConditionResolvedRefs)
				pr := listenerCond(gw, "https", gatewayv1.ListenerConditionProgrammed)
				return gatewayReady(gw) && rr != nil && rr.Status == metav1.ConditionTrue && rr.ObservedGeneration == gw.Generation &&
					pr != nil && pr.Status == metav1.ConditionTrue
			})
			t.Logf("listener resolved and programmed %s after the Secret was created", time.Since(t0).Round(time.Millisecond))

			block, _ := pem.Decode(pair.CertPEM)
			if block == nil {
				t.Fatal("no PEM block in the self-signed certificate")
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pair.CertPEM)
			addr := gatewayAddr(t, gw, 443)
			var last string
			err = e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
				status, peer, body, err := s.getTLS(ctx, addr, host, "/cm-tls", roots)
				if err != nil {
					last = err.Error()
					return false, nil
				}
				last = fmt.Sprintf("status %d: %.200s", status, body)
				var e echoResponse
				if status != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Path != "/cm-tls" || e.Namespace != ns {
					return false, nil
				}
				if !bytes.Equal(peer.Raw, block.Bytes) {
					return false, fmt.Errorf("the Gateway presented %q (serial %s), not the certificate in the Secret", peer.Subject, peer.SerialNumber)
				}
				return true, nil
			})
			if err != nil {
				t.Fatalf("https://%s/cm-tls (SNI %s): %v; last answer: %s", addr, host, err, last)
			}
			t.Logf("HTTPS through the Gateway presents the Secret's certificate %s after the Secret was created", time.Since(t0).Round(time.Millisecond))
			return ctx
		}).
		Assess("removing the CRD turns awareness off; the controller keeps working", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			if preinstalled {
				t.Skip("the Certificate CRD was installed before the suite; not removing it")
			}
			crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "certificates.cert-manager.io"}}
			if err := cl.Delete(ctx, crd); err != nil {
				t.Fatalf("delete the Certificate CRD: %v", err)
			}
			err := e2eutil.Poll(ctx, time.Minute, func(ctx context.Context) (bool, error) {
				return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKeyFromObject(crd), crd)), nil
			})
			if err != nil {
				t.Fatalf("the Certificate CRD is still there: %v", err)
			}
			const removed = "the certificates.cert-manager.io/v1 CRD was removed"
			var logs map[string]string
			err = e2eutil.Poll(ctx, certManagerTimeout, func(ctx context.Context) (bool, error) {
				logs = s.controllerLogs(ctx, t)
				for _, l := range logs {
					if !strings.Contains(l, removed) {
						return false, nil
					}
				}
				return true, nil
			})
			if err != nil {
				for pod, l := range logs {
					t.Errorf("controller %s: %q not logged:\n%s", pod, removed, e2eutil.Tail(l, 20))
				}
				t.FailNow()
			}
			// Translation and status go on: a vanished Secret is reported plainly.
			if err := cl.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "site-tls"}}); err != nil {
				t.Fatalf("delete Secret: %v", err)
			}
			want := fmt.Sprintf("Secret %s/site-tls does not exist", ns)
			s.waitGateway(ctx, t, ns, "gw", statusTimeout, "https ResolvedRefs=False for the deleted Secret", func(gw *gatewayv1.Gateway) bool {
				c := listenerCond(gw, "https", gatewayv1.ListenerConditionResolvedRefs)
				return c != nil && c.Status == metav1.ConditionFalse && c.Message == want
			})
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// setCertificateReady writes the Ready condition through the status
// subresource, as cert-manager does.
func setCertificateReady(ctx context.Context, t *testing.T, cl client.Client, ns, name string, status cmmeta.ConditionStatus, reason, msg string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var c cmv1.Certificate
		if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
			return err
		}
		now := metav1.Now()
		c.Status.Conditions = []cmv1.CertificateCondition{{
			Type: cmv1.CertificateConditionReady, Status: status, Reason: reason, Message: msg,
			LastTransitionTime: &now, ObservedGeneration: c.Generation,
		}}
		return cl.Status().Update(ctx, &c)
	})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("set Certificate %s/%s Ready=%s: %v", ns, name, status, err)
	} else if err != nil {
		t.Fatalf("Certificate %s/%s is gone: %v", ns, name, err)
	}
}

// getTLS sends one HTTPS GET from inside the cluster network namespace with SNI
// and Host set to host, trusting only roots; it returns the server's leaf
// certificate.
func (s *suite) getTLS(ctx context.Context, addr, host, path string, roots *x509.CertPool) (int, *x509.Certificate, string, error) {
	tr := &http.Transport{
		DialContext:       s.c.DialContext,
		TLSClientConfig:   &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Host = host
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, nil, "", fmt.Errorf("reading body: %w", err)
	}
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 {
		return res.StatusCode, nil, string(b), fmt.Errorf("no TLS peer certificate")
	}
	return res.StatusCode, res.TLS.PeerCertificates[0], string(b), nil
}
