package render

import (
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
)

// validGateway is a small model every error case below breaks in one place.
func validGateway() *model.Gateway {
	return &model.Gateway{
		Ports: []model.Port{{Port: 80, Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{
			Hostname: "example.com",
			VirtualHosts: []model.VirtualHost{{Hostname: "example.com", Rules: []model.Rule{{
				Name:     "r",
				Match:    model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/"}},
				Backends: []model.WeightedBackend{{Weight: 1, Cluster: "c"}},
			}}}},
		}}}},
		Clusters: []model.Cluster{{Name: "c", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "10.0.0.1", Port: 80}}}},
	}
}

func rule0(gw *model.Gateway) *model.Rule { return &gw.Ports[0].Listeners[0].VirtualHosts[0].Rules[0] }

func TestRenderRejects(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name, want string
		mut        func(gw *model.Gateway, o *Options)
	}{
		{"relative state dir", "absolute", func(_ *model.Gateway, o *Options) { o.StateDir = "state" }},
		{"state dir with colon", "not allowed", func(_ *model.Gateway, o *Options) { o.StateDir = "/a:b" }},
		{"state dir with newline", "not allowed", func(_ *model.Gateway, o *Options) { o.StateDir = "/a\nb" }},
		{"no API port", "API port", func(_ *model.Gateway, o *Options) { o.APIPort = 0 }},
		{"API port is a listener", "used twice", func(_ *model.Gateway, o *Options) { o.APIPort = 80 }},
		{"BPF without program", "BPF", func(_ *model.Gateway, o *Options) { o.Features.BPF = true }},
		{"listener hostname newline", "hostname", func(gw *model.Gateway, _ *Options) { gw.Ports[0].Listeners[0].Hostname = "a\n.com" }},
		{"listener hostname upper case", "hostname", func(gw *model.Gateway, _ *Options) { gw.Ports[0].Listeners[0].Hostname = "A.com" }},
		{"wildcard in the middle", "hostname", func(gw *model.Gateway, _ *Options) { gw.Ports[0].Listeners[0].Hostname = "a.*.com" }},
		{"vhost hostname quote", "hostname", func(gw *model.Gateway, _ *Options) {
			gw.Ports[0].Listeners[0].VirtualHosts[0].Hostname = `a".com`
		}},
		{"path without slash", "must start with /", func(gw *model.Gateway, _ *Options) { rule0(gw).Match.Path.Value = "x" }},
		{"path with newline", "not allowed", func(gw *model.Gateway, _ *Options) { rule0(gw).Match.Path.Value = "/a\nb" }},
		{"path with query", "not allowed", func(gw *model.Gateway, _ *Options) { rule0(gw).Match.Path.Value = "/a?b" }},
		{"unknown path type", "not supported", func(gw *model.Gateway, _ *Options) { rule0(gw).Match.Path.Type = "RegularExpression" }},
		{"header name with colon", "token", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Match.Headers = []model.NameValue{{Name: "a:b", Value: "v"}}
		}},
		{"header value CRLF", "control byte", func(gw *model.Gateway, _ *Options) {
			rule0(gw).RequestHeaders = &model.HeaderModifier{Set: []model.NameValue{{Name: "a", Value: "v\r\nx: y"}}}
		}},
		{"header value NUL", "control byte", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Backends[0].ResponseHeaders = &model.HeaderModifier{Add: []model.NameValue{{Name: "a", Value: "\x00"}}}
		}},
		{"internal header", "reserved", func(gw *model.Gateway, _ *Options) {
			rule0(gw).RequestHeaders = &model.HeaderModifier{Remove: []string{"X-Ngxgw-Path"}}
		}},
		{"query name with =", "not allowed", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Match.QueryParams = []model.NameValue{{Name: "a=b", Value: "v"}}
		}},
		{"lower-case method", "upper-case", func(gw *model.Gateway, _ *Options) { rule0(gw).Match.Method = "get" }},
		{"redirect status", "status code", func(gw *model.Gateway, _ *Options) { rule0(gw).Redirect = &model.Redirect{StatusCode: 200} }},
		{"redirect scheme", "scheme", func(gw *model.Gateway, _ *Options) { rule0(gw).Redirect = &model.Redirect{Scheme: s("ftp")} }},
		{"redirect hostname wildcard", "hostname", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Redirect = &model.Redirect{Hostname: s("*.a.com")}
		}},
		{"prefix replacement on exact match", "ReplacePrefixMatch", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Match.Path.Type = model.PathExact
			rule0(gw).Rewrite = &model.Rewrite{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/x"}}
		}},
		{"redirect and rewrite", "redirect and rewrite", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Redirect = &model.Redirect{StatusCode: 302}
			rule0(gw).Rewrite = &model.Rewrite{Hostname: s("a.com")}
		}},
		{"unknown cluster", "not in the Gateway", func(gw *model.Gateway, _ *Options) { rule0(gw).Backends[0].Cluster = "nope" }},
		{"negative weight", "weight", func(gw *model.Gateway, _ *Options) { rule0(gw).Backends[0].Weight = -1 }},
		{"direct status 1xx", "direct status", func(gw *model.Gateway, _ *Options) { rule0(gw).DirectStatus = 101 }},
		{"endpoint not an IP", "not an IP", func(gw *model.Gateway, _ *Options) { gw.Clusters[0].Endpoints[0].IP = "a;b" }},
		{"endpoint port 0", "port", func(gw *model.Gateway, _ *Options) { gw.Clusters[0].Endpoints[0].Port = 0 }},
		{"cluster protocol", "protocol", func(gw *model.Gateway, _ *Options) { gw.Clusters[0].Protocol = "grpc" }},
		{"gateway address", "not an IP", func(gw *model.Gateway, _ *Options) { gw.Addresses = []string{"0.0.0.0,1\nfrontend=x"} }},
		{"HTTPS without certificate", "no certificate", func(gw *model.Gateway, _ *Options) { gw.Ports[0].Protocol = model.ProtocolHTTPS }},
		{"unknown certificate", "certificate", func(gw *model.Gateway, _ *Options) {
			gw.Ports[0].Protocol = model.ProtocolHTTPS
			gw.Ports[0].Listeners[0].CertificateNames = []string{"missing"}
		}},
		{"duplicate port", "used twice", func(gw *model.Gateway, _ *Options) { gw.Ports = append(gw.Ports, gw.Ports[0]) }},
		{"timeout longer than a day", "timeout", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Timeouts = &model.Timeouts{RequestMillis: 25 * 3600 * 1000}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			if _, err := Render(gw, opts); err != nil {
				t.Fatalf("base model rejected: %v", err)
			}
			tc.mut(gw, &opts)
			_, err := Render(gw, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestGroupKey(t *testing.T) {
	a := groupKey("svc/NS/Name_1/80", profile{})
	if a != groupKey("svc/NS/Name_1/80", profile{}) {
		t.Fatal("key not deterministic")
	}
	if !strings.HasPrefix(a, "svc-ns-name-1-80-") || len(a) != len("svc-ns-name-1-80-")+8 {
		t.Errorf("key %q", a)
	}
	if a == groupKey("svc/ns/name-1/80", profile{}) {
		t.Error("names that fold to the same text share a key")
	}
	if a == groupKey("svc/NS/Name_1/80", profile{readTimeoutMillis: 1500}) {
		t.Error("profiles share a key")
	}
	for _, n := range []string{"", "///", strings.Repeat("x", 300), "ü\n;:,"} {
		k := groupKey(n, profile{})
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("key %q of %q has byte %q", k, n, c)
			}
		}
		if len(k) > 49 || k[0] == '-' {
			t.Errorf("key %q of %q", k, n)
		}
	}
}

func TestDuration(t *testing.T) {
	for ms, want := range map[int64]string{1: "1ms", 1500: "1500ms", 2000: "2s", 30000: "30s"} {
		if got := duration(ms); got != want {
			t.Errorf("duration(%d) = %q, want %q", ms, got, want)
		}
	}
}

// An empty Gateway (no listeners yet) still renders a configuration nghttpx accepts:
// the API frontend, the programs and the catch-all.
func TestRenderEmptyGateway(t *testing.T) {
	cfg, err := Render(&model.Gateway{}, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg.Main), "frontend=127.0.0.1,15000;api;no-tls\n") || strings.Contains(string(cfg.Main), "certificate-file") {
		t.Errorf("main config:\n%s", cfg.Main)
	}
	if len(cfg.Backends) != 1 || cfg.Backends[0].Key != CatchAllKey {
		t.Errorf("backends %+v", cfg.Backends)
	}
	checkTable(t, cfg.RouteTable)
}
