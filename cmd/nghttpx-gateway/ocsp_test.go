package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ocspPKI is a CA and one leaf certificate it issued, for OCSP tests.
type ocspPKI struct {
	t               *testing.T
	ca, leaf        *x509.Certificate
	caKey           *ecdsa.PrivateKey
	leafPEM, keyPEM []byte // tls.crt (leaf then CA) and tls.key
}

func newOCSPPKI(t *testing.T, host string) *ocspPKI {
	t.Helper()
	p := &ocspPKI{t: t}
	var caDER []byte
	p.ca, p.caKey, caDER = p.issue(nil, nil, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "OCSP test CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature})
	leaf, leafKey, leafDER := p.issue(p.ca, p.caKey, &x509.Certificate{SerialNumber: big.NewInt(0x0c5b1e), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.leaf = leaf
	p.leafPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	kd, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	return p
}

func (p *ocspPKI) issue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		p.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	return c, key, der
}

// response is a CA-signed OCSP response about serial (the leaf's when nil).
func (p *ocspPKI) response(status int, serial *big.Int, thisUpdate, nextUpdate time.Time) []byte {
	p.t.Helper()
	if serial == nil {
		serial = p.leaf.SerialNumber
	}
	der, err := ocsp.CreateResponse(p.ca, p.ca, ocsp.Response{Status: status, SerialNumber: serial, ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate, RevokedAt: thisUpdate}, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	return der
}

func TestOCSPFetchProgram(t *testing.T) {
	p := newOCSPPKI(t, "ocsp.example")
	now := time.Now()
	good := p.response(ocsp.Good, nil, now.Add(-time.Hour), now.Add(24*time.Hour))
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls-0123.crt")
	if err := os.WriteFile(cert, p.leafPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		resp []byte // nil: no .ocsp file
		code int
	}{
		{"good", good, 0},
		{"no response", nil, 1},
		{"empty file", []byte{}, 1},
		{"garbage", []byte("garbage"), 1},
		{"other certificate", p.response(ocsp.Good, big.NewInt(99), now.Add(-time.Hour), now.Add(24*time.Hour)), 1},
		{"revoked", p.response(ocsp.Revoked, nil, now.Add(-time.Hour), now.Add(24*time.Hour)), 1},
		{"expired", p.response(ocsp.Good, nil, now.Add(-48*time.Hour), now.Add(-time.Hour)), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(cert + ".ocsp")
			if tc.resp != nil {
				if err := os.WriteFile(cert+".ocsp", tc.resp, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, stdout, stderr := run(t, ocspCommand, cert)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			// nghttpx staples whatever a successful run prints (BoringSSL builds do
			// not verify it): only the exact response, and nothing on failure.
			if want := map[bool][]byte{true: tc.resp, false: nil}[code == 0]; !bytes.Equal([]byte(stdout), want) {
				t.Errorf("stdout %d bytes, want %d", len(stdout), len(want))
			}
		})
	}
	if code, _, _ := run(t, ocspCommand); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

// serve hands its OCSP settings to the proxies as arguments: parsed back they must
// give the same translator options. The Ingress controller's names are aliases.
func TestOCSPFlags(t *testing.T) {
	parse := func(args ...string) ocspFlags {
		t.Helper()
		var f ocspFlags
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := parse(); f.enabled || f.key != "tls.ocsp-resp" || f.proxyArgs() != nil || f.options(true).Enabled {
		t.Errorf("defaults: %+v", f)
	}
	serve := parse("--ocsp-stapling", "--ocsp-secret-key=ocsp.der")
	if proxy := parse(serve.proxyArgs()...); proxy.options(true) != serve.options(true) || !proxy.enabled {
		t.Errorf("proxy gets %+v from %q, serve has %+v", proxy.options(true), serve.proxyArgs(), serve.options(true))
	}
	if f := parse("--fetch-ocsp-resp-from-secret", "--ocsp-resp-key=k"); !f.enabled || f.key != "k" {
		t.Errorf("legacy names: %+v", f)
	}
	if o := serve.options(false); !o.Unsupported {
		t.Errorf("a data plane without OCSP support must be reported: %+v", o)
	}
	if f := parse("--ocsp-secret-key="); f.validate() == nil {
		t.Error("an empty key is accepted")
	}
}
