package translate

import (
	"bytes"
	"os"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// The golden files do not show key material; check it here.
func TestCertificateMaterial(t *testing.T) {
	data, err := os.ReadFile("testdata/listener-https.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := load.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	res := Translate(in, Options{DefaultAddress: "127.0.0.1"})
	if len(res.Models) != 1 || len(res.Models[0].Certificates) != 1 {
		t.Fatalf("want one model with one certificate, got %+v", res.Models)
	}
	c := res.Models[0].Certificates[0]
	if c.Name != "secret/default/example-tls" {
		t.Errorf("certificate name %q", c.Name)
	}
	if !bytes.HasPrefix(c.CertPEM, []byte("-----BEGIN CERTIFICATE-----")) || !bytes.HasPrefix(c.KeyPEM, []byte("-----BEGIN EC PRIVATE KEY-----")) {
		t.Errorf("certificate or key PEM missing:\n%s\n%s", c.CertPEM, c.KeyPEM)
	}
	// The Secret's tls.ocsp-resp is four bytes of garbage: never stapled, whether
	// stapling is off (the default) or on (it does not check out).
	if len(c.OCSPResponse) != 0 {
		t.Errorf("OCSP response %x stapled with stapling disabled", c.OCSPResponse)
	}
	on := Translate(in, Options{DefaultAddress: "127.0.0.1", OCSP: OCSPOptions{Enabled: true}})
	if r := on.Models[0].Certificates[0].OCSPResponse; len(r) != 0 {
		t.Errorf("invalid OCSP response %x stapled", r)
	}
	var names []string
	for _, p := range res.Models[0].Ports {
		for _, l := range p.Listeners {
			names = append(names, l.CertificateNames...)
		}
	}
	if len(names) != 1 || names[0] != c.Name {
		t.Errorf("listener certificate names %q; want [%q]", names, c.Name)
	}
}
