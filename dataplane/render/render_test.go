package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
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
		{"API port is a listener", "data plane uses it", func(_ *model.Gateway, o *Options) { o.APIPort = 80 }},
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
		{"relative ticket key file", "TLS ticket key file 1", func(_ *model.Gateway, o *Options) {
			o.TLSTicketKeyFiles = []string{"/keys/t0", "keys/t1"}
		}},
		{"ticket key file with newline", "not allowed", func(_ *model.Gateway, o *Options) {
			o.TLSTicketKeyFiles = []string{"/keys/t0\nfrontend=*,1"}
		}},
		{"ticket key file with colon", "not allowed", func(_ *model.Gateway, o *Options) { o.TLSTicketKeyFiles = []string{"/keys/a:b"} }},
		{"unknown ticket key cipher", "cipher", func(_ *model.Gateway, o *Options) { o.TLSTicketKeyCipher = "aes-128-cbc\nfrontend=*,1" }},
		{"empty ticket key file", "absolute", func(_ *model.Gateway, o *Options) { o.TLSTicketKeyFiles = []string{""} }},
		{"timeout longer than a day", "timeout", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Timeouts = &model.Timeouts{RequestMillis: 25 * 3600 * 1000}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			if err := refused(Render(gw, opts)); err != nil {
				t.Fatalf("base model rejected: %v", err)
			}
			tc.mut(gw, &opts)
			err := refused(Render(gw, opts))
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
	checkTables(t, cfg)
}

