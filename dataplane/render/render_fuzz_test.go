package render

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// fuzzInput is everything FuzzRender varies.
type fuzzInput struct {
	host, path, hname, hval, qname, qval, method string
	rdHost, modPath, cluster                     string
	endpoints                                    uint8
	flags                                        uint8 // bit0 exact path, bit1 HTTPS port, bit2 timeout, bit3 h2c
}

func (in fuzzInput) model(certPEM, keyPEM []byte) *model.Gateway {
	pathType := model.PathPrefix
	if in.flags&1 != 0 {
		pathType = model.PathExact
	}
	match := model.Match{
		Path:        model.PathMatch{Type: pathType, Value: in.path},
		Method:      in.method,
		Headers:     []model.NameValue{{Name: in.hname, Value: in.hval}},
		QueryParams: []model.NameValue{{Name: in.qname, Value: in.qval}},
	}
	prefixMatch := model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: in.path}}
	var timeouts *model.Timeouts
	if in.flags&4 != 0 {
		timeouts = &model.Timeouts{RequestMillis: int64(in.endpoints) * 10}
	}
	proto := model.BackendHTTP1
	if in.flags&8 != 0 {
		proto = model.BackendH2C
	}
	mods := &model.HeaderModifier{
		Set:    []model.NameValue{{Name: in.hname, Value: in.hval}},
		Add:    []model.NameValue{{Name: in.hname, Value: in.hval}},
		Remove: []string{in.hname},
	}
	backend := model.WeightedBackend{Weight: 1, Cluster: in.cluster, RequestHeaders: mods, ResponseHeaders: mods}
	rdHost := in.rdHost
	port := int32(8080)
	rules := []model.Rule{
		{Name: in.cluster + in.host, Match: match, RequestHeaders: mods, ResponseHeaders: mods,
			Timeouts: timeouts, Backends: []model.WeightedBackend{backend}},
		{Name: in.path, Match: prefixMatch, Redirect: &model.Redirect{
			Hostname: &rdHost, Port: &port, StatusCode: 301,
			Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: in.modPath}}},
		{Name: in.hval, Match: prefixMatch, Rewrite: &model.Rewrite{
			Hostname: &rdHost, Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: in.modPath}},
			Timeouts: timeouts, Backends: []model.WeightedBackend{backend}},
	}
	listener := model.Listener{
		Hostname:     in.host,
		VirtualHosts: []model.VirtualHost{{Hostname: in.host, Rules: rules}},
	}
	var eps []model.Endpoint
	for i := 0; i < int(in.endpoints%8); i++ {
		eps = append(eps, model.Endpoint{IP: fmt.Sprintf("10.244.0.%d", i+1), Port: 3000 + int32(i)})
	}
	gw := &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports:     []model.Port{{Port: 80, Protocol: model.ProtocolHTTP, Listeners: []model.Listener{listener}}},
		Clusters:  []model.Cluster{{Name: in.cluster, Protocol: proto, Endpoints: eps}},
	}
	if in.flags&2 != 0 {
		tlsListener := listener
		tlsListener.CertificateNames = []string{"cert"}
		gw.Ports = append(gw.Ports, model.Port{Port: 443, Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{tlsListener}})
		gw.Certificates = []model.Certificate{{Name: "cert", CertPEM: certPEM, KeyPEM: keyPEM}}
	}
	return gw
}

var (
	simpleHost  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}$`)
	simplePath  = regexp.MustCompile(`^/[a-zA-Z0-9/_.-]{0,40}$`)
	simpleToken = regexp.MustCompile(`^[a-zA-Z0-9-]{1,20}$`)
	simpleValue = regexp.MustCompile(`^[a-zA-Z0-9 ,;"'#{}\\$=/-]{0,40}$`)
	simpleQuery = regexp.MustCompile(`^[a-zA-Z0-9_.~%-]{1,20}$`)
	simpleMeth  = regexp.MustCompile(`^[A-Z]{1,10}$`)

	directiveAllow = map[string]bool{
		"frontend": true, "private-key-file": true, "certificate-file": true, "subcert": true,
		"mruby-file": true, "include": true, "workers": true, "worker-process-grace-shutdown-period": true,
		"add-x-forwarded-for": true, "no-via": true, "no-server-push": true, "no-ocsp": true,
		"errorlog-file": true,
	}
	backendLine = regexp.MustCompile(`^backend=10\.244\.0\.[1-8],300[0-7];/__ngxgw/([a-z0-9-]+)/;proto=(h2|http/1\.1);mruby=` +
		regexp.QuoteMeta(testStateDir) + `/restore\.rb(;read-timeout=[0-9]+m?s)?$`)
	catchAll = "backend=127.0.0.1,9;/;dnf;mruby=" + testStateDir + "/fallback.rb"
)

