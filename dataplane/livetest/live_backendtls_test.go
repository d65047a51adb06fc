//go:build integration

package livetest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// TestLiveBackendTLS runs one nghttpx in front of one TLS echo-basic whose
// certificate (CA backend-ca; DNS abc.example.com, other.example.com; URI
// spiffe://abc.example.com/test-identity) is checked per cluster: the right CA
// and host name answer 200, a wrong CA, a wrong host name and SAN mismatches
// answer 502. nghttpx's system store is pointed at backend-ca (SSL_CERT_FILE), so
// wellKnownCACertificates System (no tls-ca=) verifies too. All clusters share the one endpoint, so lines that
// differ only in tls-ca=/tls-san= must stay separate backends in nghttpx. The
// Gateway's backend client certificate must reach the backend.
func TestLiveBackendTLS(t *testing.T) {
	dir := t.TempDir()
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	abs := func(n string) string {
		p, err := filepath.Abs(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ports := testenv.FreePorts(t, 5)
	cmd := exec.Command(testenv.EchoBin(t))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"HTTP_PORT="+strconv.Itoa(ports[0]), "H2C_PORT="+strconv.Itoa(ports[1]), "HTTPS_PORT="+strconv.Itoa(ports[2]),
		"TLS_SERVER_CERT="+abs("backend-server.crt"), "TLS_SERVER_PRIVKEY="+abs("backend-server.key"),
		// Verifies a client certificate when one is sent and reports it.
		"TLS_CLIENT_CACERTS="+abs("backend-ca.crt"),
		"POD_NAME=tls-backend", "NAMESPACE="+testenv.EchoNamespace)
	echo := testenv.Start(t, "echo tls-backend", cmd)
	testenv.WaitTCP(t, echo, fmt.Sprintf("127.0.0.1:%d", ports[2]), 10*time.Second)
	httpPort, apiPort := ports[3], ports[4]

	ca, otherCA := read("backend-ca.crt"), read("backend-other-ca.crt")
	san := func(typ, v string) model.SubjectAltName { return model.SubjectAltName{Type: typ, Value: v} }
	cases := []struct {
		path     string
		tls      model.ClusterTLS
		ok       bool
		proto    model.BackendProtocol
		wantSNI  string
		wantCert bool
	}{
		{path: "/ca", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca}, ok: true, wantSNI: "abc.example.com", wantCert: true},
		{path: "/ca-h2", tls: model.ClusterTLS{Hostname: "other.example.com", CACertPEM: ca}, ok: true, proto: model.BackendH2C, wantSNI: "other.example.com", wantCert: true},
		// The system store trusts backend-ca, but tls-ca= replaces it, not adds to it.
		{path: "/wrong-ca", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: otherCA}},
		{path: "/host-mismatch", tls: model.ClusterTLS{Hostname: "mismatch.example.com", CACertPEM: ca}},
		{path: "/system", tls: model.ClusterTLS{Hostname: "abc.example.com"}, ok: true, wantSNI: "abc.example.com", wantCert: true},
		{path: "/system-host-mismatch", tls: model.ClusterTLS{Hostname: "mismatch.example.com"}},
		{path: "/san-dns", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("dns", "abc.example.com")}}, ok: true, wantSNI: "abc.example.com", wantCert: true},
		// SANs replace the host name check: the SNI name does not match, a SAN does.
		{path: "/san-dns-not-sni", tls: model.ClusterTLS{Hostname: "mismatch.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("dns", "other.example.com")}}, ok: true, wantSNI: "mismatch.example.com", wantCert: true},
		{path: "/san-dns-mismatch", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("dns", "dce.example.com")}}},
		{path: "/san-uri", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("uri", "spiffe://abc.example.com/test-identity")}}, ok: true, wantSNI: "abc.example.com", wantCert: true},
		{path: "/san-uri-mismatch", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("uri", "spiffe://def.example.com/test-identity")}}},
		{path: "/san-multi", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("uri", "spiffe://def.example.com/test-identity"), san("dns", "abc.example.com")}},
			ok: true, wantSNI: "abc.example.com", wantCert: true},
		{path: "/san-multi-mismatch", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: ca,
			SubjectAltNames: []model.SubjectAltName{san("uri", "spiffe://def.example.com/test-identity"), san("dns", "def.example.com")}}},
		// The right SAN does not help when the chain does not verify.
		{path: "/san-wrong-ca", tls: model.ClusterTLS{Hostname: "abc.example.com", CACertPEM: otherCA,
			SubjectAltNames: []model.SubjectAltName{san("dns", "abc.example.com")}}},
	}
	gw := &model.Gateway{
		Source:    model.ObjectRef{Kind: "Gateway", Namespace: "default", Name: "btls"},
		Addresses: []string{"127.0.0.1"},
		BackendClientCertificate: &model.Certificate{Name: "backend-client",
			CertPEM: read("backend-client.crt"), KeyPEM: read("backend-client.key")},
	}
	var rules []model.Rule
	for i, c := range cases {
		name := fmt.Sprintf("svc/default/b%d/443", i)
		proto := c.proto
		if proto == "" {
			proto = model.BackendHTTP1
		}
		cl := c.tls
		cl.Source = model.ObjectRef{Kind: "BackendTLSPolicy", Namespace: "default", Name: fmt.Sprintf("b%d", i)}
		gw.Clusters = append(gw.Clusters, model.Cluster{Name: name, Source: model.ObjectRef{Kind: "Service", Namespace: "default", Name: fmt.Sprintf("b%d", i)},
			Protocol: proto, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(ports[2])}}, TLS: &cl})
		rules = append(rules, model.Rule{
			Name:     fmt.Sprintf("httproute/default/r/rule/%d/match/0", i),
			Source:   model.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: "r", Section: strconv.Itoa(i)},
			Match:    model.Match{Path: model.PathMatch{Type: model.PathExact, Value: c.path}},
			Backends: []model.WeightedBackend{backendRef(name, 1)},
		})
	}
	slices.SortFunc(gw.Clusters, func(a, b model.Cluster) int { return strings.Compare(a.Name, b.Name) })
	gw.Ports = []model.Port{{Port: int32(httpPort), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{
		Source:       model.ObjectRef{Kind: "Gateway", Namespace: "default", Name: "btls", Section: "http"},
		VirtualHosts: []model.VirtualHost{{Rules: rules}},
	}}}}
	opts := render.Options{StateDir: dir, APIPort: apiPort, Workers: 1, GracePeriod: time.Second,
		Features: routing(render.Features{BackendTLSVerify: true})}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, cfg)
	// NGXGW_DEBUG_LOG=<file>: nghttpx INFO log there, to see which callback
	// finished a backend handshake when a verdict flakes.
	if os.Getenv("NGXGW_DEBUG_LOG") != "" {
		f, err := os.OpenFile(filepath.Join(dir, render.MainFile), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintf(f, "\nlog-level=INFO\nerrorlog-file=%s\n", os.Getenv("NGXGW_DEBUG_LOG"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// BoringSSL's default trust store (the "System" certificates) comes from here.
	t.Setenv("SSL_CERT_FILE", abs("backend-ca.crt"))
	t.Setenv("SSL_CERT_DIR", t.TempDir())
	ngx := testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), apiPort, httpPort)

	clientCert, _ := pem.Decode(read("backend-client.crt"))
	// A fresh client connection per request: nghttpx may close the client side
	// after a 502, and a request racing that close would fail with EOF.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			// A second request reuses the pooled connection or TLS session: the
			// verdict must not change.
			for round := 0; round < 2; round++ {
				req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, tc.path), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "abc.example.com"
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("round %d: %v\nnghttpx log:\n%s", round, err, ngx.Logs())
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !tc.ok {
					if resp.StatusCode != http.StatusBadGateway {
						t.Fatalf("round %d: status %d, want 502 (verification must fail): %s", round, resp.StatusCode, body)
					}
					continue
				}
				if resp.StatusCode != 200 {
					t.Fatalf("round %d: status %d, want 200: %s\nnghttpx log:\n%s", round, resp.StatusCode, body, ngx.Logs())
				}
				var e struct {
					Pod string `json:"pod"`
					TLS *struct {
						ServerName       string   `json:"serverName"`
						PeerCertificates []string `json:"peerCertificates"`
					} `json:"tls"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Pod != "tls-backend" || e.TLS == nil {
					t.Fatalf("round %d: not a TLS echo answer (%v): %s", round, err, body)
				}
				if e.TLS.ServerName != tc.wantSNI {
					t.Errorf("round %d: backend saw SNI %q, want %q", round, e.TLS.ServerName, tc.wantSNI)
				}
				presented := slices.ContainsFunc(e.TLS.PeerCertificates, func(p string) bool {
					b, _ := pem.Decode([]byte(p))
					return b != nil && string(b.Bytes) == string(clientCert.Bytes)
				})
				if presented != tc.wantCert {
					t.Errorf("round %d: client certificate presented: %v, want %v (%d peer certificates)", round, presented, tc.wantCert, len(e.TLS.PeerCertificates))
				}
			}
		})
	}

	// Without the patch's parameters the renderer refuses to connect: 500.
	unpatched := opts
	unpatched.Features.BackendTLSVerify = false
	cfg2, err := render.Render(gw, unpatched)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(render.BackendConf(cfg2.Backends)), "tls-ca=") || strings.Contains(string(render.BackendConf(cfg2.Backends)), "tls-san=") {
		t.Errorf("unpatched rendering uses tls-ca=/tls-san=:\n%s", render.BackendConf(cfg2.Backends))
	}
}
