//go:build e2e

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ocsptest"
)

// ocspFlags are what TestOCSPStapling adds to the controller's arguments (the
// controller passes them on to the proxies it provisions).
var ocspFlags = []string{"--ocsp-stapling"}

// ocspPKI is a CA and a leaf it issued; the Secret holds the leaf then the CA.
type ocspPKI struct{ *ocsptest.PKI }

func newOCSPPKI(t *testing.T, host string) *ocspPKI {
	t.Helper()
	return &ocspPKI{ocsptest.New(t, "e2e OCSP CA", host, big.NewInt(time.Now().UnixNano()), 24*time.Hour)}
}

// response is a CA-signed OCSP response about the leaf, current for a day.
func (p *ocspPKI) response(t *testing.T, status int) []byte {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	return p.Response(t, status, nil, now.Add(-time.Minute), now.Add(24*time.Hour))
}

func (p *ocspPKI) secret(ns, name string, resp []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:         p.ChainPEM,
			corev1.TLSPrivateKeyKey:   p.KeyPEM,
			translate.OCSPResponseKey: resp,
		},
	}
}

// sClientStatus runs openssl s_client -status against addr from inside the
// cluster network and returns its output.
func (s *suite) sClientStatus(ctx context.Context, t *testing.T, addr, host string) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := s.c.Command(cctx, "openssl", "s_client", "-status", "-connect", addr, "-servername", host)
	out, _ := cmd.CombinedOutput() // stdin is empty: s_client ends after the handshake
	return string(out)
}

func tlsHandshakeOK(out string) bool {
	return strings.Contains(out, "SSL handshake has read") && !strings.Contains(out, "Cipher is (NONE)")
}

// ocspCond returns the listener's OCSPStapled condition.
func ocspCond(gw *gatewayv1.Gateway, listener string) *metav1.Condition {
	return listenerCond(gw, listener, gatewayv1.ListenerConditionType(translate.ListenerConditionOCSPStapled))
}

// TestOCSPStapling: the controller runs with --ocsp-stapling; a Gateway's HTTPS
// listener serves a certificate whose Secret holds a good OCSP response, and
// openssl s_client -status (inside the cluster network) sees it stapled. The
// Secret then gets a revoked response: the listener condition turns
// False/Revoked and the staple disappears while the handshake still succeeds.
func TestOCSPStapling(t *testing.T) {
	const host = "ocsp.example"
	began := time.Now()
	var pki *ocspPKI
	f := features.New("OCSP stapling").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			s.withControllerArgs(ctx, t, ocspFlags)
			ns := s.namespace(ctx, t, "e2e-ocsp")
			pki = newOCSPPKI(t, host)
			d, svc := echoApp(ns, "echo", 1)
			gw := newGateway(ns, "gw")
			gw.Spec.Listeners = append(gw.Spec.Listeners, httpsListener("cert"))
			s.create(ctx, t, d, svc, pki.secret(ns, "cert", pki.response(t, ocsp.Good)), gw, newRoute(ns, "route", "gw", host, rule("/", "echo")))
			g := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			t.Logf("Gateway programmed after %s", time.Since(began).Round(time.Millisecond))
			return context.WithValue(ctx, scenarioKey{}, &scenario{ns: ns, gw: g, tg: target{addr: gatewayAddr(t, g, 443), host: host}})
		}).
		Assess("a good response is stapled", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			g := s.waitGateway(ctx, t, sc.ns, "gw", statusTimeout, "listener https OCSPStapled=True", func(g *gatewayv1.Gateway) bool {
				c := ocspCond(g, "https")
				return c != nil && c.Status == metav1.ConditionTrue && c.Reason == translate.OCSPReasonStapled
			})
			t.Logf("OCSPStapled: %s", ocspCond(g, "https").Message)
			// Every ready data-plane pod says its nghttpx can staple.
			pods, err := e2eutil.Pods(ctx, s.cs, sc.ns, dataPlaneSelector(sc.ns, "gw"))
			if err != nil || len(pods) == 0 {
				t.Fatalf("data-plane pods: %d, %v", len(pods), err)
			}
			for i := range pods {
				if !e2eutil.PodReady(&pods[i]) {
					continue
				}
				b, err := e2eutil.ProxyStatus(ctx, s.cs, &pods[i], adminPort)
				var st struct {
					Features *struct {
						OCSP bool `json:"ocsp"`
					} `json:"features"`
				}
				if err != nil || json.Unmarshal(b, &st) != nil || st.Features == nil || !st.Features.OCSP {
					t.Errorf("pod %s /status does not report OCSP support: %v %.300s", pods[i].Name, err, b)
				}
			}
			out := s.waitStaple(ctx, t, sc.tg.addr, host, "OCSP Response Status: successful", "Cert Status: good")
			serial := fmt.Sprintf("%X", pki.Leaf.SerialNumber.Bytes())
			if !strings.Contains(out, "Serial Number: "+serial) || !strings.Contains(out, "CN = "+host) {
				t.Errorf("the staple is not about our certificate (serial %s):\n%s", serial, e2eutil.Tail(out, 40))
			}
			t.Logf("staple seen after %s", time.Since(began).Round(time.Millisecond))
			return ctx
		}).
		Assess("a revoked response is reported and not stapled", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			start := time.Now()
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				var sec corev1.Secret
				if err := s.cl.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: "cert"}, &sec); err != nil {
					return err
				}
				sec.Data[translate.OCSPResponseKey] = pki.response(t, ocsp.Revoked)
				return s.cl.Update(ctx, &sec)
			})
			if err != nil {
				t.Fatalf("update the Secret: %v", err)
			}
			g := s.waitGateway(ctx, t, sc.ns, "gw", statusTimeout, "listener https OCSPStapled=False/Revoked", func(g *gatewayv1.Gateway) bool {
				c := ocspCond(g, "https")
				return c != nil && c.Status == metav1.ConditionFalse && c.Reason == translate.OCSPReasonRevoked
			})
			t.Logf("OCSPStapled False/Revoked after %s: %s", time.Since(start).Round(time.Millisecond), ocspCond(g, "https").Message)
			if c := listenerCond(g, "https", gatewayv1.ListenerConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("listener https Programmed %+v; a revoked response must not take the listener down", c)
			}
			s.waitStaple(ctx, t, sc.tg.addr, host, "OCSP response: no response sent")
			t.Logf("staple gone after %s; total wall time %s", time.Since(start).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
			// The route still serves.
			if st, _, body, err := s.get(ctx, target{addr: gatewayAddr(t, g, 80), host: host, path: "/ocsp"}); err != nil || st != http.StatusOK {
				t.Errorf("HTTP through the Gateway after the revocation: %d %v %.200s", st, err, body)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// waitStaple runs s_client until the handshake succeeds and its output holds
// every want string; it returns that output.
func (s *suite) waitStaple(ctx context.Context, t *testing.T, addr, host string, want ...string) string {
	t.Helper()
	var out string
	deadline := time.Now().Add(trafficTimeout)
	for {
		out = s.sClientStatus(ctx, t, addr, host)
		ok := tlsHandshakeOK(out)
		for _, w := range want {
			ok = ok && strings.Contains(out, w)
		}
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl s_client -status %s (SNI %s) never showed a successful handshake with %q:\n%s", addr, host, want, e2eutil.Tail(out, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