func TestRenderRejectsProxyOptions(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		mut        func(gw *model.Gateway, o *Options)
	}{
		{"cookie name with semicolon", "cookie name", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "a;dnf"}}
		}},
		{"empty cookie name", "cookie name", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie}}
		}},
		{"cookie path with semicolon", "cookie path", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "c", CookiePath: "/a;tls"}}
		}},
		{"cookie path with newline", "cookie path", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "c", CookiePath: "/a\nfrontend=x"}}
		}},
		{"cookie secure", "secure", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "c", CookieSecure: "always"}}
		}},
		{"cookie stickiness", "stickiness", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "c", CookieStickiness: "x;dnf"}}
		}},
		{"affinity type", "affinity type", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{Affinity: &model.Affinity{Type: "random"}}
		}},
		{"negative write timeout", "timeout", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{WriteTimeoutMillis: -1}
		}},
		{"read timeout over a day", "timeout", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Proxy = &model.ProxyOptions{ReadTimeoutMillis: 25 * 3600 * 1000}
		}},
		{"SNI with semicolon", "SNI", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Backends[0].Proxy = &model.BackendOptions{TLS: true, SNI: "a.com;dnf"}
		}},
		{"backend protocol", "protocol", func(gw *model.Gateway, _ *Options) {
			rule0(gw).Backends[0].Proxy = &model.BackendOptions{Protocol: "grpc"}
		}},
		{"direct body too long", "direct body", func(gw *model.Gateway, _ *Options) {
			rule0(gw).DirectStatus, rule0(gw).DirectBody = 404, strings.Repeat("x", maxStringLen+1)
		}},
		{"managed extra line", "managed", func(_ *model.Gateway, o *Options) { o.ExtraConfig = []string{"frontend=*,81;no-tls"} }},
		{"extra line with newline", "control byte", func(_ *model.Gateway, o *Options) { o.ExtraConfig = []string{"workers=1\nfrontend=x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, opts := validGateway(), baseOptions()
			tc.mut(gw, &opts)
			err := refused(Render(gw, opts))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// User scripts are written verbatim to their own files and reach nothing else: not
// the main configuration, not a backend line, not the route table, not a program.
func TestUserScriptFiles(t *testing.T) {
	const src = "class App\n  def on_req(env) env.resp.return(\"x;\\n#{1}\") end\nend\nApp.new\n"
	gw := validGateway()
	r := *rule0(gw)
	r.Name, r.Match.Path.Value = "r2", "/two"
	r.Proxy = &model.ProxyOptions{Mruby: src}
	dnf := model.Rule{Name: "r3", Match: model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/three"}},
		Proxy: &model.ProxyOptions{Mruby: src, DoNotForward: true}}
	one := *rule0(gw)
	one.Proxy = &model.ProxyOptions{Mruby: src}
	vh := &gw.Ports[0].Listeners[0].VirtualHosts[0]
	vh.Rules = []model.Rule{one, r, dnf}
	opts := baseOptions()
	opts.AllowMruby = true
	cfg, err := Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	var sources, programs []string
	for name, body := range cfg.Files {
		switch {
		case strings.HasPrefix(name, "user-"):
			sources = append(sources, name)
			if string(body) != src {
				t.Errorf("%s holds %q, want the source verbatim", name, body)
			}
		case strings.HasPrefix(name, "scripted-"):
			programs = append(programs, name)
		}
		if !strings.HasPrefix(name, "user-") && strings.Contains(string(body), "App.new") {
			t.Errorf("file %s contains the user script", name)
		}
	}
	// One source; two programs (forwarding, and doNotForward).
	if len(sources) != 1 || len(programs) != 2 {
		t.Fatalf("sources %v, programs %v", sources, programs)
	}
	for _, p := range programs {
		if !strings.Contains(string(cfg.Files[p]), `NGXGW_USER_SCRIPT = "`+testStateDir+"/"+sources[0]+`"`) {
			t.Errorf("program %s does not load %s:\n%s", p, sources[0], cfg.Files[p][:300])
		}
	}
	for what, b := range map[string][]byte{"main": cfg.Main, "backends": BackendConf(cfg.Backends), "routes": cfg.RouteText()} {
		if strings.Contains(string(b), "App") {
			t.Errorf("%s contains the user script:\n%s", what, b)
		}
	}
	// Both forwarding rules share one group; the doNotForward rule has its own.
	conf := string(BackendConf(cfg.Backends))
	if n := strings.Count(conf, "mruby="+testStateDir+"/scripted-"); n != 2 {
		t.Errorf("%d lines run a user script, want 2 (one forwarding group line, one dnf line):\n%s", n, conf)
	}
	if !strings.Contains(conf, ";dnf;mruby="+testStateDir+"/scripted-") {
		t.Errorf("no dnf group:\n%s", conf)
	}
	// Without AllowMruby nothing of the script is written and the rules answer 500.
	opts.AllowMruby = false
	cfg, err = Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	for name := range cfg.Files {
		if strings.HasPrefix(name, "user-") || strings.HasPrefix(name, "scripted-") {
			t.Errorf("script file %s written although mruby is not allowed", name)
		}
	}
	if got := strings.Count(string(cfg.RouteText()), ":status => 500"); got != 3 {
		t.Errorf("%d rules answer 500, want 3:\n%s", got, cfg.RouteText())
	}
}

// The operator's global script is a file of its own that router.rb names.
func TestGlobalMruby(t *testing.T) {
	opts := baseOptions()
	opts.GlobalMruby = "Op.new # \"#{x}\"\n"
	cfg, err := Render(validGateway(), opts)
	if err != nil {
		t.Fatal(err)
	}
	name := operatorScriptFile(opts.GlobalMruby)
	if string(cfg.Files[name]) != opts.GlobalMruby {
		t.Fatalf("%s = %q", name, cfg.Files[name])
	}
	router := string(cfg.Files[RouterScriptFile])
	if !strings.Contains(router, `NGXGW_OPERATOR_SCRIPT = "`+testStateDir+"/"+name+`"`) || strings.Contains(router, "Op.new") {
		t.Errorf("router.rb does not load the operator script by name only:\n%s", router[:400])
	}
	if strings.Contains(string(cfg.Main), "Op.new") {
		t.Error("main configuration contains the script")
	}
	opts.GlobalMruby = ""
	cfg, err = Render(validGateway(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg.Files[RouterScriptFile]), "NGXGW_OPERATOR_SCRIPT = nil\n") {
		t.Error("router.rb without operator script does not say so")
	}
}

func TestParseExtraConfig(t *testing.T) {
	lines, problems := ParseExtraConfig("# c\n\n  workers=4  \r\nfrontend=*,1\nbackend=1.2.3.4,80\napi-max-request-body=1\nx\n" +
		"Bad=1\n=v\nno-via=yes\nmruby-file=/x\naccesslog-format=$remote_addr \"$request\"\nv=a\x01b\n")
	want := []string{"workers=4", "no-via=yes", `accesslog-format=$remote_addr "$request"`}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", lines, want)
	}
	for i, w := range []string{"line 4: option frontend is managed", "line 5: option backend is managed", "line 6: option api-max-request-body is managed",
		"line 7: \"x\" is not of the form", "line 8: option name \"Bad\"", "line 9: option name \"\"", "line 11: option mruby-file is managed",
		"line 13: option v: control byte"} {
		if i >= len(problems) || !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d: %q, want prefix %q (all: %q)", i, problems[min(i, len(problems)-1)], w, problems)
		}
	}
	if len(problems) != 8 {
		t.Errorf("%d problems, want 8: %q", len(problems), problems)
	}
}

func TestGroupKeyProfiles(t *testing.T) {
	base := profile{readTimeoutMillis: 1000}
	seen := map[string]profile{}
	for _, p := range []profile{
		base,
		{readTimeoutMillis: 1000, writeTimeoutMillis: 1000},
		{readTimeoutMillis: 1000, affinity: "ip"},
		{readTimeoutMillis: 1000, affinity: "cookie", cookieName: "a"},
		{readTimeoutMillis: 1000, affinity: "cookie", cookieName: "a", cookiePath: "/"},
		{readTimeoutMillis: 1000, affinity: "cookie", cookieName: "a", cookieSecure: "yes"},
		{readTimeoutMillis: 1000, affinity: "cookie", cookieName: "a", cookieStickiness: "strict"},
		{readTimeoutMillis: 1000, proto: "h2"},
		{readTimeoutMillis: 1000, tls: true},
		{readTimeoutMillis: 1000, tls: true, sni: "a.com"},
		{readTimeoutMillis: 1000, dns: true},
		{readTimeoutMillis: 1000, script: "scripted-1.rb"},
		{readTimeoutMillis: 1000, script: "scripted-1.rb", dnf: true},
	} {
		k := groupKey("svc/ns/a/80", p)
		if prev, dup := seen[k]; dup {
			t.Errorf("profiles %+v and %+v share key %s", prev, p, k)
		}
		seen[k] = p
	}
}

func TestCombineForAffinity(t *testing.T) {
	c := func(n string) groupMember { return groupMember{cluster: &model.Cluster{Name: n}} }
	ops := rbArr{rbArr{rbSym("set"), rbStr("x"), rbStr("1")}}
	got := combineForAffinity([]routedBackend{
		{weight: 1, member: c("a")},
		{weight: 2, status: statusInvalidBackend},
		{weight: 3, member: c("b")},
		{weight: 4, member: c("c"), req: ops},
		{weight: 5, status: statusNoEndpoints},
		{weight: 6, member: c("d")},
	})
	var desc []string
	for _, rb := range got {
		name := ""
		if rb.member.cluster != nil {
			name = rb.member.cluster.Name
		}
		d := fmt.Sprintf("%d:%d:%s", rb.weight, rb.status, name)
		for _, m := range rb.members {
			d += "+" + m.cluster.Name
		}
		desc = append(desc, d)
	}
	want := "10:0:a+b+d 2:500: 4:0:c 5:503:"
	if strings.Join(desc, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(desc, " "), want)
	}
}
