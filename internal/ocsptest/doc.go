// Package ocsptest makes throw-away OCSP fixtures for tests: a CA, a server
// certificate it issued, and CA-signed OCSP responses about it.
//
//	p := ocsptest.New(t, "test CA", "ocsp.example", big.NewInt(2), time.Hour)
//	crt, key := p.ChainPEM, p.KeyPEM                     // tls.crt (leaf, CA), tls.key
//	der := p.Response(t, ocsp.Good, nil, thisUpdate, nextUpdate)
//
// Contract: test-only; failures fail the test. Keys are ECDSA P-256.
package ocsptest
