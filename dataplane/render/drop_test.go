package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// refused is Render's error, or what it dropped: either way the input was refused.
func refused(cfg *Config, err error) error {
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range cfg.Dropped {
		errs = append(errs, errors.New(d.String()))
	}
	return errors.Join(errs...)
}

// A rule, virtual host, listener or port the renderer cannot write is left out
// and reported; its neighbours are rendered as they would be without it.
func TestRenderDropsOnlyTheBadPiece(t *testing.T) {
	good, err := Render(validGateway(), baseOptions())
	if err != nil || len(good.Dropped) != 0 {
		t.Fatalf("base model: %v %v", err, good.Dropped)
	}
	for _, tc := range []struct {
		name, what string
		mut        func(gw *model.Gateway, o *Options)
	}{
		{"rule", "rule bad", func(gw *model.Gateway, _ *Options) {
			bad := *rule0(gw)
			bad.Name = "bad"
			bad.RequestHeaders = &model.HeaderModifier{Set: []model.NameValue{{Name: "x-a", Value: "a\nb"}}}
			vh := &gw.Ports[0].Listeners[0].VirtualHosts[0]
			vh.Rules = append(vh.Rules, bad)
		}},
		{"virtual host", "virtual host", func(gw *model.Gateway, _ *Options) {
			l := &gw.Ports[0].Listeners[0]
			l.VirtualHosts = append(l.VirtualHosts, model.VirtualHost{Hostname: strings.Repeat("a", 64) + ".example",
				Rules: l.VirtualHosts[0].Rules})
		}},
		{"port", "port 15000", func(gw *model.Gateway, _ *Options) {
			p := gw.Ports[0]
			p.Port = 15000 // the API port of baseOptions
			p.Listeners = []model.Listener{{Source: model.ObjectRef{Kind: "Gateway", Name: "gw", Section: "api"}}}
			gw.Ports = append(gw.Ports, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			if opts.APIPort != 15000 {
				t.Fatalf("baseOptions API port %d", opts.APIPort)
			}
			tc.mut(gw, &opts)
			cfg, err := Render(gw, opts)
			if err != nil {
				t.Fatalf("whole Gateway refused: %v", err)
			}
			if len(cfg.Dropped) != 1 || !strings.HasPrefix(cfg.Dropped[0].What, tc.what) {
				t.Fatalf("dropped %v, want one %q", cfg.Dropped, tc.what)
			}
			if string(cfg.Main) != string(good.Main) || string(BackendConf(cfg.Backends)) != string(BackendConf(good.Backends)) ||
				string(cfg.RouteText()) != string(good.RouteText()) {
				t.Fatalf("the rest differs from the model without the bad piece:\n%s", cfg.RouteText())
			}
		})
	}
}
