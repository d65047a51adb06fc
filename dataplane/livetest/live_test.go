//go:build integration

package livetest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// The live suite renders one Gateway that exercises every feature, runs a real
// nghttpx on it with three echo backends, and checks what clients and backends see.

// chunkSize is render's (rubylit.go): the rules one route table literal holds.
const chunkSize = 64

// respKeyRE finds the first response-modifier key of a route table.
var respKeyRE = regexp.MustCompile(`:resp => \[\s*\[\s*"([^"]+)"`)

// liveEnv is the running data plane of the suite.
type liveEnv struct {
	dir                  string
	opts                 render.Options
	ngx                  *testenv.Nghttpx
	v1, v2, v3           *testenv.Echo
	httpA, httpB, httpsC int
	h1, h2c              *http.Client
}

// echoed is the part of echo-basic's JSON the tests read.
type echoed struct {
	Path    string              `json:"path"`
	Host    string              `json:"host"`
	Method  string              `json:"method"`
	Proto   string              `json:"proto"`
	Headers map[string][]string `json:"headers"`
	Pod     string              `json:"pod"`
}

func backendRef(cluster string, weight int32) model.WeightedBackend {
	return model.WeightedBackend{Weight: weight, Cluster: cluster}
}

func prefix(v string) model.Match {
	return model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: v}}
}

func strp(s string) *string { return &s }

func i32p(i int32) *int32 { return &i }

