package ocsptest

import (
	"crypto/tls"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func TestPKI(t *testing.T) {
	p := New(t, "test CA", "ocsp.example", big.NewInt(0x42), time.Hour)
	if _, err := tls.X509KeyPair(p.ChainPEM, p.KeyPEM); err != nil {
		t.Fatalf("chain and key do not pair: %v", err)
	}
	if err := p.Leaf.CheckSignatureFrom(p.CA); err != nil {
		t.Fatalf("leaf not issued by the CA: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, tc := range []struct {
		status int
		serial *big.Int
	}{{ocsp.Good, nil}, {ocsp.Revoked, nil}, {ocsp.Good, big.NewInt(99)}} {
		r, err := ocsp.ParseResponseForCert(p.Response(t, tc.status, tc.serial, now.Add(-time.Minute), now.Add(time.Hour)), nil, p.CA)
		if err != nil {
			t.Fatal(err)
		}
		want := p.Leaf.SerialNumber
		if tc.serial != nil {
			want = tc.serial
		}
		if r.Status != tc.status || r.SerialNumber.Cmp(want) != 0 || !r.ThisUpdate.Equal(now.Add(-time.Minute)) {
			t.Errorf("response %+v, want status %d serial %v", r, tc.status, want)
		}
		if tc.status == ocsp.Revoked && !r.RevokedAt.Equal(now.Add(-time.Minute)) {
			t.Errorf("revoked at %v, want thisUpdate", r.RevokedAt)
		}
	}
}
