package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func certWithNames(t *testing.T, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: names, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSNIEntries: keys go only to the listener Gateway API selects for a name;
// a listener's extra certificates get the names they carry within its reach.
func TestSNIEntries(t *testing.T) {
	certs := map[string]*model.Certificate{
		"exact":  {CertPEM: certWithNames(t, "a.example.com", "b.example.com")},
		"wild":   {CertPEM: certWithNames(t, "*.example.com")},
		"any1":   {CertPEM: certWithNames(t, "z.test")},
		"any2":   {CertPEM: certWithNames(t, "y.test", "a.example.com", "x.example.com", "*.sub.example.com", "bad;name", "*.test")},
		"other":  {CertPEM: certWithNames(t, "a.example.com")},
		"unused": {CertPEM: certWithNames(t, "u.test")},
	}
	gw := &model.Gateway{Ports: []model.Port{
		{Port: 443, Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{
			{Hostname: "a.example.com", CertificateNames: []string{"exact"}},
			{Hostname: "*.example.com", CertificateNames: []string{"wild"}},
			{CertificateNames: []string{"any1", "any2"}},
		}},
		{Port: 8443, Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{
			{Hostname: "a.example.com", CertificateNames: []string{"other"}},
		}},
		{Port: 80, Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{}}},
	}}
	got := sniEntries(gw, certs)
	want := map[string][]string{
		"exact": {"443:a.example.com"}, // b.example.com is *.example.com's
		"wild":  {"443:*.example.com"},
		"any1":  {"443:*"},
		"any2":  {"443:y.test", "443:*.test"}, // x.example.com, *.sub.example.com: the wildcard listener's
		"other": {"8443:a.example.com"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sniEntries = %v, want %v", got, want)
	}
}
