package apply

import (
	"slices"
	"strings"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

const stateDir = "/var/lib/ngxgw/gw1"

// base is a config like the renderer's: main names the router script, the
// certificate and key by absolute path; cluster groups name restore.rb.
func base() *render.Config {
	return &render.Config{
		Main: []byte("frontend=127.0.0.1,8080;no-tls\nfrontend=127.0.0.1,15000;api;no-tls\n" +
			"mruby-file=" + stateDir + "/router.rb\nprivate-key-file=" + stateDir + "/tls-aa.key\n" +
			"certificate-file=" + stateDir + "/tls-bb.crt\ninclude=" + stateDir + "/backends.conf\n"),
		Backends: []render.BackendGroup{
			{Key: "catchall", Lines: []string{"backend=127.0.0.1,9;/;dnf;mruby=" + stateDir + "/fallback.rb"}},
			{Key: "a", Lines: []string{"backend=10.0.0.1,80;/__ngxgw/a/;proto=http/1.1;mruby=" + stateDir + "/restore.rb"}},
			{Key: "b", Lines: []string{"backend=10.0.0.2,80;/__ngxgw/b/;mruby=" + stateDir + "/restore.rb"}},
		},
		RouteTable: []byte("{1=>[]}\n"),
		Files: map[string][]byte{
			"router.rb": []byte("router"), "restore.rb": []byte("restore"), "fallback.rb": []byte("fallback"),
			"tls-aa.key": []byte("key"), "tls-bb.crt": []byte("cert"), "tls-bb.crt.ocsp": []byte("ocsp"),
			"notes.txt": []byte("unused"),
		},
	}
}

func TestMakePlan(t *testing.T) {
	type want struct {
		reload, pre, routes, post, backends bool
		writeFiles, staleFiles, unionKeys   []string
		reason                              string
	}
	for _, tc := range []struct {
		name   string
		both   func(c *render.Config) // applied to the old and the new config
		change func(c *render.Config)
		want   want
	}{
		{name: "nothing", change: func(*render.Config) {}},
		{name: "main changed reloads", change: func(c *render.Config) {
			c.Main = append(c.Main, "workers=2\n"...)
		}, want: want{reload: true, reason: "main configuration changed"}},
		{name: "script named by main reloads", change: func(c *render.Config) {
			c.Files["router.rb"] = []byte("router v2")
		}, want: want{reload: true, writeFiles: []string{"router.rb"}, reason: "file router.rb changed"}},
		{name: "OCSP response next to a certificate reloads", change: func(c *render.Config) {
			c.Files["tls-bb.crt.ocsp"] = []byte("ocsp v2")
		}, want: want{reload: true, writeFiles: []string{"tls-bb.crt.ocsp"}, reason: "file tls-bb.crt.ocsp changed"}},
		{name: "OCSP response removed from next to a certificate reloads", change: func(c *render.Config) {
			delete(c.Files, "tls-bb.crt.ocsp")
		}, want: want{reload: true, staleFiles: []string{"tls-bb.crt.ocsp"}, reason: "file tls-bb.crt.ocsp removed"}},
		{name: "new file named by unchanged main reloads", both: func(c *render.Config) {
			c.Main = append(c.Main, "frontend-quic-secret-file=quic-secret\n"...)
		}, change: func(c *render.Config) {
			c.Files["quic-secret"] = []byte("s")
		}, want: want{reload: true, writeFiles: []string{"quic-secret"}, reason: "file quic-secret changed"}},
		{name: "unreferenced file is only written", change: func(c *render.Config) {
			c.Files["notes.txt"] = []byte("v2")
		}, want: want{writeFiles: []string{"notes.txt"}}},
		{name: "script named by backends is re-posted", change: func(c *render.Config) {
			c.Files["restore.rb"] = []byte("restore v2")
		}, want: want{post: true, writeFiles: []string{"restore.rb"}}},
		{name: "endpoint change posts without reload", change: func(c *render.Config) {
			c.Backends[1].Lines = []string{"backend=10.0.0.9,80;/__ngxgw/a/;proto=http/1.1;mruby=" + stateDir + "/restore.rb"}
		}, want: want{post: true, backends: true}},
		{name: "added group goes in before the routes", change: func(c *render.Config) {
			c.Backends = append(c.Backends, render.BackendGroup{Key: "c", Lines: []string{"backend=10.0.0.3,80;/__ngxgw/c/"}})
			c.RouteTable = []byte("{2=>[]}\n")
		}, want: want{pre: true, routes: true, backends: true, unionKeys: []string{"catchall", "a", "b", "c"}}},
		{name: "removed group goes after the routes", change: func(c *render.Config) {
			c.Backends = c.Backends[:2]
			c.RouteTable = []byte("{2=>[]}\n")
		}, want: want{routes: true, post: true, backends: true}},
		{name: "replaced group: union first, final after", change: func(c *render.Config) {
			c.Backends[2] = render.BackendGroup{Key: "c", Lines: []string{"backend=10.0.0.3,80;/__ngxgw/c/"}}
			c.RouteTable = []byte("{2=>[]}\n")
		}, want: want{pre: true, routes: true, post: true, backends: true, unionKeys: []string{"catchall", "a", "c", "b"}}},
		{name: "added and changed: the union already is final", change: func(c *render.Config) {
			c.Backends[1].Lines = []string{"backend=10.0.0.9,80;/__ngxgw/a/"}
			c.Backends = append(c.Backends, render.BackendGroup{Key: "c", Lines: []string{"backend=10.0.0.3,80;/__ngxgw/c/"}})
		}, want: want{pre: true, backends: true, unionKeys: []string{"catchall", "a", "b", "c"}}},
		{name: "route table alone", change: func(c *render.Config) {
			c.RouteTable = []byte("{3=>[]}\n")
		}, want: want{routes: true}},
		{name: "reordered groups keep backends.conf exact", change: func(c *render.Config) {
			c.Backends[1], c.Backends[2] = c.Backends[2], c.Backends[1]
		}, want: want{post: true, backends: true}},
		{name: "new certificate: files, main, stale files", change: func(c *render.Config) {
			delete(c.Files, "tls-aa.key")
			delete(c.Files, "tls-bb.crt")
			delete(c.Files, "tls-bb.crt.ocsp")
			c.Files["tls-cc.key"] = []byte("key2")
			c.Files["tls-dd.crt"] = []byte("cert2")
			c.Main = []byte(strings.NewReplacer("tls-aa.key", "tls-cc.key", "tls-bb.crt", "tls-dd.crt").Replace(string(c.Main)))
		}, want: want{reload: true, writeFiles: []string{"tls-cc.key", "tls-dd.crt"},
			staleFiles: []string{"tls-aa.key", "tls-bb.crt", "tls-bb.crt.ocsp"}, reason: "main configuration changed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, next := base(), base()
			if tc.both != nil {
				tc.both(old)
				tc.both(next)
			}
			tc.change(next)
			p := makePlan(old, next, stateDir)
			var unionKeys []string
			for _, g := range p.union {
				unionKeys = append(unionKeys, g.Key)
			}
			got := want{reload: p.reload, pre: p.pre, routes: p.routes, post: p.post, backends: p.backends,
				writeFiles: p.writeFiles, staleFiles: p.staleFiles, unionKeys: unionKeys}
			if len(p.reasons) > 0 {
				got.reason = p.reasons[0]
			}
			if got.reload != tc.want.reload || got.pre != tc.want.pre || got.routes != tc.want.routes ||
				got.post != tc.want.post || got.backends != tc.want.backends || got.reason != tc.want.reason ||
				!slices.Equal(got.writeFiles, tc.want.writeFiles) || !slices.Equal(got.staleFiles, tc.want.staleFiles) ||
				!slices.Equal(got.unionKeys, tc.want.unionKeys) {
				t.Errorf("plan %s:\n got %+v\nwant %+v", p, got, tc.want)
			}
			if p.empty() != (tc.name == "nothing") {
				t.Errorf("empty() = %v", p.empty())
			}
		})
	}
}

func TestReferences(t *testing.T) {
	lines := []string{
		"# mruby-file=/var/lib/ngxgw/gw1/commented.rb",
		"mruby-file=/var/lib/ngxgw/gw1/router.rb",
		"subcert=/var/lib/ngxgw/gw1/k2.key:/var/lib/ngxgw/gw1/c2.crt;sct-dir=/etc/sct",
		"backend=10.0.0.1,80;/a/;mruby=restore.rb;proto=h2",
		"include=/etc/elsewhere/x.conf",
		"frontend-quic-secret-file=/var/lib/ngxgw/gw1/sub/dir/quic-secret",
		"certificate-file=/var/lib/ngxgw/gw1/../gw2/other.crt",
	}
	r := references(lines, stateDir)
	for _, n := range []string{"router.rb", "k2.key", "c2.crt", "restore.rb", "sub/dir/quic-secret", "c2.crt.ocsp"} {
		if !r.has(n) {
			t.Errorf("%q not found in %v", n, r)
		}
	}
	for _, n := range []string{"commented.rb", "x.conf", "other.crt", "../gw2/other.crt", "rb", "c2.crtx"} {
		if r.has(n) {
			t.Errorf("%q found in %v", n, r)
		}
	}
}

// A side file that went away is removed before the reload (nghttpx must not find
// it), and only such files: the rest of the stale files wait until nghttpx confirms.
func TestMakePlanRemovesSideFileFirst(t *testing.T) {
	old, next := base(), base()
	delete(next.Files, "tls-bb.crt.ocsp")
	delete(next.Files, "notes.txt")
	p := makePlan(old, next, stateDir)
	if !p.reload || !slices.Equal(p.removeFirst, []string{"tls-bb.crt.ocsp"}) || !slices.Equal(p.staleFiles, []string{"notes.txt", "tls-bb.crt.ocsp"}) {
		t.Errorf("plan %s: removeFirst %q, stale %q", p, p.removeFirst, p.staleFiles)
	}
}
