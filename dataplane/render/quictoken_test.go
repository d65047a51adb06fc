package render

import (
	"strings"
	"testing"
)

// TestRenderQUICRequireToken: frontend-quic-require-token is rendered only where it
// means something: QUIC frontends exist (HTTP/3 wanted, a QUIC-capable binary, an
// HTTPS port); nghttpx would accept and ignore it elsewhere, and a configuration
// that claims address validation it does not do misleads whoever reads it.
func TestRenderQUICRequireToken(t *testing.T) {
	for _, tc := range []struct {
		name               string
		https, http3, quic bool
		want               bool
	}{
		{"HTTPS, HTTP/3, QUIC build", true, true, true, true},
		{"HTTP/3 off", true, false, true, false},
		{"binary without QUIC", true, true, false, false},
		{"HTTP only", false, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			if tc.https {
				gw = withHTTPS(t, gw)
			}
			opts.HTTP3, opts.Features.QUIC, opts.QUICRequireToken = tc.http3, tc.quic, true
			cfg, err := Render(gw, opts)
			if err != nil {
				t.Fatal(err)
			}
			n := strings.Count(string(cfg.Main), "\nfrontend-quic-require-token=yes\n")
			if got := n == 1; got != tc.want || n > 1 {
				t.Errorf("frontend-quic-require-token lines: %d, want %v\n%s", n, tc.want, cfg.Main)
			}
			if tc.want {
				opts.QUICRequireToken = false
				off, err := Render(gw, opts)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(off.Main), "frontend-quic-require-token") {
					t.Errorf("rendered without QUICRequireToken:\n%s", off.Main)
				}
			}
		})
	}
}
