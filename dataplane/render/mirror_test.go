package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func mirrorGateway(m model.Mirror) *model.Gateway {
	ep := []model.Endpoint{{IP: "10.0.0.1", Port: 3000}}
	return &model.Gateway{
		Ports: []model.Port{{Port: 80, Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{
			{Name: "r", Match: model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/"}},
				Backends: []model.WeightedBackend{{Weight: 1, Cluster: "web"}}, Mirrors: []model.Mirror{m}},
		}}}}}}},
		Clusters: []model.Cluster{
			{Name: "shadow", Protocol: model.BackendHTTP1, Endpoints: ep},
			{Name: "web", Protocol: model.BackendHTTP1, Endpoints: ep},
		},
	}
}

func TestMirrorPortOptions(t *testing.T) {
	for _, c := range []struct {
		name           string
		tee, internal  int
		health         int
		wantErrContain string
	}{
		{name: "neither"},
		{name: "both", tee: 15001, internal: 15002},
		{name: "tee only", tee: 15001, wantErrContain: "both or neither"},
		{name: "internal only", internal: 15002, wantErrContain: "both or neither"},
		{name: "tee is the API port", tee: 15000, internal: 15002, wantErrContain: "also the API port"},
		{name: "same port twice", tee: 15001, internal: 15001, wantErrContain: "also the mirror tee port"},
		{name: "internal is the health port", tee: 15001, internal: 15003, health: 15003, wantErrContain: "also the health port"},
		{name: "out of range", tee: 70000, internal: 15002, wantErrContain: "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := baseOptions()
			opts.MirrorTeePort, opts.MirrorInternalPort, opts.HealthPort = c.tee, c.internal, c.health
			_, err := Render(mirrorGateway(model.Mirror{Cluster: "shadow", Numerator: 1, Denominator: 1}), opts)
			switch {
			case c.wantErrContain == "" && err != nil:
				t.Fatalf("Render: %v", err)
			case c.wantErrContain != "" && (err == nil || !strings.Contains(err.Error(), c.wantErrContain)):
				t.Fatalf("Render error %v, want one containing %q", err, c.wantErrContain)
			}
		})
	}
}

// Without tee ports the rule is served without its mirrors: no tee group, no
// internal frontend, no mirror entry.
func TestMirrorsNeedTheTee(t *testing.T) {
	gw := mirrorGateway(model.Mirror{Cluster: "shadow", Numerator: 1, Denominator: 1})
	off, err := Render(gw, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	on := baseOptions()
	on.MirrorTeePort, on.MirrorInternalPort = 15001, 15002
	with, err := Render(gw, on)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  *Config
		want bool
	}{{"without ports", off, false}, {"with ports", with, true}} {
		if got := bytes.Contains(c.cfg.RouteText(), []byte(":mirror =>")); got != c.want {
			t.Errorf("%s: mirror entry present %v, want %v", c.name, got, c.want)
		}
		if got := bytes.Contains(c.cfg.Main, []byte("frontend=127.0.0.1,15002;no-tls")); got != c.want {
			t.Errorf("%s: internal frontend present %v, want %v", c.name, got, c.want)
		}
		if got := bytes.Contains(BackendConf(c.cfg.Backends), []byte("/__ngxgw/"+MirrorTeeKey+"/")); got != c.want {
			t.Errorf("%s: tee group present %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMirrorRejectsBadModel(t *testing.T) {
	opts := baseOptions()
	opts.MirrorTeePort, opts.MirrorInternalPort = 15001, 15002
	for name, m := range map[string]model.Mirror{
		"unknown cluster":   {Cluster: "nope", Numerator: 1, Denominator: 1},
		"zero denominator":  {Cluster: "shadow", Numerator: 0, Denominator: 0},
		"numerator too big": {Cluster: "shadow", Numerator: 3, Denominator: 2},
	} {
		if err := refused(Render(mirrorGateway(m), opts)); err == nil {
			t.Errorf("%s: Render accepted it", name)
		}
	}
}
