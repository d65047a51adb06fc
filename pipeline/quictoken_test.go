package pipeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// quicTokenInput is one HTTPS Gateway of class "c", whose parameters ConfigMap
// holds params (nil: no parametersRef), with annotations.
func quicTokenInput(t *testing.T, params map[string]string, annotations map[string]string) *load.Input {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "a.example"},
		DNSNames: []string{"a.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	in := &load.Input{}
	gc := gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName}}
	if params != nil {
		in.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: "sys", Name: "p"}, Data: params}}
		gc.Spec.ParametersRef = &gatewayv1.ParametersReference{Kind: "ConfigMap", Name: "p", Namespace: ptr.To(gatewayv1.Namespace("sys"))}
	}
	in.GatewayClasses = []gatewayv1.GatewayClass{gc}
	in.Secrets = []corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		}}}
	in.Gateways = []gatewayv1.Gateway{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw", Annotations: annotations},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "c", Listeners: []gatewayv1.Listener{{
			Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
			TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate),
				CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert"}}},
		}}},
	}}
	return in
}

// TestQUICRequireTokenSetting: the class parameter quicRequireToken reaches the
// rendered configuration (run, translate); the proxy agent skips class parameters
// and gets it as the render option (--quic-require-token), which settings that
// do not ask for it never turn off.
func TestQUICRequireTokenSetting(t *testing.T) {
	for _, tc := range []struct {
		name        string
		params      map[string]string
		annotations map[string]string
		skipParams  bool // the proxy agent
		flag        bool // Render.QUICRequireToken
		want        bool
	}{
		{name: "class parameter", params: map[string]string{translate.ParamQUICRequireToken: "true"}, want: true},
		{name: "class parameter false", params: map[string]string{translate.ParamQUICRequireToken: "false"}},
		{name: "no parameters", want: false},
		{name: "proxy flag", params: map[string]string{translate.ParamQUICRequireToken: "true"},
			skipParams: true, flag: true, want: true},
		{name: "render option, settings without it", params: map[string]string{translate.ParamProxyProtocol: "false"},
			annotations: map[string]string{translate.AnnotationProxyProtocol: "false"}, flag: true, want: true},
		{name: "proxy without the flag", params: map[string]string{translate.ParamQUICRequireToken: "true"},
			skipParams: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Build(quicTokenInput(t, tc.params, tc.annotations), Options{
				Gateway: translate.Options{DefaultAddress: "127.0.0.1", SkipParameters: tc.skipParams},
				Render: render.Options{APIPort: 15000, HTTP3: true, Features: render.Features{QUIC: true},
					QUICRequireToken: tc.flag},
				StateDir: "/var/run/nghttpx-gateway",
			})
			if len(out.Gateways) != 1 || out.Gateways[0].Err != nil || out.Gateways[0].Config == nil {
				t.Fatalf("rendered Gateways: %+v", out.Gateways)
			}
			main := string(out.Gateways[0].Config.Main)
			if !strings.Contains(main, "frontend=127.0.0.1,443;quic\n") {
				t.Fatalf("no QUIC frontend:\n%s", main)
			}
			if got := strings.Contains(main, "\nfrontend-quic-require-token=yes\n"); got != tc.want {
				t.Errorf("frontend-quic-require-token rendered %v, want %v\n%s", got, tc.want, main)
			}
		})
	}
}
