package ocsptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// PKI is a CA and one server certificate it issued.
type PKI struct {
	CA, Leaf *x509.Certificate
	CAKey    *ecdsa.PrivateKey
	ChainPEM []byte // tls.crt: the leaf, then the CA
	KeyPEM   []byte // tls.key: the leaf's key
}

// New issues a CA named caName and a server certificate for host with serial
// leafSerial, both valid from an hour ago until validFor from now.
func New(t testing.TB, caName, host string, leafSerial *big.Int, validFor time.Duration) *PKI {
	t.Helper()
	notBefore, notAfter := time.Now().Add(-time.Hour), time.Now().Add(validFor)
	issue := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, key
	}
	p := &PKI{}
	p.CA, p.CAKey = issue(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, nil, nil)
	var leafKey *ecdsa.PrivateKey
	p.Leaf, leafKey = issue(&x509.Certificate{SerialNumber: leafSerial, Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		p.CA, p.CAKey)
	p.ChainPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leaf.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.CA.Raw})...)
	kd, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	p.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	return p
}

// Response is a CA-signed OCSP response with status about serial (the leaf's
// when nil); a revoked one was revoked at thisUpdate.
func (p *PKI) Response(t testing.TB, status int, serial *big.Int, thisUpdate, nextUpdate time.Time) []byte {
	t.Helper()
	if serial == nil {
		serial = p.Leaf.SerialNumber
	}
	der, err := ocsp.CreateResponse(p.CA, p.CA, ocsp.Response{Status: status, SerialNumber: serial, ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate, RevokedAt: thisUpdate}, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