// likelyValid is a conservative description of input Render must accept.
func (in fuzzInput) likelyValid() bool {
	path := simplePath.MatchString(in.path) && !strings.Contains(in.path, "//")
	modPath := simplePath.MatchString(in.modPath)
	hname := simpleToken.MatchString(in.hname) && !strings.HasPrefix(strings.ToLower(in.hname), internalHeaderPrefix)
	return (in.host == "" || simpleHost.MatchString(in.host)) && simpleHost.MatchString(in.rdHost) && path && modPath &&
		hname && simpleValue.MatchString(in.hval) && simpleQuery.MatchString(in.qname) &&
		simpleQuery.MatchString(in.qval) && (in.method == "" || simpleMeth.MatchString(in.method)) && in.cluster != ""
}

func FuzzRender(f *testing.F) {
	f.Add("", "/", "x-version", "two", "animal", "whale", "GET", "example.org", "/replacement", "svc/ns/name/80", uint8(2), uint8(0))
	f.Add("foo.example.com", "/api/", "X-Quote", `a "#{x}" \ b`, "q", "1", "", "a.b", "/", "svc/ns/name/80", uint8(3), uint8(2))
	f.Add("*.example.com", "/exact", "h", "v\r\nx: y", "q", "v", "POST", "x.y", "/p", "svc/NS/Ünï/80", uint8(1), uint8(5))
	f.Add("evil\n.com", "/a\nb", "x\n", "v\x00", "a&b", "c=d", "get", "h\"", "/\"#{`id`}", "c\nfrontend=x", uint8(0), uint8(15))
	f.Add("a.com", "/p", "x-ngxgw-path", "v", "n", "v", "PUT", "b.com", "/q?x", "--", uint8(7), uint8(9))
	certPEM, err := os.ReadFile("testdata/certs/a.example.com.crt")
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, err := os.ReadFile("testdata/certs/a.example.com.key")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host, path, hname, hval, qname, qval, method, rdHost, modPath, cluster string, endpoints, flags uint8) {
		in := fuzzInput{host: host, path: path, hname: hname, hval: hval, qname: qname, qval: qval, method: method,
			rdHost: rdHost, modPath: modPath, cluster: cluster, endpoints: endpoints, flags: flags}
		gw := in.model(certPEM, keyPEM)
		opts := baseOptions()
		cfg, err := Render(gw, opts)
		if err != nil {
			// Only options and model invariants (a cluster has a name) may refuse
			// the whole Gateway.
			if in.cluster == "" {
				return
			}
			t.Fatalf("whole Gateway refused: %v\n%#v", err, in)
		}
		if err := refused(cfg, nil); err != nil {
			if in.likelyValid() {
				t.Fatalf("valid input dropped: %v\n%#v", err, in)
			}
			// What is left is still only our own directives and lines.
			checkMain(t, cfg.Main, flags&2 != 0)
			for _, l := range strings.Split(strings.TrimSuffix(string(BackendConf(cfg.Backends)), "\n"), "\n") {
				if l != catchAll && !backendLine.MatchString(l) {
					t.Fatalf("unexpected backend line %q", l)
				}
			}
			return
		}
		checkMain(t, cfg.Main, flags&2 != 0)
		checkBackends(t, cfg.Backends, gw)
		checkFuzzTable(t, cfg, in)
		// The programs are static: nothing from the model gets into them.
		pre := scriptPrelude(opts.withDefaults())
		if string(cfg.Files[RouterScriptFile]) != string(routerScript(opts.withDefaults())) ||
			string(cfg.Files[RestoreScriptFile]) != pre+tableBody+corsBody+restoreBody+restoreApp {
			t.Fatal("mruby programs depend on the model")
		}
		for name, body := range cfg.Files {
			if strings.HasPrefix(name, "tls-") && !bytes.Equal(body, certPEM) && !bytes.Equal(body, keyPEM) {
				t.Fatalf("file %s is neither the certificate nor the key", name)
			}
		}
	})
}

