//go:build integration

package livetest

import (
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// selfSigned returns a model certificate whose commonName is cn and whose
// subjectAltNames are sans (and the loopback addresses).
func selfSigned(t *testing.T, cn string, sans ...string) model.Certificate {
	t.Helper()
	p, err := selfsigned.Named(cn, sans...)
	if err != nil {
		t.Fatal(err)
	}
	return model.Certificate{Name: cn, Source: model.ObjectRef{Kind: "Secret", Namespace: cn, Name: "cert"}, CertPEM: p.CertPEM, KeyPEM: p.KeyPEM}
}

// TestLiveSNICertificates: tenants a and b have listeners for a.example.com and
// b.example.com on one port, and each one's certificate names both hosts. A
// TLS client must get a's certificate for a.example.com and b's for
// b.example.com (never the other tenant's), the placeholder for an unknown name
// and without SNI; on a second port a listener without hostname answers every
// name; on a third, shim-like SNI entries with a default TLS Secret ("") answer
// unknown names with that Secret.
func TestLiveSNICertificates(t *testing.T) {
	if help, _ := exec.Command(testenv.NghttpxBin(t), "--help").Output(); !strings.Contains(string(help), `"sni=<PORT>:<HOST>"`) {
		t.Skip("nghttpx lacks the subcert sni= patch (hack/nghttpx-patches/50-sni-cert-map.patch); build it with make nghttpx")
	}
	dir := t.TempDir()
	ports := testenv.FreePorts(t, 4)
	pTenants, pCatchAll, pShim := ports[0], ports[1], ports[2]
	opts := render.Options{StateDir: dir, APIPort: ports[3], Workers: 1, GracePeriod: time.Second,
		Features: routing(render.Features{SNICertMap: true})}
	a := selfSigned(t, "tenant-a", "a.example.com", "b.example.com")
	b := selfSigned(t, "tenant-b", "b.example.com", "a.example.com")
	c := selfSigned(t, "catch-all", "a.example.com", "c.example.com")
	d := selfSigned(t, "default-tls")
	listener := func(port int, host string, certs ...string) model.Listener {
		return model.Listener{Source: model.ObjectRef{Kind: "Gateway", Namespace: "infra", Name: "gw", Section: fmt.Sprint(port, host)},
			Hostname: host, CertificateNames: certs}
	}
	shim := listener(pShim, "", "tenant-a", "tenant-b", "default-tls")
	shim.SNI = []model.SNICertificate{{Hostname: "a.example.com", Certificate: "tenant-a"}, {Hostname: "b.example.com", Certificate: "tenant-b"},
		{Certificate: "default-tls"}}
	gw := &model.Gateway{
		Source:    model.ObjectRef{Kind: "Gateway", Namespace: "infra", Name: "gw"},
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{
			{Port: int32(pTenants), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{
				listener(pTenants, "a.example.com", "tenant-a"), listener(pTenants, "b.example.com", "tenant-b")}},
			{Port: int32(pCatchAll), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{listener(pCatchAll, "", "catch-all")}},
			{Port: int32(pShim), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{shim}},
		},
		Certificates: []model.Certificate{c, d, a, b}, // sorted by name
	}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, cfg)
	testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), opts.APIPort, pTenants, pCatchAll, pShim)

	const placeholder = "(placeholder)"
	served := func(port int, sni string) string {
		t.Helper()
		conf := &tls.Config{InsecureSkipVerify: true, ServerName: sni}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port), conf)
		if err != nil {
			t.Fatalf("port %d SNI %q: %v", port, sni, err)
		}
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		if leaf.Subject.CommonName == "" && len(leaf.DNSNames) == 0 && len(leaf.Subject.Organization) == 1 && leaf.Subject.Organization[0] == "nghttpx-gateway" {
			return placeholder
		}
		return leaf.Subject.CommonName
	}
	for _, tc := range []struct {
		port int
		sni  string
		want string
	}{
		{pTenants, "a.example.com", "tenant-a"},
		{pTenants, "A.Example.COM", "tenant-a"},
		{pTenants, "b.example.com", "tenant-b"},
		{pTenants, "c.example.com", placeholder},
		{pTenants, "", placeholder},
		{pCatchAll, "a.example.com", "catch-all"},
		{pCatchAll, "unknown.test", "catch-all"},
		{pCatchAll, "", "catch-all"},
		{pShim, "a.example.com", "tenant-a"},
		{pShim, "b.example.com", "tenant-b"},
		{pShim, "unknown.test", "default-tls"},
		{pShim, "", "default-tls"},
	} {
		if got := served(tc.port, tc.sni); got != tc.want {
			t.Errorf("port %d SNI %q: served %s, want %s", tc.port, tc.sni, got, tc.want)
		}
	}
}
