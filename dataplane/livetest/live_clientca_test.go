//go:build integration

package livetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// testCA is a throw-away CA that issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate.
func (ca *testCA) client(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestLiveClientValidation runs one nghttpx with three HTTPS ports: 443-like port
// A trusts CA a, port B trusts CA b, port F trusts CA a in insecure-fallback
// mode. Failures must happen in the TLS handshake (the request gets no HTTP
// answer), and the server must ask for a certificate on every validated port.
func TestLiveClientValidation(t *testing.T) {
	dir := t.TempDir()
	echo := testenv.StartEcho(t, "v1")
	ports := testenv.FreePorts(t, 5)
	portA, portB, portF, portPlain := ports[0], ports[1], ports[2], ports[3]
	opts := render.Options{StateDir: dir, APIPort: ports[4], Workers: 1, GracePeriod: time.Second,
		HTTP3: true, Features: routing(render.Features{QUIC: true, ClientVerify: true})}
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	caA, caB := newTestCA(t, "client-ca-a"), newTestCA(t, "client-ca-b")
	cluster := "svc/default/v1/80"
	port := func(n int, cv *model.ClientValidation) model.Port {
		return model.Port{Port: int32(n), Protocol: model.ProtocolHTTPS, ClientValidation: cv,
			Listeners: []model.Listener{{
				Source:           model.ObjectRef{Kind: "Gateway", Namespace: "default", Name: "mtls", Section: fmt.Sprint(n)},
				CertificateNames: []string{"default/a-tls"},
				VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{{
					Name:     "httproute/default/r/rule/0/match/0",
					Source:   model.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: "r", Section: "0"},
					Match:    prefix("/"),
					Backends: []model.WeightedBackend{backendRef(cluster, 1)},
				}}}},
			}}}
	}
	src := []model.ObjectRef{{Kind: "ConfigMap", Namespace: "default", Name: "ca"}}
	gw := &model.Gateway{
		Source:    model.ObjectRef{Kind: "Gateway", Namespace: "default", Name: "mtls"},
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{
			port(portA, &model.ClientValidation{Sources: src, CAPEM: caA.pem}),
			port(portB, &model.ClientValidation{Sources: src, CAPEM: caB.pem}),
			port(portF, &model.ClientValidation{Sources: src, CAPEM: caA.pem, AllowInsecureFallback: true}),
			port(portPlain, nil),
		},
		Clusters: []model.Cluster{{Name: cluster, Source: model.ObjectRef{Kind: "Service", Namespace: "default", Name: "v1"},
			Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(echo.HTTPPort)}}}},
		Certificates: []model.Certificate{{Name: "default/a-tls", Source: model.ObjectRef{Kind: "Secret", Namespace: "default", Name: "a-tls"},
			CertPEM: read("a.example.com.crt"), KeyPEM: read("a.example.com.key")}},
	}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, cfg)
	testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), opts.APIPort, portA, portB, portF, portPlain)

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read("a.example.com.crt"))
	certA, certB := caA.client(t, "client-a"), caB.client(t, "client-b")
	// get sends one request on a new connection; asked reports whether the server
	// requested a client certificate.
	get := func(port int, cert *tls.Certificate, proto string) (status int, asked bool, err error) {
		tc := &tls.Config{ServerName: "a.example.com", RootCAs: roots, NextProtos: []string{proto},
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				return cert, nil
			}}
		tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: proto == "h2", DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
		if err != nil {
			return 0, asked, err
		}
		defer resp.Body.Close()
		var e struct{ Pod string }
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(b, &e); err != nil || e.Pod != "v1" {
				return resp.StatusCode, asked, fmt.Errorf("answer is not from the backend: %q", b)
			}
		}
		return resp.StatusCode, asked, nil
	}
	for _, proto := range []string{"http/1.1", "h2"} {
		for _, tc := range []struct {
			name   string
			port   int
			cert   *tls.Certificate
			served bool
			asked  bool
		}{
			{"port A, cert from CA a", portA, &certA, true, true},
			{"port A, cert from CA b", portA, &certB, false, true},
			{"port A, no cert", portA, nil, false, true},
			{"port B, cert from CA b", portB, &certB, true, true},
			{"port B, cert from CA a", portB, &certA, false, true},
			{"port B, no cert", portB, nil, false, true},
			{"fallback port, cert from CA a", portF, &certA, true, true},
			{"fallback port, cert from CA b", portF, &certB, true, true},
			{"fallback port, no cert", portF, nil, true, true},
			{"plain port, no cert", portPlain, nil, true, false},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				status, asked, err := get(tc.port, tc.cert, proto)
				if asked != tc.asked {
					t.Errorf("server asked for a client certificate: %v, want %v", asked, tc.asked)
				}
				if tc.served {
					if err != nil || status != 200 {
						t.Fatalf("got status %d, error %v; want 200 from the backend", status, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("got an HTTP answer (status %d); want the TLS handshake to fail", status)
				}
				t.Logf("refused as expected: %v", err)
			})
		}
	}
	// Ports with client validation get no QUIC frontend; the plain one does.
	for _, want := range []string{fmt.Sprintf("127.0.0.1,%d;quic", portPlain)} {
		if !containsLine(string(cfg.Main), "frontend="+want) {
			t.Errorf("main configuration lacks frontend=%s", want)
		}
	}
	for _, p := range []int{portA, portB, portF} {
		if containsLine(string(cfg.Main), fmt.Sprintf("frontend=127.0.0.1,%d;quic", p)) {
			t.Errorf("port %d has a QUIC frontend", p)
		}
	}
}

func containsLine(text, line string) bool {
	return slices.Contains(strings.Split(text, "\n"), line)
}