func checkMain(t *testing.T, main []byte, tls bool) {
	t.Helper()
	want := []string{"frontend"}
	if tls {
		want = append(want, "frontend")
	}
	want = append(want, "frontend")
	if tls {
		want = append(want, "private-key-file", "certificate-file")
	}
	want = append(want, "mruby-file", "include", "workers", "worker-process-grace-shutdown-period",
		"add-x-forwarded-for", "no-via", "no-server-push", "no-ocsp", "errorlog-file")
	lines := strings.Split(strings.TrimSuffix(string(main), "\n"), "\n")
	if lines[0] != strings.TrimSuffix(mainHeader, "\n") {
		t.Fatalf("main config header changed: %q", lines[0])
	}
	var got []string
	for _, l := range lines[1:] {
		name, _, ok := strings.Cut(l, "=")
		if !ok || !directiveAllow[name] {
			t.Fatalf("unexpected main config line %q", l)
		}
		got = append(got, name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("main config directives %v, want %v", got, want)
	}
}

func checkBackends(t *testing.T, groups []BackendGroup, gw *model.Gateway) {
	t.Helper()
	eps := len(gw.Clusters[0].Endpoints)
	conf := string(BackendConf(groups))
	lines := strings.Split(strings.TrimSuffix(conf, "\n"), "\n")
	if eps == 0 {
		if len(lines) != 1 || lines[0] != catchAll {
			t.Fatalf("cluster without endpoints: backends %q", conf)
		}
		return
	}
	// One rule group per timeout profile; both backend rules share the profile.
	if len(groups) != 2 || len(lines) != eps+1 {
		t.Fatalf("want %d endpoint lines in one group plus the catch-all, got %d groups:\n%s", eps, len(groups), conf)
	}
	for _, l := range lines[:eps] {
		m := backendLine.FindStringSubmatch(l)
		if m == nil || m[1] != groups[0].Key {
			t.Fatalf("unexpected backend line %q (group %q)", l, groups[0].Key)
		}
	}
	if lines[eps] != catchAll {
		t.Fatalf("last line %q, want the catch-all", lines[eps])
	}
}

// routeLiterals are the head and the shards of the route table (not the shard
// list, which is not Ruby).
func routeLiterals(cfg *Config) [][]byte {
	out := [][]byte{cfg.RouteTable}
	for _, n := range slices.Sorted(maps.Keys(cfg.RouteShards)) {
		if strings.HasSuffix(n, ".rb") {
			out = append(out, cfg.RouteShards[n])
		}
	}
	return out
}

// checkFuzzTable parses routes.rb with the grammar checker and verifies that user
// strings survive the escaping unchanged.
func checkFuzzTable(t *testing.T, cfg *Config, in fuzzInput) {
	t.Helper()
	strs := map[string]bool{}
	for _, table := range routeLiterals(cfg) {
		v, err := parseRouteTable(table)
		if err != nil {
			t.Fatalf("routes.rb outside the literal grammar: %v\n%s", err, table)
		}
		collectStrings(v, strs)
	}
	table := cfg.RouteText()
	for _, s := range []string{in.hval, in.qname, in.qval, in.rdHost, in.modPath, strings.ToLower(in.hname), in.cluster + in.host} {
		if !strs[s] {
			t.Fatalf("user string %q not found decoded in routes.rb:\n%s", s, table)
		}
	}
}

func collectStrings(v any, out map[string]bool) {
	switch v := v.(type) {
	case string:
		out[v] = true
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case []decodedPair:
		for _, p := range v {
			collectStrings(p.Key, out)
			collectStrings(p.Val, out)
		}
	}
}

// FuzzRenderProxy varies the Ingress shim's settings: whatever the cookie name and
// path, SNI, scripts and operator lines, no value adds a parameter to a backend line
// or a line to the main configuration, and scripts only ever land in their files.
func FuzzRenderProxy(f *testing.F) {
	f.Add("lb", "/", "a.example.com", "App.new", "Op.new", "workers=2\nno-via=no", uint8(0))
	f.Add("a;dnf", "/x;tls", "a.com;dnf", "\"\n#{x}", "__END__", "frontend=*,1\nworkers=1\nx", uint8(7))
	f.Add("c", "/p\nfrontend=x", "A.com", "", "", "include=/etc/x\r\nbackend-read-timeout=1s;tls", uint8(3))
	f.Fuzz(func(t *testing.T, cookieName, cookiePath, sni, script, global, extra string, flags uint8) {
		gw := validGateway()
		r := rule0(gw)
		r.Proxy = &model.ProxyOptions{Mruby: script, Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: cookieName, CookiePath: cookiePath}}
		r.Backends[0].Proxy = &model.BackendOptions{TLS: flags&1 != 0, SNI: sni, Protocol: model.BackendH2C}
		if flags&2 != 0 {
			r.Proxy.DoNotForward = true
			r.Backends = nil
		}
		opts := baseOptions()
		opts.AllowMruby = flags&4 != 0
		opts.GlobalMruby = global
		lines, _ := ParseExtraConfig(extra)
		opts.ExtraConfig = lines
		cfg, err := Render(gw, opts)
		if err != nil {
			return
		}
		allowed := map[string]bool{"proto": true, "tls": true, "sni": true, "dns": true, "mruby": true, "dnf": true,
			"affinity": true, "affinity-cookie-name": true, "affinity-cookie-path": true}
		for _, g := range cfg.Backends {
			for _, l := range g.Lines {
				if strings.ContainsAny(l, "\r\n") {
					t.Fatalf("line break in backend line %q", l)
				}
				parts := strings.Split(l, ";")
				for _, p := range parts[2:] {
					name, value, _ := strings.Cut(p, "=")
					if !allowed[name] {
						t.Fatalf("unexpected parameter %q in %q", p, l)
					}
					switch name {
					case "affinity-cookie-name":
						if value != cookieName {
							t.Fatalf("cookie name %q became %q", cookieName, value)
						}
					case "affinity-cookie-path":
						if value != cookiePath {
							t.Fatalf("cookie path %q became %q", cookiePath, value)
						}
					case "sni":
						if value != sni {
							t.Fatalf("SNI %q became %q", sni, value)
						}
					}
				}
			}
		}
		// Main: our directives, then exactly the accepted operator lines.
		main := strings.TrimSuffix(string(cfg.Main), "\n")
		ours, theirs, _ := strings.Cut(main, "\n# operator configuration (nghttpx-conf)\n")
		for _, l := range strings.Split(ours, "\n")[1:] {
			if name, _, _ := strings.Cut(l, "="); !directiveAllow[name] {
				t.Fatalf("unexpected main line %q", l)
			}
		}
		if theirs != strings.Join(lines, "\n") {
			t.Fatalf("operator lines %q, want %q", theirs, lines)
		}
		for _, l := range lines {
			if name, _, _ := strings.Cut(l, "="); directiveAllow[name] && name != "workers" && name != "add-x-forwarded-for" &&
				name != "no-via" && name != "no-server-push" {
				t.Fatalf("operator line %q sets a managed directive", l)
			}
		}
		// Programs are our static text plus a prelude; the scripts are only in their
		// own files.
		want := map[string]string{RouterScriptFile: string(routerScript(opts.withDefaults()))}
		if opts.AllowMruby && script != "" {
			src, prog, body := userScript{source: script, dnf: flags&2 != 0}.files(opts.withDefaults())
			want[src], want[prog] = script, string(body)
		}
		if global != "" {
			want[operatorScriptFile(global)] = global
		}
		for name, body := range cfg.Files {
			w, ok := want[name]
			if ok && string(body) != w {
				t.Fatalf("file %s: unexpected content", name)
			}
			if !ok && (strings.HasPrefix(name, "user-") || strings.HasPrefix(name, "scripted-") || strings.HasPrefix(name, "operator-")) {
				t.Fatalf("unexpected script file %s", name)
			}
		}
	})
}
