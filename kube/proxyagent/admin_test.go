package proxyagent

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
)

// TestStatusNeedsAdminToken: with a keys Secret, /status answers only requests
// carrying its admin token; /healthz and /readyz (kubelet probes) need none.
func TestStatusNeedsAdminToken(t *testing.T) {
	var tok []byte
	s := &state{token: func() []byte { return tok }, ready: true}
	h := s.handler()
	do := func(path, presented string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if presented != "" {
			req.Header.Set(keys.AdminTokenHeader, presented)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := do("/status", "anything"); c != http.StatusServiceUnavailable {
		t.Errorf("/status before the token is known: %d, want 503", c)
	}
	tok = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, c := range []struct {
		presented string
		want      int
	}{{"", http.StatusUnauthorized}, {"wrong", http.StatusUnauthorized}, {string(tok[:63]), http.StatusUnauthorized}, {string(tok), http.StatusOK}} {
		if got := do("/status", c.presented); got != c.want {
			t.Errorf("/status with token %q: %d, want %d", c.presented, got, c.want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if c := do(p, ""); c != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200", p, c)
		}
	}
}
