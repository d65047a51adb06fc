package main

import (
	"bytes"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ocsptest"
)

// newOCSPPKI is a CA and one leaf for host it issued, for OCSP tests; the leaf's
// serial is fixed (openssl prints it as 0C5B1E).
func newOCSPPKI(t *testing.T, host string) *ocsptest.PKI {
	t.Helper()
	return ocsptest.New(t, "OCSP test CA", host, big.NewInt(0x0c5b1e), 365*24*time.Hour)
}

func TestOCSPFetchProgram(t *testing.T) {
	p := newOCSPPKI(t, "ocsp.example")
	now := time.Now()
	good := p.Response(t, ocsp.Good, nil, now.Add(-time.Hour), now.Add(24*time.Hour))
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls-0123.crt")
	if err := os.WriteFile(cert, p.ChainPEM, 0o644); err != nil {
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
		{"other certificate", p.Response(t, ocsp.Good, big.NewInt(99), now.Add(-time.Hour), now.Add(24*time.Hour)), 1},
		{"revoked", p.Response(t, ocsp.Revoked, nil, now.Add(-time.Hour), now.Add(24*time.Hour)), 1},
		{"expired", p.Response(t, ocsp.Good, nil, now.Add(-48*time.Hour), now.Add(-time.Hour)), 1},
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
