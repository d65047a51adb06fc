package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func TestClientValidationRefused(t *testing.T) {
	gw, opts := loadGolden(t, filepath.Join("testdata", "client-validation.model.yaml"))
	caA, err := os.ReadFile(filepath.Join("testdata", "certs", "client-ca-a.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(gw *model.Gateway, o *Options)
		want string
	}{
		{"binary without the patch", func(_ *model.Gateway, o *Options) { o.Features.ClientVerify = false }, "needs an nghttpx with per-frontend verify-client="},
		{"empty bundle", func(gw *model.Gateway, _ *Options) { gw.Ports[0].ClientValidation.CAPEM = nil }, "no certificate"},
		{"not a certificate", func(gw *model.Gateway, _ *Options) {
			gw.Ports[0].ClientValidation.CAPEM = []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		}, `is a "PRIVATE KEY"`},
		{"trailing garbage", func(gw *model.Gateway, _ *Options) {
			gw.Ports[0].ClientValidation.CAPEM = append(append([]byte{}, caA...), ";verify-client-optional"...)
		}, "is not PEM"},
		{"HTTP port", func(gw *model.Gateway, _ *Options) {
			gw.Ports[0].Protocol = model.ProtocolHTTP
			gw.Ports[0].Listeners[0].CertificateNames = nil
		}, "client certificate validation on a HTTP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, o := *gw, opts
			g.Ports = make([]model.Port, len(gw.Ports))
			for i, p := range gw.Ports {
				if p.ClientValidation != nil {
					cv := *p.ClientValidation
					p.ClientValidation = &cv
				}
				p.Listeners = append([]model.Listener(nil), p.Listeners...)
				g.Ports[i] = p
			}
			tc.edit(&g, &o)
			_, err := Render(&g, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The unedited case renders.
	if _, err := Render(gw, opts); err != nil {
		t.Fatalf("Render: %v", err)
	}
}
