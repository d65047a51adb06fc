package translate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// testPKI is a throw-away CA hierarchy: root -> intermediate -> leaf.
type testPKI struct {
	t                 *testing.T
	root, inter, leaf *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	p := &testPKI{t: t}
	p.root, p.rootKey = p.issue(nil, nil, 1, "Test Root", true, nil)
	p.inter, p.interKey = p.issue(p.root, p.rootKey, 2, "Test Intermediate", true, nil)
	p.leaf, _ = p.issue(p.inter, p.interKey, 0x4242, "www.example.com", false, nil)
	return p
}

func (p *testPKI) issue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, serial int64, cn string, ca bool, eku []x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: ca, BasicConstraintsValid: true, ExtKeyUsage: eku,
	}
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
	return c, key
}

func (p *testPKI) respond(issuer, responder *x509.Certificate, key *ecdsa.PrivateKey, tmpl ocsp.Response) []byte {
	p.t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = p.leaf.SerialNumber
	}
	if responder != nil && responder != issuer {
		tmpl.Certificate = responder
	}
	der, err := ocsp.CreateResponse(issuer, responder, tmpl, key)
	if err != nil {
		p.t.Fatal(err)
	}
	return der
}

func pemOf(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func TestCheckOCSPResponse(t *testing.T) {
	p := newTestPKI(t)
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	this, next := now.Add(-time.Hour), now.Add(72*time.Hour)
	good := p.respond(p.inter, p.inter, p.interKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this, NextUpdate: next})
	chain := pemOf(p.leaf, p.inter)
	responder, responderKey := p.issue(p.inter, p.interKey, 77, "OCSP responder", false, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning})
	plainCert, plainKey := p.issue(p.inter, p.interKey, 78, "not a responder", false, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	other, otherKey := p.issue(nil, nil, 9, "Other CA", true, nil)

	for _, tc := range []struct {
		name       string
		crt, ca    []byte
		der        []byte
		now        time.Time
		reason     string
		msgContain string
		// recheck is the verdict's Recheck (zero for most).
		recheck time.Time
	}{
		{name: "good", crt: chain, der: good, now: now, reason: OCSPReasonStapled, msgContain: "serial 42:42", recheck: next},
		{name: "missing", crt: chain, now: now, reason: OCSPReasonMissing},
		{name: "issuer from ca.crt", crt: pemOf(p.leaf), ca: pemOf(p.root, p.inter), der: good, now: now, reason: OCSPReasonStapled, recheck: next},
		{name: "no issuer anywhere", crt: pemOf(p.leaf), ca: pemOf(p.root), der: good, now: now, reason: OCSPReasonInvalid, msgContain: "issuer"},
		{name: "signed by the root, not the issuer", crt: chain,
			der: p.respond(p.root, p.root, p.rootKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonInvalid, msgContain: "signature"},
		{name: "signed by another CA", crt: chain,
			der: p.respond(other, other, otherKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonInvalid, msgContain: "signature"},
		{name: "delegated responder", crt: chain,
			der: p.respond(p.inter, responder, responderKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonStapled, recheck: next},
		{name: "delegated without OCSP signing", crt: chain,
			der: p.respond(p.inter, plainCert, plainKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonInvalid, msgContain: "not authorise"},
		{name: "other serial", crt: chain,
			der: p.respond(p.inter, p.inter, p.interKey, ocsp.Response{Status: ocsp.Good, SerialNumber: big.NewInt(7), ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonInvalid, msgContain: "serial number 07, not for the certificate's 42:42"},
		{name: "revoked", crt: chain,
			der: p.respond(p.inter, p.inter, p.interKey, ocsp.Response{Status: ocsp.Revoked, RevokedAt: this, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonRevoked},
		{name: "unknown", crt: chain,
			der: p.respond(p.inter, p.inter, p.interKey, ocsp.Response{Status: ocsp.Unknown, ThisUpdate: this, NextUpdate: next}),
			now: now, reason: OCSPReasonInvalid, msgContain: "unknown"},
		{name: "expired", crt: chain, der: good, now: next, reason: OCSPReasonExpired},
		{name: "not yet valid", crt: chain, der: good, now: this.Add(-time.Hour), reason: OCSPReasonInvalid, msgContain: "not valid yet",
			recheck: this.Add(-ocspClockSkew)},
		{name: "within clock skew", crt: chain, der: good, now: this.Add(-time.Minute), reason: OCSPReasonStapled, recheck: next},
		{name: "no clock", crt: chain, der: good, reason: OCSPReasonStapled},
		{name: "no nextUpdate", crt: chain,
			der: p.respond(p.inter, p.inter, p.interKey, ocsp.Response{Status: ocsp.Good, ThisUpdate: this}),
			now: now.AddDate(5, 0, 0), reason: OCSPReasonStapled},
		{name: "error response", crt: chain, der: ocsp.TryLaterErrorResponse, now: now, reason: OCSPReasonInvalid, msgContain: "try later"},
		{name: "PEM text", crt: chain, der: pem.EncodeToMemory(&pem.Block{Type: "OCSP RESPONSE", Bytes: good}), now: now,
			reason: OCSPReasonInvalid, msgContain: "not DER-encoded"},
		{name: "truncated", crt: chain, der: good[:len(good)/2], now: now, reason: OCSPReasonInvalid},
		{name: "trailing bytes", crt: chain, der: append(bytes.Clone(good), 0), now: now, reason: OCSPReasonInvalid},
		{name: "unparsable certificate", crt: []byte("nope"), der: good, now: now, reason: OCSPReasonInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckOCSPResponse(tc.crt, tc.ca, tc.der, tc.now)
			if r.Reason != tc.reason || !strings.Contains(r.Message, tc.msgContain) {
				t.Fatalf("got %s (%s); want %s containing %q", r.Reason, r.Message, tc.reason, tc.msgContain)
			}
			if !r.Recheck.Equal(tc.recheck) {
				t.Errorf("Recheck %v, want %v", r.Recheck, tc.recheck)
			}
			if stapled := r.Reason == OCSPReasonStapled; (stapled && !bytes.Equal(r.Response, tc.der)) || (!stapled && len(r.Response) > 0) {
				t.Errorf("reason %s but response of %d bytes", r.Reason, len(r.Response))
			}
		})
	}
}

// The golden files list which certificates carry a response; check the bytes and
// that the listener conditions follow the Secret when it changes.
func TestOCSPStapledFromSecret(t *testing.T) {
	data, err := os.ReadFile("testdata/listener-ocsp.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := load.DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{DefaultAddress: "127.0.0.1", Now: goldenNow(), OCSP: OCSPOptions{Enabled: true}}
	secret := func(name string) *corev1.Secret {
		for i := range in.Secrets {
			if in.Secrets[i].Name == name {
				return &in.Secrets[i]
			}
		}
		t.Fatalf("no Secret %s", name)
		return nil
	}
	stapled := func(res *Result, name string) []byte {
		for _, c := range res.Models[0].Certificates {
			if c.Name == "secret/default/"+name {
				return c.OCSPResponse
			}
		}
		t.Fatalf("no certificate %s", name)
		return nil
	}
	listenerCond := func(res *Result, listener string) *metav1.Condition {
		for _, l := range res.Gateways[0].Status.Listeners {
			if string(l.Name) == listener {
				return meta.FindStatusCondition(l.Conditions, ListenerConditionOCSPStapled)
			}
		}
		t.Fatalf("no listener %s", listener)
		return nil
	}

	res := Translate(in, opts)
	// The good response is the only stapled one: its nextUpdate is when the
	// verdict changes with no object changing.
	nextUpdate := time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	if !res.OCSPRecheck.Equal(nextUpdate) {
		t.Errorf("OCSPRecheck %v, want the good response's nextUpdate %v", res.OCSPRecheck, nextUpdate)
	}
	if got, want := stapled(res, "good"), secret("good").Data[OCSPResponseKey]; len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("good: stapled %d bytes, want the Secret's %d", len(got), len(want))
	}
	for _, n := range []string{"expired", "wrong-serial", "revoked", "malformed", "other-issuer", "missing", "no-issuer"} {
		if r := stapled(res, n); len(r) != 0 {
			t.Errorf("%s: %d bytes stapled", n, len(r))
		}
	}

	// Swap the good and the wrong-serial responses: the verdicts swap.
	good, wrong := secret("good").Data[OCSPResponseKey], secret("wrong-serial").Data[OCSPResponseKey]
	secret("good").Data[OCSPResponseKey], secret("wrong-serial").Data[OCSPResponseKey] = wrong, good
	res = Translate(in, opts)
	if c := listenerCond(res, "good"); c == nil || c.Reason != OCSPReasonInvalid || len(stapled(res, "good")) != 0 {
		t.Errorf("good with another certificate's response: %+v", c)
	}
	if c := listenerCond(res, "wrong-serial"); c == nil || c.Reason != OCSPReasonInvalid {
		t.Errorf("wrong-serial with good's response: %+v", c)
	}

	// The clock moves past nextUpdate: expired, nothing stapled.
	secret("good").Data[OCSPResponseKey] = good
	later := opts
	later.Now = metav1.NewTime(goldenNow().AddDate(0, 0, 8))
	res = Translate(in, later)
	if c := listenerCond(res, "good"); c == nil || c.Reason != OCSPReasonExpired || len(stapled(res, "good")) != 0 {
		t.Errorf("after nextUpdate: %+v", c)
	}
	if !res.OCSPRecheck.IsZero() {
		t.Errorf("after nextUpdate: OCSPRecheck %v, want none (nothing stapled)", res.OCSPRecheck)
	}
	// A second before nextUpdate it is still stapled, with the same recheck time.
	later.Now = metav1.NewTime(nextUpdate.Add(-time.Second))
	if res = Translate(in, later); len(stapled(res, "good")) == 0 || !res.OCSPRecheck.Equal(nextUpdate) {
		t.Errorf("a second before nextUpdate: stapled %d bytes, OCSPRecheck %v", len(stapled(res, "good")), res.OCSPRecheck)
	}

	// Disabled: no condition and nothing stapled, even for a good response.
	res = Translate(in, Options{DefaultAddress: "127.0.0.1", Now: goldenNow()})
	if c := listenerCond(res, "good"); c != nil || len(stapled(res, "good")) != 0 {
		t.Errorf("stapling disabled: %+v", c)
	}
	if !res.OCSPRecheck.IsZero() {
		t.Errorf("stapling disabled: OCSPRecheck %v", res.OCSPRecheck)
	}
}