// liveModel is the Gateway of the suite. Port A carries most features, port B shows
// port separation, port C is HTTPS with one certificate per hostname listener.
func liveModel(e *liveEnv, certA, keyA, certB, keyB []byte) *model.Gateway {
	rule := func(name string, m model.Match, backends ...model.WeightedBackend) model.Rule {
		return model.Rule{Name: name, Match: m, Backends: backends}
	}
	redirect := func(name, path string, rd model.Redirect) model.Rule {
		return model.Rule{Name: name, Match: prefix(path), Redirect: &rd}
	}
	matchVH := model.VirtualHost{Hostname: "match.example.com", Rules: []model.Rule{
		rule("exact", model.Match{Path: model.PathMatch{Type: model.PathExact, Value: "/exact"}}, backendRef("v1", 1)),
		rule("exact-prefix", prefix("/exact"), backendRef("v2", 1)),
		rule("header", model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/hdr"},
			Headers: []model.NameValue{{Name: "x-version", Value: "two"}}}, backendRef("v2", 1)),
		rule("header-fallback", prefix("/hdr"), backendRef("v1", 1)),
		rule("query", model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/q"},
			QueryParams: []model.NameValue{{Name: "animal", Value: "whale"}}}, backendRef("v3", 1)),
		rule("query-fallback", prefix("/q"), backendRef("v1", 1)),
		rule("method", model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: "/m"}, Method: "POST"}, backendRef("v2", 1)),
		rule("method-fallback", prefix("/m"), backendRef("v1", 1)),
	}}
	headers := model.Rule{
		Name:            "headers",
		Match:           prefix("/headers"),
		RequestHeaders:  &model.HeaderModifier{Set: []model.NameValue{{Name: "X-Set", Value: "set-value"}}, Add: []model.NameValue{{Name: "X-Add", Value: "added"}}, Remove: []string{"X-Remove"}},
		ResponseHeaders: &model.HeaderModifier{Set: []model.NameValue{{Name: "X-Resp-Set", Value: "ours"}}, Add: []model.NameValue{{Name: "X-Resp-Add", Value: "added"}}, Remove: []string{"X-Resp-Remove"}},
		Backends:        []model.WeightedBackend{backendRef("v1", 1)},
	}
	bref := model.Rule{Name: "bref", Match: prefix("/bref"), Backends: []model.WeightedBackend{
		{Weight: 1, Cluster: "v1",
			RequestHeaders:  &model.HeaderModifier{Add: []model.NameValue{{Name: "X-Backend", Value: "v1"}}},
			ResponseHeaders: &model.HeaderModifier{Add: []model.NameValue{{Name: "X-Backend-Resp", Value: "v1"}}}},
		{Weight: 1, Cluster: "v2",
			RequestHeaders: &model.HeaderModifier{Add: []model.NameValue{{Name: "X-Backend", Value: "v2"}}}},
	}}
	anyVH := model.VirtualHost{Rules: []model.Rule{
		rule("weights", prefix("/weights"), backendRef("v1", 3), backendRef("v2", 1), backendRef("v3", 0)),
		rule("invalid", prefix("/invalid"), backendRef("v1", 1), model.WeightedBackend{Weight: 1, Invalid: true}),
		rule("empty", prefix("/empty"), backendRef("empty", 1)),
		redirect("r-nil", "/r/nil", model.Redirect{StatusCode: 302}),
		redirect("r-https", "/r/https", model.Redirect{Scheme: strp("https"), StatusCode: 301}),
		redirect("r-https-8443", "/r/port8443", model.Redirect{Scheme: strp("https"), Port: i32p(8443), StatusCode: 303}),
		redirect("r-host-80", "/r/host80", model.Redirect{Hostname: strp("example.org"), Port: i32p(80), StatusCode: 307}),
		redirect("r-prefix", "/r/prefix", model.Redirect{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/replacement"}, StatusCode: 308}),
		redirect("r-full", "/r/full", model.Redirect{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/full-replacement"}, StatusCode: 302}),
		{Name: "rw-prefix", Match: prefix("/rw/prefix/one"), Backends: []model.WeightedBackend{backendRef("v1", 1)},
			Rewrite: &model.Rewrite{Hostname: strp("rewritten.example.org"), Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/one"}}},
		{Name: "rw-strip", Match: prefix("/rw/strip"), Backends: []model.WeightedBackend{backendRef("v1", 1)},
			Rewrite: &model.Rewrite{Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/"}}},
		{Name: "rw-full", Match: prefix("/rw/full"), Backends: []model.WeightedBackend{backendRef("v1", 1)},
			Rewrite: &model.Rewrite{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/one"}}},
		headers,
		bref,
		{Name: "slow", Match: prefix("/slow"), Timeouts: &model.Timeouts{RequestMillis: 1000}, Backends: []model.WeightedBackend{backendRef("v1", 1)}},
		rule("h2c", prefix("/h2c"), backendRef("v1-h2c", 1)),
		rule("ws", prefix("/ws"), backendRef("v1-ws", 1)),
		rule("echo", prefix("/echo"), backendRef("v1", 1)),
	}}
	// More rules than one literal chunk holds (rubylit.go chunkSize): the table loads
	// in pieces and keeps its order.
	manyVH := model.VirtualHost{Hostname: "many.example.com"}
	for i := range 3*chunkSize + 7 {
		cluster := "v1"
		if i%2 == 1 {
			cluster = "v2"
		}
		manyVH.Rules = append(manyVH.Rules, rule(fmt.Sprintf("many-%d", i), prefix(fmt.Sprintf("/r%d", i)), backendRef(cluster, 1)))
	}
	// One listener's exact, longer wildcard, shorter wildcard and any-host virtual
	// hosts: a host tries the rules of every one it matches, in table order (the
	// router's host index must keep that).
	mixExact := model.VirtualHost{Hostname: "exact.mix.example.com", Rules: []model.Rule{
		rule("mix-exact", prefix("/only-exact"), backendRef("v2", 1)),
	}}
	mixDeep := model.VirtualHost{Hostname: "*.deep.mix.example.com", Rules: []model.Rule{
		rule("mix-deep", prefix("/deep"), backendRef("v2", 1)),
	}}
	mixWild := model.VirtualHost{Hostname: "*.mix.example.com", Rules: []model.Rule{
		rule("mix-wild", prefix("/only-wild"), backendRef("v3", 1)),
		rule("mix-wild-exact", prefix("/only-exact"), backendRef("v1", 1)),
	}}
	ep := func(e *testenv.Echo, h2c bool) []model.Endpoint {
		if h2c {
			return []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.H2CPort)}}
		}
		return []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.HTTPPort)}}
	}
	return &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{
			{Port: int32(e.httpA), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
				{Hostname: "iso.example.com", VirtualHosts: []model.VirtualHost{{Hostname: "iso.example.com", Rules: []model.Rule{
					rule("iso", prefix("/iso"), backendRef("v2", 1)),
				}}}},
				{Hostname: "*.wild.example.com", VirtualHosts: []model.VirtualHost{{Hostname: "*.wild.example.com", Rules: []model.Rule{
					rule("wild", prefix("/"), backendRef("v3", 1)),
				}}}},
				{VirtualHosts: []model.VirtualHost{matchVH, manyVH, mixExact, mixDeep, mixWild, anyVH}},
			}},
			{Port: int32(e.httpB), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
				{VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{rule("port-b", prefix("/"), backendRef("v3", 1))}}}},
			}},
			{Port: int32(e.httpsC), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{
				{Hostname: "a.example.com", CertificateNames: []string{"a"}, VirtualHosts: []model.VirtualHost{{Hostname: "a.example.com", Rules: []model.Rule{
					rule("tls-a", prefix("/"), backendRef("v1", 1)),
				}}}},
				{Hostname: "b.example.com", CertificateNames: []string{"b"}, VirtualHosts: []model.VirtualHost{{Hostname: "b.example.com", Rules: []model.Rule{
					rule("tls-b", prefix("/"), backendRef("v2", 1)),
				}}}},
			}},
		},
		Clusters: []model.Cluster{
			{Name: "empty", Protocol: model.BackendHTTP1},
			{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: ep(e.v1, false)},
			{Name: "v1-h2c", Protocol: model.BackendH2C, Endpoints: ep(e.v1, true)},
			{Name: "v1-ws", Protocol: model.BackendWebSocket, Endpoints: ep(e.v1, false)},
			{Name: "v2", Protocol: model.BackendHTTP1, Endpoints: ep(e.v2, false)},
			{Name: "v3", Protocol: model.BackendHTTP1, Endpoints: ep(e.v3, false)},
		},
		Certificates: []model.Certificate{
			{Name: "a", CertPEM: certA, KeyPEM: keyA},
			{Name: "b", CertPEM: certB, KeyPEM: keyB},
		},
	}
}

// writeState writes a rendered configuration the way an applier would at start-up.
func writeState(t *testing.T, dir string, cfg *render.Config) {
	t.Helper()
	for name, body := range cfg.Files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, mode); err != nil {
			t.Fatal(err)
		}
	}
	writeAtomic(t, dir, render.BackendFile, render.BackendConf(cfg.Backends))
	writeRouteTable(t, dir, cfg)
	writeAtomic(t, dir, render.MainFile, cfg.Main)
}

// writeRouteTable writes the route table's shards, replaces routes.rb, then bumps
// routes.version and routes.gen: the routers reload on their next request.
func writeRouteTable(t *testing.T, dir string, cfg *render.Config) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, render.RouteShardDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range cfg.RouteShards {
		// Names are digests of the content: no reader sees a partial file under one.
		if err := os.WriteFile(filepath.Join(dir, render.RouteShardFile(name)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeAtomic(t, dir, render.RouteTableFile, cfg.RouteTable)
	writeAtomic(t, dir, render.RouteVersionFile, cfg.RouteVersion())
	bumpGen(t, dir)
}

// readRouteTable reads the route table on disk: the head and every shard.
func readRouteTable(t *testing.T, dir string) *render.Config {
	t.Helper()
	head, err := os.ReadFile(filepath.Join(dir, render.RouteTableFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &render.Config{RouteTable: head, RouteShards: map[string][]byte{}}
	ents, err := os.ReadDir(filepath.Join(dir, render.RouteShardDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// The shard list the head names, and the shards it lists.
	var list []byte
	for _, e := range ents {
		if bytes.Contains(head, []byte(e.Name())) {
			if list, err = os.ReadFile(filepath.Join(dir, render.RouteShardDir, e.Name())); err != nil {
				t.Fatal(err)
			}
			cfg.RouteShards[e.Name()] = list
		}
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".rb")
		if !ok || !bytes.Contains(list, []byte(name)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, render.RouteShardDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.RouteShards[e.Name()] = b
	}
	return cfg
}

func writeAtomic(t *testing.T, dir, name string, body []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func startLive(t *testing.T) *liveEnv {
	t.Helper()
	e := &liveEnv{dir: t.TempDir()}
	e.v1, e.v2, e.v3 = testenv.StartEcho(t, "v1"), testenv.StartEcho(t, "v2"), testenv.StartEcho(t, "v3")
	ports := testenv.FreePorts(t, 5)
	e.httpA, e.httpB, e.httpsC = ports[0], ports[1], ports[2]
	e.opts = render.Options{StateDir: e.dir, APIPort: ports[3], HealthPort: ports[4], Workers: 1, GracePeriod: time.Second, Features: routing(render.Features{})}
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gw := liveModel(e, read("a.example.com.crt"), read("a.example.com.key"), read("b.example.com.crt"), read("b.example.com.key"))
	cfg, err := render.Render(gw, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, e.dir, cfg)
	e.ngx = testenv.StartNghttpx(t, filepath.Join(e.dir, render.MainFile), e.opts.APIPort, e.httpA, e.httpB, e.httpsC)

	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h1 := &http.Transport{DisableCompression: true}
	e.h1 = &http.Client{Transport: h1, CheckRedirect: noRedirect, Timeout: 10 * time.Second}
	h2c := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	e.h2c = &http.Client{Transport: h2c, CheckRedirect: noRedirect, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		h1.CloseIdleConnections()
		h2c.CloseIdleConnections()
	})
	return e
}

// do sends a request to port with Host host; body is the decoded echo (when the
// response is echo JSON).
func (e *liveEnv) do(t *testing.T, c *http.Client, method string, port int, host, path string, hdr map[string]string) (*http.Response, *echoed) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var ec echoed
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &ec); err != nil {
			t.Fatalf("decode echo: %v\n%s", err, body)
		}
		return resp, &ec
	}
	return resp, nil
}

// expectPod asserts a 200 from the echo named pod.
func (e *liveEnv) expectPod(t *testing.T, c *http.Client, method string, port int, host, path, pod string) *echoed {
	t.Helper()
	resp, ec := e.do(t, c, method, port, host, path, nil)
	if resp.StatusCode != 200 || ec == nil || ec.Pod != pod {
		t.Fatalf("%s %s%s on port %d: status %d, echo %+v; want 200 from %s", method, host, path, port, resp.StatusCode, ec, pod)
	}
	if strings.HasPrefix(ec.Path, render.ClusterPathPrefix) {
		t.Fatalf("%s %s%s: the synthetic cluster path reached the backend: %s", method, host, path, ec.Path)
	}
	return ec
}

func (e *liveEnv) expectStatus(t *testing.T, c *http.Client, port int, host, path string, status int) *http.Response {
	t.Helper()
	resp, _ := e.do(t, c, "GET", port, host, path, nil)
	if resp.StatusCode != status {
		t.Fatalf("GET %s%s on port %d: status %d, want %d", host, path, port, resp.StatusCode, status)
	}
	return resp
}

func (e *liveEnv) configRevision(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1beta1/configrevision", e.opts.APIPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ConfigRevision int `json:"configRevision"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "Success" {
		t.Fatalf("configrevision: %v %+v", err, r)
	}
	return strconv.Itoa(r.Data.ConfigRevision)
}

func TestLive(t *testing.T) {
	e := startLive(t)
	clients := map[string]*http.Client{"http1": e.h1, "h2c": e.h2c}

	// Host routing: exact listener, wildcard listener (not its bare domain), the
	// catch-all listener, on HTTP/1.1 and h2c.
	t.Run("HostRouting", func(t *testing.T) {
		for name, c := range clients {
			t.Run(name, func(t *testing.T) {
				e.expectPod(t, c, "GET", e.httpA, "iso.example.com", "/iso", "v2")
				e.expectPod(t, c, "GET", e.httpA, "ISO.example.com.:"+strconv.Itoa(e.httpA), "/iso/x", "v2")
				e.expectPod(t, c, "GET", e.httpA, "a.wild.example.com", "/anything", "v3")
				e.expectPod(t, c, "GET", e.httpA, "deep.a.wild.example.com", "/", "v3")
				e.expectPod(t, c, "GET", e.httpA, "wild.example.com", "/echo", "v1")
				e.expectPod(t, c, "GET", e.httpB, "iso.example.com", "/iso", "v3")
			})
		}
	})

	t.Run("HostPrecedenceWithinListener", func(t *testing.T) {
		for name, c := range clients {
			t.Run(name, func(t *testing.T) {
				e.expectPod(t, c, "GET", e.httpA, "exact.mix.example.com", "/only-exact", "v2")
				e.expectPod(t, c, "GET", e.httpA, "EXACT.mix.example.com.", "/only-exact/x", "v2")
				e.expectPod(t, c, "GET", e.httpA, "exact.mix.example.com", "/only-wild", "v3")
				e.expectPod(t, c, "GET", e.httpA, "exact.mix.example.com", "/echo", "v1")
				e.expectPod(t, c, "GET", e.httpA, "a.b.mix.example.com", "/only-exact", "v1")
				e.expectPod(t, c, "GET", e.httpA, "x.deep.mix.example.com", "/deep", "v2")
				e.expectPod(t, c, "GET", e.httpA, "x.deep.mix.example.com", "/only-wild", "v3")
				e.expectStatus(t, c, e.httpA, "deep.mix.example.com", "/deep", 404)
				e.expectStatus(t, c, e.httpA, "mix.example.com", "/only-wild", 404)
			})
		}
	})

	t.Run("LongRuleList", func(t *testing.T) {
		// The table was written in pieces, or this proves nothing about them.
		if table := readRouteTable(t, e.dir).RouteText(); !strings.Contains(string(table), "lambda {") {
			t.Fatalf("the route table is not chunked: raise chunkSize here to render's")
		}
		for _, i := range []int{0, 1, chunkSize, 2*chunkSize + 1, 3*chunkSize + 6} {
			pod := map[bool]string{true: "v1", false: "v2"}[i%2 == 0]
			e.expectPod(t, e.h1, "GET", e.httpA, "many.example.com", fmt.Sprintf("/r%d/x", i), pod)
		}
		e.expectStatus(t, e.h1, e.httpA, "many.example.com", fmt.Sprintf("/r%d", 3*chunkSize+7), 404)
	})

	// The router leaves the API and health frontends alone.
	t.Run("PassThroughPorts", func(t *testing.T) {
		e.configRevision(t)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/anything", e.opts.HealthPort))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("health frontend: status %d", resp.StatusCode)
		}
	})

	// Listener isolation: a host owned by a listener never reaches rules of another
	// listener on the same port, even when that listener would match the path.
	t.Run("ListenerIsolation", func(t *testing.T) {
		e.expectPod(t, e.h1, "GET", e.httpA, "other.example.com", "/weights", "v1")
		e.expectStatus(t, e.h1, e.httpA, "iso.example.com", "/weights", 404)
		e.expectStatus(t, e.h1, e.httpA, "iso.example.com", "/isolation", 404) // element-wise prefix
	})

	// Exact beats prefix only by rule order; prefixes match whole path elements; the
	// query string is not part of the path; no rule at all -> 404; a virtual host
	// without a matching rule falls through to the next one.
	t.Run("PathsAndPrecedence", func(t *testing.T) {
		const h = "match.example.com"
		e.expectPod(t, e.h1, "GET", e.httpA, h, "/exact", "v1")
		e.expectPod(t, e.h1, "GET", e.httpA, h, "/exact?x=1", "v1")
		e.expectPod(t, e.h1, "GET", e.httpA, h, "/exact/", "v2")
		e.expectPod(t, e.h1, "GET", e.httpA, h, "/exact/more", "v2")
		e.expectPod(t, e.h1, "GET", e.httpA, h, "/weights", "v1") // falls through to the any-host vhost
		e.expectStatus(t, e.h1, e.httpA, h, "/exactly", 404)
		e.expectStatus(t, e.h1, e.httpA, h, "/nothing-here", 404)
	})

	t.Run("HeaderQueryMethodMatch", func(t *testing.T) {
		const h = "match.example.com"
		for name, c := range clients {
			t.Run(name, func(t *testing.T) {
				resp, ec := e.do(t, c, "GET", e.httpA, h, "/hdr", map[string]string{"X-VERSION": "two"})
				if resp.StatusCode != 200 || ec.Pod != "v2" {
					t.Fatalf("header match: %d %+v", resp.StatusCode, ec)
				}
				_, ec = e.do(t, c, "GET", e.httpA, h, "/hdr", map[string]string{"x-version": "Two"})
				if ec.Pod != "v1" {
					t.Fatalf("header value is compared exactly: got %s", ec.Pod)
				}
				e.expectPod(t, c, "GET", e.httpA, h, "/q?animal=whale", "v3")
				e.expectPod(t, c, "GET", e.httpA, h, "/q?color=blue&animal=whale", "v3")
				e.expectPod(t, c, "GET", e.httpA, h, "/q?animal=whale&animal=dolphin", "v3")
				e.expectPod(t, c, "GET", e.httpA, h, "/q?animal=dolphin&animal=whale", "v1") // first value counts
				e.expectPod(t, c, "GET", e.httpA, h, "/q?ANIMAL=whale", "v1")
				e.expectPod(t, c, "GET", e.httpA, h, "/q?animal=whaleshark", "v1")
				e.expectPod(t, c, "POST", e.httpA, h, "/m", "v2")
				e.expectPod(t, c, "GET", e.httpA, h, "/m", "v1")
			})
		}
	})

	// Weights: smooth weighted round robin per worker (1 worker here), so 200
	// requests split 150/50/0 up to a small tolerance.
	t.Run("Weights", func(t *testing.T) {
		counts := map[string]int{}
		for range 200 {
			_, ec := e.do(t, e.h1, "GET", e.httpA, "w.example.com", "/weights", nil)
			counts[ec.Pod]++
		}
		if counts["v3"] != 0 || counts["v1"] < 140 || counts["v1"] > 160 || counts["v2"] < 40 || counts["v2"] > 60 {
			t.Fatalf("weights 3/1/0 over 200 requests gave %v", counts)
		}
	})

	// An invalid backendRef takes its weight's share as 500s; a cluster without
	// endpoints answers 503.
	t.Run("InvalidAndEmpty", func(t *testing.T) {
		counts := map[int]int{}
		for range 100 {
			resp, _ := e.do(t, e.h1, "GET", e.httpA, "x.example.com", "/invalid", nil)
			counts[resp.StatusCode]++
		}
		if counts[500] < 40 || counts[500] > 60 || counts[200]+counts[500] != 100 {
			t.Fatalf("1:1 valid/invalid gave %v", counts)
		}
		e.expectStatus(t, e.h1, e.httpA, "x.example.com", "/empty", 503)
		e.expectStatus(t, e.h2c, e.httpA, "x.example.com", "/empty", 503)
	})

	t.Run("Redirects", func(t *testing.T) {
		a := strconv.Itoa(e.httpA)
		for _, tc := range []struct {
			path, location string
			status         int
		}{
			{"/r/nil/x?y=1", "http://redir.example.com:" + a + "/r/nil/x?y=1", 302},
			{"/r/https", "https://redir.example.com/r/https", 301},
			{"/r/port8443", "https://redir.example.com:8443/r/port8443", 303},
			{"/r/host80", "http://example.org/r/host80", 307},
			{"/r/prefix/x/y?q=1", "http://redir.example.com:" + a + "/replacement/x/y?q=1", 308},
			{"/r/prefix", "http://redir.example.com:" + a + "/replacement", 308},
			{"/r/full/deep", "http://redir.example.com:" + a + "/full-replacement", 302},
		} {
			for name, c := range clients {
				resp := e.expectStatus(t, c, e.httpA, "redir.example.com:"+a, tc.path, tc.status)
				if got := resp.Header.Get("Location"); got != tc.location {
					t.Errorf("%s %s: Location %q, want %q", name, tc.path, got, tc.location)
				}
			}
		}
	})

	t.Run("Rewrites", func(t *testing.T) {
		for name, c := range clients {
			for _, tc := range []struct{ path, host, want, wantHost string }{
				{"/rw/prefix/one/two?a=b", "rw.example.com", "/one/two?a=b", "rewritten.example.org"},
				{"/rw/prefix/one", "rw.example.com", "/one", "rewritten.example.org"},
				{"/rw/strip/three", "rw.example.com", "/three", "rw.example.com"},
				{"/rw/strip", "rw.example.com", "/", "rw.example.com"},
				{"/rw/full/x?y=1", "rw.example.com", "/one?y=1", "rw.example.com"},
			} {
				ec := e.expectPod(t, c, "GET", e.httpA, tc.host, tc.path, "v1")
				if ec.Path != tc.want || ec.Host != tc.wantHost {
					t.Errorf("%s %s: backend saw %s%s, want %s%s", name, tc.path, ec.Host, ec.Path, tc.wantHost, tc.want)
				}
			}
		}
	})

	t.Run("HeaderModifiers", func(t *testing.T) {
		for name, c := range clients {
			resp, ec := e.do(t, c, "GET", e.httpA, "h.example.com", "/headers", map[string]string{
				"X-Set":    "client-value",
				"X-Add":    "client-value",
				"X-Remove": "gone",
				// echo-basic sets these response headers on request.
				"X-Echo-Set-Header": "X-Resp-Set:backend,X-Resp-Remove:backend,X-Resp-Add:backend,X-Kept:backend",
			})
			if ec == nil {
				t.Fatalf("%s: no echo (status %d)", name, resp.StatusCode)
			}
			h := http.Header(ec.Headers)
			if got := strings.Join(h.Values("X-Set"), ","); got != "set-value" {
				t.Errorf("%s: backend X-Set %q, want set-value", name, got)
			}
			if got := strings.Join(h.Values("X-Add"), ","); got != "client-value,added" {
				t.Errorf("%s: backend X-Add %q, want client-value,added", name, got)
			}
			if v := h.Values("X-Remove"); len(v) != 0 {
				t.Errorf("%s: backend still got X-Remove %q", name, v)
			}
			if got := resp.Header.Values("X-Resp-Set"); len(got) != 1 || got[0] != "ours" {
				t.Errorf("%s: response X-Resp-Set %q, want [ours]", name, got)
			}
			if got := strings.Join(resp.Header.Values("X-Resp-Add"), ","); got != "backend,added" {
				t.Errorf("%s: response X-Resp-Add %q, want backend,added", name, got)
			}
			if v := resp.Header.Values("X-Resp-Remove"); len(v) != 0 {
				t.Errorf("%s: response still has X-Resp-Remove %q", name, v)
			}
			if resp.Header.Get("X-Kept") != "backend" {
				t.Errorf("%s: response lost X-Kept", name)
			}
		}
	})

	// backendRef-level modifiers apply only to traffic sent to that backendRef.
	t.Run("BackendRefHeaderModifiers", func(t *testing.T) {
		seen := map[string]bool{}
		for range 6 {
			resp, ec := e.do(t, e.h1, "GET", e.httpA, "b.example.com", "/bref", nil)
			seen[ec.Pod] = true
			if got := strings.Join(http.Header(ec.Headers).Values("X-Backend"), ","); got != ec.Pod {
				t.Errorf("request to %s carried X-Backend %q", ec.Pod, got)
			}
			want := ""
			if ec.Pod == "v1" {
				want = "v1"
			}
			if got := resp.Header.Get("X-Backend-Resp"); got != want {
				t.Errorf("response from %s carried X-Backend-Resp %q, want %q", ec.Pod, got, want)
			}
		}
		if !seen["v1"] || !seen["v2"] {
			t.Errorf("1:1 split reached only %v", seen)
		}
	})

	// Clients cannot smuggle the router's internal headers to steer restore.rb: not a
	// path, and not a real response-modifier key (the /headers rule's).
	t.Run("InternalHeadersStripped", func(t *testing.T) {
		table, err := os.ReadFile(filepath.Join(e.dir, render.RouteTableFile))
		if err != nil {
			t.Fatal(err)
		}
		var respKey string
		if m := respKeyRE.FindSubmatch(table); m != nil {
			respKey = string(m[1])
		}
		if respKey == "" {
			t.Fatal("no response modifier key in the table")
		}
		for name, c := range clients {
			resp, ec := e.do(t, c, "GET", e.httpA, "s.example.com", "/echo/real?x=1", map[string]string{
				"X-Ngxgw-Path":  "/evil",
				"X-Ngxgw-Resp":  respKey,
				"X-Ngxgw-Other": "1",
			})
			if ec == nil || ec.Path != "/echo/real?x=1" {
				t.Fatalf("%s: backend saw %+v", name, ec)
			}
			if v := resp.Header.Values("X-Resp-Set"); len(v) != 0 || len(resp.Header.Values("X-Backend-Resp")) != 0 {
				t.Errorf("%s: a client-sent x-ngxgw-resp applied response modifiers: %v", name, resp.Header)
			}
			for k := range ec.Headers {
				if strings.HasPrefix(strings.ToLower(k), "x-ngxgw-") {
					t.Errorf("%s: backend received %s", name, k)
				}
			}
		}
	})

	t.Run("BackendTimeout", func(t *testing.T) {
		start := time.Now()
		e.expectStatus(t, e.h1, e.httpA, "t.example.com", "/slow?delay=3s", 504)
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("504 after %s, want about the 1s timeout", d)
		}
		e.expectPod(t, e.h1, "GET", e.httpA, "t.example.com", "/slow", "v1")
	})

	t.Run("H2CBackend", func(t *testing.T) {
		for name, c := range clients {
			ec := e.expectPod(t, c, "GET", e.httpA, "g.example.com", "/h2c/x?y=1", "v1")
			if ec.Proto != "HTTP/2.0" || ec.Path != "/h2c/x?y=1" || ec.Host != "g.example.com" {
				t.Errorf("%s: backend saw %s %s %s, want HTTP/2.0 g.example.com /h2c/x?y=1", name, ec.Proto, ec.Host, ec.Path)
			}
		}
	})

	t.Run("WebSocketHTTP1", func(t *testing.T) {
		wsEcho(t, e.httpA, "ws.example.com", "/ws")
	})

	t.Run("HTTPSWithSNI", func(t *testing.T) {
		for _, tc := range []struct{ sni, host, pod string }{{"a.example.com", "a.example.com", "v1"}, {"b.example.com", "b.example.com", "v2"}} {
			for _, proto := range []string{"h2", "http/1.1"} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true, NextProtos: []string{proto}},
					ForceAttemptHTTP2: proto == "h2"}
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/tls", e.httpsC), nil)
				req.Host = tc.host
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.sni, proto, err)
				}
				var ec echoed
				_ = json.NewDecoder(resp.Body).Decode(&ec)
				resp.Body.Close()
				tr.CloseIdleConnections()
				if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != tc.sni {
					t.Errorf("SNI %s got certificate %s", tc.sni, cn)
				}
				if resp.StatusCode != 200 || ec.Pod != tc.pod || resp.TLS.NegotiatedProtocol != proto {
					t.Errorf("SNI %s over %s: status %d from %q via %q", tc.sni, proto, resp.StatusCode, ec.Pod, resp.TLS.NegotiatedProtocol)
				}
			}
		}
		// A request for another listener's host on this connection is misdirected.
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/tls", e.httpsC), nil)
		req.Host = "b.example.com"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 421 {
			t.Errorf("SNI a.example.com, Host b.example.com: status %d, want 421", resp.StatusCode)
		}
	})

	// Route and endpoint changes reach the running nghttpx without a reload: a new
	// cluster through the backend API, routes through routes.rb + routes.version.
	t.Run("RouteChangeWithoutReload", func(t *testing.T) {
		rev, workers := e.configRevision(t), e.ngx.WorkerPIDs(t)
		gw := liveModelFromDisk(t, e)
		for i := range gw.Ports[0].Listeners[2].VirtualHosts[5].Rules {
			r := &gw.Ports[0].Listeners[2].VirtualHosts[5].Rules[i]
			if r.Name == "weights" {
				r.Backends = []model.WeightedBackend{backendRef("v3", 1)}
			}
		}
		gw.Clusters = append(gw.Clusters, model.Cluster{Name: "v2-again", Protocol: model.BackendHTTP1,
			Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.v2.HTTPPort)}}})
		gw.Ports[0].Listeners[2].VirtualHosts[5].Rules = append(gw.Ports[0].Listeners[2].VirtualHosts[5].Rules,
			model.Rule{Name: "new", Match: prefix("/new"), Backends: []model.WeightedBackend{backendRef("v2-again", 1)}})
		cfg, err := render.Render(gw, e.opts)
		if err != nil {
			t.Fatal(err)
		}
		// Wrong order first: a table naming a group nghttpx does not have yet lands
		// in the catch-all, whose fallback.rb answers 503 (never a wrong backend).
		writeRouteTable(t, e.dir, cfg)
		e.expectStatus(t, e.h1, e.httpA, "x.example.com", "/new/thing", 503)
		// An applier adds groups first (the API replaces all backend lines), then
		// writes the table.
		postBackends(t, e.opts.APIPort, render.BackendConf(cfg.Backends))
		writeAtomic(t, e.dir, render.BackendFile, render.BackendConf(cfg.Backends))
		for range 5 {
			e.expectPod(t, e.h1, "GET", e.httpA, "x.example.com", "/weights", "v3")
		}
		// The group added through the API carries restore.rb: the backend sees the
		// real path, not the synthetic pattern.
		if ec := e.expectPod(t, e.h2c, "GET", e.httpA, "x.example.com", "/new/thing", "v2"); ec.Path != "/new/thing" {
			t.Errorf("backend saw path %q", ec.Path)
		}
		if got := e.configRevision(t); got != rev {
			t.Errorf("config revision %s -> %s: nghttpx reloaded", rev, got)
		}
		if got := e.ngx.WorkerPIDs(t); fmt.Sprint(got) != fmt.Sprint(workers) {
			t.Errorf("worker processes %v -> %v", workers, got)
		}
		if e.ngx.Exited() {
			t.Fatal("nghttpx exited")
		}
	})

	// A table that makes the router raise still gets answers (500), the worker keeps
	// serving other requests, and a good table heals it.
	t.Run("RouterExceptionAnswers500", func(t *testing.T) {
		good := readRouteTable(t, e.dir)
		// The rule is in the head (an any-host virtual host) or in a shard: then a
		// broken copy under a new name, and a head that names it.
		const rule = `:path => [:prefix, "/weights"]`
		bad := &render.Config{RouteTable: bytes.Replace(good.RouteTable, []byte(rule), []byte(`:path => nil`), 1), RouteShards: map[string][]byte{}}
		broke := !bytes.Equal(bad.RouteTable, good.RouteTable)
		if broke {
			bad.RouteShards = good.RouteShards
		}
		for name, body := range good.RouteShards {
			if broke {
				break
			}
			b := strings.Replace(string(body), rule, `:path => nil`, 1)
			if b == string(body) {
				continue
			}
			// A new name in a new list, which a new head names.
			const broken = "0123456789abcdef"
			bad.RouteShards[broken+".rb"] = []byte(b)
			for ln, list := range good.RouteShards {
				if strings.HasSuffix(ln, ".names") {
					bad.RouteShards["broken.names"] = bytes.Replace(list, []byte(strings.TrimSuffix(name, ".rb")), []byte(broken), 1)
					bad.RouteTable = bytes.Replace(good.RouteTable, []byte(ln), []byte("broken.names"), 1)
				}
			}
			broke = true
		}
		if !broke {
			t.Fatal("could not break the table")
		}
		writeRouteTable(t, e.dir, bad)
		workers := e.ngx.WorkerPIDs(t)
		for range 3 {
			e.expectStatus(t, e.h1, e.httpA, "x.example.com", "/weights", 500)
			e.expectPod(t, e.h1, "GET", e.httpA, "iso.example.com", "/iso", "v2")
			e.expectStatus(t, e.h2c, e.httpA, "x.example.com", "/weights", 500)
			e.expectPod(t, e.h2c, "GET", e.httpA, "iso.example.com", "/iso", "v2")
		}
		writeRouteTable(t, e.dir, good)
		e.expectPod(t, e.h1, "GET", e.httpA, "x.example.com", "/weights", "v3")
		if got := e.ngx.WorkerPIDs(t); fmt.Sprint(got) != fmt.Sprint(workers) {
			t.Errorf("worker processes %v -> %v: a worker died", workers, got)
		}
	})

	// A head whose list names a shard that is not on disk (only a broken writer
	// does that; the applier writes shards first): the router reads the head
	// again, then answers 500 for that shard's hosts, never another host's
	// rules; once the file appears the next request loads it.
	t.Run("MissingShardAnswers500", func(t *testing.T) {
		good := readRouteTable(t, e.dir)
		const late = "fedcba9876543210"
		next := &render.Config{RouteShards: map[string][]byte{}}
		var body []byte
		for name, b := range good.RouteShards {
			if strings.HasSuffix(name, ".rb") && strings.Contains(string(b), `"iso.example.com" =>`) {
				body = b
				for ln, list := range good.RouteShards {
					if strings.HasSuffix(ln, ".names") {
						next.RouteShards["late.names"] = bytes.Replace(list, []byte(strings.TrimSuffix(name, ".rb")), []byte(late), 1)
						next.RouteTable = bytes.Replace(good.RouteTable, []byte(ln), []byte("late.names"), 1)
					}
				}
			}
		}
		if body == nil || next.RouteTable == nil {
			t.Fatal("no shard holds iso.example.com")
		}
		writeRouteTable(t, e.dir, next)
		for range 3 {
			e.expectStatus(t, e.h1, e.httpA, "iso.example.com", "/iso", 500)
			e.expectStatus(t, e.h2c, e.httpA, "iso.example.com", "/iso", 500)
		}
		if err := os.WriteFile(filepath.Join(e.dir, render.RouteShardFile(late+".rb")), body, 0o644); err != nil {
			t.Fatal(err)
		}
		e.expectPod(t, e.h1, "GET", e.httpA, "iso.example.com", "/iso", "v2")
		e.expectPod(t, e.h2c, "GET", e.httpA, "iso.example.com", "/iso", "v2")
		writeRouteTable(t, e.dir, good)
		e.expectPod(t, e.h1, "GET", e.httpA, "iso.example.com", "/iso", "v2")
	})
}

// liveModelFromDisk re-renders the suite's model for changes (certificates from
// testdata again).
func liveModelFromDisk(t *testing.T, e *liveEnv) *model.Gateway {
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return liveModel(e, read("a.example.com.crt"), read("a.example.com.key"), read("b.example.com.crt"), read("b.example.com.key"))
}

func postBackends(t *testing.T, apiPort int, body []byte) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v1beta1/backendconfig", apiPort)
	resp, err := http.Post(url, "text/plain", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("backend API: %d %s", resp.StatusCode, b)
	}
}

// wsEcho performs a WebSocket handshake through nghttpx and round-trips one frame
// with echo-basic's /ws echo handler.
func wsEcho(t *testing.T, port int, host, path string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := base64.StdEncoding.EncodeToString(nonce)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://%s\r\n\r\n", path, host, key, host)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	msg := []byte("hello through nghttpx")
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(msg))}
	frame = append(frame, mask...)
	for i, b := range msg {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0]&0x0f != 1 || hdr[1]&0x80 != 0 || int(hdr[1]&0x7f) != len(msg) {
		t.Fatalf("unexpected frame header %x", hdr)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echoed %q, want %q", got, msg)
	}
}

// TestLiveHTTP3 serves an HTTPS port over QUIC too (without eBPF steering, which
// needs capabilities a test may not have) and sends HTTP/3 requests with h2load.
func TestLiveHTTP3(t *testing.T) {
	v1 := testenv.StartEcho(t, "v1")
	port := testenv.FreeTCPUDPPort(t)
	api := testenv.FreePorts(t, 1)[0]
	dir := t.TempDir()
	opts := render.Options{StateDir: dir, APIPort: api, HTTP3: true, Features: routing(render.Features{QUIC: true}), GracePeriod: time.Second}
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gw := &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(port), Protocol: model.ProtocolHTTPS, Listeners: []model.Listener{{
			CertificateNames: []string{"a"},
			VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{{Name: "h3", Match: prefix("/h3"),
				Backends: []model.WeightedBackend{backendRef("v1", 1)}}}}},
		}}}},
		Clusters:     []model.Cluster{{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(v1.HTTPPort)}}}},
		Certificates: []model.Certificate{{Name: "a", CertPEM: read("a.example.com.crt"), KeyPEM: read("a.example.com.key")}},
	}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg.Main), ";quic\n") || !strings.Contains(string(cfg.Main), "no-quic-bpf=yes\n") {
		t.Fatalf("main config without QUIC frontend or no-quic-bpf:\n%s", cfg.Main)
	}
	writeState(t, dir, cfg)
	testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), api, port)
	for _, tc := range []struct{ path, status string }{{"/h3/x", "4 2xx, 0 3xx, 0 4xx, 0 5xx"}, {"/other", "0 2xx, 0 3xx, 4 4xx, 0 5xx"}} {
		out, err := exec.Command(testenv.H2loadBin(t), "--npn-list=h3", "-n", "4", "-c", "1",
			fmt.Sprintf("https://127.0.0.1:%d%s", port, tc.path)).CombinedOutput()
		if err != nil {
			t.Fatalf("h2load: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "Application protocol: h3") || !strings.Contains(string(out), "status codes: "+tc.status) {
			t.Fatalf("%s over HTTP/3: want status %s:\n%s", tc.path, tc.status, out)
		}
	}
}
