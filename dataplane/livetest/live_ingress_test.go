//go:build integration

package livetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// The Ingress live suite renders what the Ingress shim puts in the model (session
// affinity, user mruby scripts, doNotForward, fixed answers with a body, backend
// TLS/SNI/h2, backend timeouts) plus the operator's ConfigMap (extra lines and a
// global script), runs a real nghttpx on it and checks what clients and echo
// backends see.

// tlsEcho is an echo-basic that also serves TLS with the a.example.com certificate.
type tlsEcho struct {
	*testenv.Process
	httpPort, h2cPort, httpsPort int
}

func startTLSEcho(t *testing.T, pod string) *tlsEcho {
	t.Helper()
	ports := testenv.FreePorts(t, 3)
	cmd := exec.Command(testenv.EchoBin(t))
	cmd.Dir = t.TempDir()
	abs := func(n string) string {
		p, err := filepath.Abs(filepath.Join("../render/testdata/certs", n))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmd.Env = append(os.Environ(),
		"HTTP_PORT="+strconv.Itoa(ports[0]), "H2C_PORT="+strconv.Itoa(ports[1]), "HTTPS_PORT="+strconv.Itoa(ports[2]),
		"TLS_SERVER_CERT="+abs("a.example.com.crt"), "TLS_SERVER_PRIVKEY="+abs("a.example.com.key"),
		"POD_NAME="+pod, "NAMESPACE="+testenv.EchoNamespace)
	e := &tlsEcho{Process: testenv.Start(t, "echo "+pod, cmd), httpPort: ports[0], h2cPort: ports[1], httpsPort: ports[2]}
	for _, p := range ports {
		testenv.WaitTCP(t, e.Process, fmt.Sprintf("127.0.0.1:%d", p), 10*time.Second)
	}
	return e
}

// tlsEchoed is echo-basic's answer including what it saw of the TLS connection.
type tlsEchoed struct {
	echoed
	TLS *struct {
		ServerName         string `json:"serverName"`
		NegotiatedProtocol string `json:"negotiatedProtocol"`
	} `json:"tls"`
}

// The user scripts of the suite.
const (
	// seeScript sees the restored request (path, no internal headers) in on_req, tells
	// the backend about it, and reports it in a response header from on_resp via
	// env.ctx (which restore.rb shares without clashing).
	seeScript = `class See
  def on_req(env)
    internal = env.req.headers.keys.select { |k| k.start_with?("x-ngxgw-") }
    env.req.set_header("x-script-saw", env.req.path + " internal=" + internal.size.to_s)
    env.ctx[:resp] = env.req.path
  end

  def on_resp(env)
    env.resp.set_header("x-script", "ran")
    env.resp.set_header("x-script-path", env.ctx[:resp].to_s)
  end
end
See.new
`
	answerScript = `class Answer
  def on_req(env)
    env.resp.set_header("content-type", "text/plain")
    env.resp.return("answered by mruby at " + env.req.path + "\n")
  end
end
Answer.new
`
	silentScript = "class Silent\n  def on_req(env)\n  end\nend\nSilent.new\n"
	brokenScript = "class Broken\n  def on_req(env)\n    \"unterminated\nend\n"
	raiseScript  = "class Raise\n  def on_req(env)\n    raise \"boom\"\n  end\nend\nRaise.new\n"

	// operatorScript is the operator's global script: it marks requests, answers
	// /forbidden itself, steers /operator-rewrite to the /plain rule, and marks
	// responses. It records whether it saw a client-sent internal header.
	operatorScript = `class Operator
  def on_req(env)
    req = env.req
    saw = req.headers.keys.any? { |k| k.start_with?("x-ngxgw-") }
    req.set_header("x-operator", saw ? "saw-internal" : "seen")
    if req.path == "/forbidden"
      env.resp.status = 403
      env.resp.return("forbidden by the operator\n")
      return
    end
    req.path = "/plain/rewritten" if req.path == "/operator-rewrite"
  end

  def on_resp(env)
    env.resp.set_header("x-operator-resp", "yes")
  end
end
Operator.new
`
)

type ingressLive struct {
	dir          string
	port, api    int
	v1, v2       *testenv.Echo
	secure       *tlsEcho
	h1           *http.Client
	ngx          *testenv.Nghttpx
	renderedOpts render.Options
}

func ingressLiveModel(e *ingressLive) *model.Gateway {
	pair := []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.v1.HTTPPort)}, {IP: "127.0.0.1", Port: int32(e.v2.HTTPPort)}}
	rule := func(name, path string, p *model.ProxyOptions, backends ...model.WeightedBackend) model.Rule {
		return model.Rule{Name: name, Match: prefix(path), Proxy: p, Backends: backends}
	}
	script := func(src string) *model.ProxyOptions { return &model.ProxyOptions{Mruby: src} }
	dnf := func(src string) *model.ProxyOptions { return &model.ProxyOptions{Mruby: src, DoNotForward: true} }
	withOpts := func(cluster string, bo model.BackendOptions) model.WeightedBackend {
		return model.WeightedBackend{Weight: 1, Cluster: cluster, Proxy: &bo}
	}
	scripted := rule("script", "/script", script(seeScript), backendRef("pair", 1))
	scripted.ResponseHeaders = &model.HeaderModifier{Set: []model.NameValue{{Name: "x-modifier", Value: "applied"}}}
	return &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(e.port), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{
			VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{
				rule("cookie", "/cookie", &model.ProxyOptions{Affinity: &model.Affinity{
					Type: model.AffinityCookie, CookieName: "lb", CookiePath: "/cookie", CookieSecure: "no"}}, backendRef("pair", 1)),
				// Two Services (clusters) on one path: the affinity spans both.
				rule("cookie-two", "/two", &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityCookie, CookieName: "two"}},
					backendRef("v1", 3), backendRef("v2", 1)),
				rule("ip", "/ip", &model.ProxyOptions{Affinity: &model.Affinity{Type: model.AffinityIP}}, backendRef("pair", 1)),
				rule("plain", "/plain", nil, backendRef("pair", 1)),
				scripted,
				rule("dnf", "/dnf", dnf(answerScript)),
				rule("dnf-silent", "/silent", dnf(silentScript)),
				rule("broken", "/broken", script(brokenScript), backendRef("pair", 1)),
				rule("raises", "/raises", script(raiseScript), backendRef("pair", 1)),
				rule("read-timeout", "/timeout", &model.ProxyOptions{ReadTimeoutMillis: 1000}, backendRef("v1", 1)),
				rule("tls", "/tls", nil, withOpts("secure", model.BackendOptions{TLS: true, SNI: "a.example.com"})),
				rule("tls-h2", "/h2tls", nil, withOpts("secure", model.BackendOptions{TLS: true, SNI: "a.example.com", Protocol: model.BackendH2C})),
				rule("h2", "/h2", nil, withOpts("v1-h2c-port", model.BackendOptions{Protocol: model.BackendH2C})),
				{Name: "healthz", Match: model.Match{Path: model.PathMatch{Type: model.PathExact, Value: "/healthz"}}, DirectStatus: 200, DirectBody: "ok"},
				{Name: "default", Match: prefix("/"), DirectStatus: 404, DirectBody: "default backend - 404"},
			}}},
		}}}},
		Clusters: []model.Cluster{
			{Name: "pair", Protocol: model.BackendHTTP1, Endpoints: pair},
			{Name: "secure", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.secure.httpsPort)}}},
			{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.v1.HTTPPort)}}},
			{Name: "v2", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.v2.HTTPPort)}}},
			// The cluster says HTTP/1.1; backend-config proto h2 overrides it.
			{Name: "v1-h2c-port", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.v1.H2CPort)}}},
		},
	}
}

func startIngressLive(t *testing.T) *ingressLive {
	t.Helper()
	e := &ingressLive{dir: t.TempDir()}
	e.v1, e.v2 = testenv.StartEcho(t, "v1"), testenv.StartEcho(t, "v2")
	e.secure = startTLSEcho(t, "secure")
	ports := testenv.FreePorts(t, 2)
	e.port, e.api = ports[0], ports[1]
	// nghttpx verifies backend certificates: the operator trusts the echo's own
	// (self-signed) certificate through nghttpx-conf.
	cacert, err := filepath.Abs("../render/testdata/certs/a.example.com.crt")
	if err != nil {
		t.Fatal(err)
	}
	extra, problems := render.ParseExtraConfig("cacert=" + cacert + "\nadd-response-header=x-extra: from-nghttpx-conf\nfrontend=*,1;no-tls\n")
	if len(problems) != 1 || !strings.Contains(problems[0], "frontend is managed") {
		t.Fatalf("extra configuration problems %q", problems)
	}
	e.renderedOpts = render.Options{StateDir: e.dir, APIPort: e.api, Workers: 1, GracePeriod: time.Second, Features: routing(render.Features{}),
		AllowMruby: true, ExtraConfig: extra, GlobalMruby: operatorScript}
	cfg, err := render.Render(ingressLiveModel(e), e.renderedOpts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, e.dir, cfg)
	e.ngx = testenv.StartNghttpx(t, filepath.Join(e.dir, render.MainFile), e.api, e.port)
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	e.h1 = &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// get sends GET path with extra headers; the echo answer is decoded when there is one.
func (e *ingressLive) get(t *testing.T, path string, hdr map[string]string) (*http.Response, string, *tlsEchoed) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", e.port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "ingress.example.com"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.h1.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, string(body), nil
	}
	var ec tlsEchoed
	if err := json.Unmarshal(body, &ec); err != nil {
		t.Fatalf("GET %s: decode echo: %v\n%s", path, err, body)
	}
	if strings.HasPrefix(ec.Path, render.ClusterPathPrefix) {
		t.Fatalf("GET %s: the synthetic cluster path reached the backend: %s", path, ec.Path)
	}
	return resp, string(body), &ec
}

func (e *ingressLive) pod(t *testing.T, path string, hdr map[string]string) (*http.Response, *tlsEchoed) {
	t.Helper()
	resp, body, ec := e.get(t, path, hdr)
	if resp.StatusCode != 200 || ec == nil {
		t.Fatalf("GET %s: status %d %q, want an echo answer", path, resp.StatusCode, body)
	}
	return resp, ec
}

func TestLiveIngress(t *testing.T) {
	e := startIngressLive(t)

	// Without affinity the pair shares the traffic: the affinity tests below are
	// meaningful only because this spreads.
	t.Run("NoAffinitySpreads", func(t *testing.T) {
		seen := map[string]int{}
		for range 10 {
			_, ec := e.pod(t, "/plain", nil)
			seen[ec.Pod]++
		}
		if seen["v1"] == 0 || seen["v2"] == 0 {
			t.Fatalf("round robin reached %v", seen)
		}
	})

	t.Run("CookieAffinity", func(t *testing.T) {
		resp, ec := e.pod(t, "/cookie/a", nil)
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "lb" {
				cookie = c
			}
		}
		if cookie == nil {
			t.Fatalf("no lb cookie set: %v", resp.Header.Values("Set-Cookie"))
		}
		if cookie.Path != "/cookie" || cookie.Secure {
			t.Errorf("cookie %q: want Path=/cookie and no Secure", resp.Header.Get("Set-Cookie"))
		}
		first := ec.Pod
		for i := range 12 {
			resp, ec := e.pod(t, fmt.Sprintf("/cookie/%d", i), map[string]string{"Cookie": "lb=" + cookie.Value})
			if ec.Pod != first {
				t.Fatalf("request %d with the cookie went to %s, the first to %s", i, ec.Pod, first)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("a request with a valid cookie got a new one: %q", resp.Header.Get("Set-Cookie"))
			}
		}
		// Each new client gets pinned too, and the clients together reach both.
		seen := map[string]bool{}
		for range 10 {
			_, ec := e.pod(t, "/cookie", nil)
			seen[ec.Pod] = true
		}
		if len(seen) != 2 {
			t.Errorf("new clients all went to %v", seen)
		}
	})

	// As in the original controller, one cookie pins a client across the Services
	// of a path, not just among the endpoints of the one the weights picked.
	t.Run("CookieAffinityAcrossServices", func(t *testing.T) {
		seen := map[string]bool{}
		for range 12 {
			resp, ec := e.pod(t, "/two", nil)
			seen[ec.Pod] = true
			var value string
			for _, c := range resp.Cookies() {
				if c.Name == "two" {
					value = c.Value
				}
			}
			if value == "" {
				t.Fatalf("no cookie: %v", resp.Header.Values("Set-Cookie"))
			}
			for range 6 {
				if _, again := e.pod(t, "/two/x", map[string]string{"Cookie": "two=" + value}); again.Pod != ec.Pod {
					t.Fatalf("cookie %s: first %s, then %s", value, ec.Pod, again.Pod)
				}
			}
		}
		if !seen["v1"] || !seen["v2"] {
			t.Errorf("12 new clients reached only %v", seen)
		}
	})

	t.Run("IPAffinity", func(t *testing.T) {
		seen := map[string]int{}
		for range 10 {
			_, ec := e.pod(t, "/ip", nil)
			seen[ec.Pod]++
		}
		if len(seen) != 1 {
			t.Fatalf("one client address reached %v", seen)
		}
	})

	t.Run("UserScriptSeesRestoredRequest", func(t *testing.T) {
		resp, ec := e.pod(t, "/script/x?q=1", map[string]string{"X-Ngxgw-Path": "/evil"})
		if ec.Path != "/script/x?q=1" {
			t.Errorf("backend saw path %q", ec.Path)
		}
		if got := http.Header(ec.Headers).Get("X-Script-Saw"); got != "/script/x?q=1 internal=0" {
			t.Errorf("the script saw %q, want the real path and no internal header", got)
		}
		if resp.Header.Get("X-Script") != "ran" || resp.Header.Get("X-Script-Path") != "/script/x?q=1" {
			t.Errorf("response headers from the script: %v", resp.Header)
		}
		// The rule's response header modifier (restore.rb, same env.ctx) still applies.
		if resp.Header.Get("X-Modifier") != "applied" {
			t.Errorf("response header modifier lost next to the script: %v", resp.Header)
		}
	})

	t.Run("DoNotForward", func(t *testing.T) {
		resp, body, ec := e.get(t, "/dnf/y", nil)
		if resp.StatusCode != 200 || ec != nil || body != "answered by mruby at /dnf/y\n" {
			t.Errorf("dnf: status %d body %q", resp.StatusCode, body)
		}
		resp, body, _ = e.get(t, "/silent", nil)
		if resp.StatusCode != 500 {
			t.Errorf("dnf script that does not answer: status %d %q, want 500", resp.StatusCode, body)
		}
	})

	// A script that does not compile or raises fails its own path only.
	t.Run("BrokenScriptsFailClosed", func(t *testing.T) {
		for _, p := range []string{"/broken", "/raises"} {
			resp, body, _ := e.get(t, p, nil)
			if resp.StatusCode != 500 {
				t.Errorf("%s: status %d %q, want 500", p, resp.StatusCode, body)
			}
		}
		e.pod(t, "/plain", nil)
	})

	t.Run("DirectBody", func(t *testing.T) {
		for _, tc := range []struct {
			path, body string
			status     int
		}{{"/healthz", "ok", 200}, {"/nothing/here", "default backend - 404", 404}} {
			resp, body, _ := e.get(t, tc.path, nil)
			if resp.StatusCode != tc.status || body != tc.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: %d %q (%s), want %d %q", tc.path, resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.status, tc.body)
			}
		}
	})

	t.Run("BackendTLS", func(t *testing.T) {
		_, ec := e.pod(t, "/tls/a", nil)
		if ec.TLS == nil || ec.TLS.ServerName != "a.example.com" || ec.Proto != "HTTP/1.1" {
			t.Errorf("backend saw TLS %+v over %s, want SNI a.example.com over HTTP/1.1", ec.TLS, ec.Proto)
		}
		_, ec = e.pod(t, "/h2tls/a", nil)
		if ec.TLS == nil || ec.TLS.NegotiatedProtocol != "h2" || ec.Proto != "HTTP/2.0" || ec.TLS.ServerName != "a.example.com" {
			t.Errorf("backend saw TLS %+v over %s, want h2 with SNI a.example.com", ec.TLS, ec.Proto)
		}
	})

	t.Run("ProtoH2", func(t *testing.T) {
		_, ec := e.pod(t, "/h2/b", nil)
		if ec.Proto != "HTTP/2.0" || ec.TLS != nil || ec.Pod != "v1" {
			t.Errorf("backend %s saw %s (TLS %+v), want cleartext HTTP/2 on v1", ec.Pod, ec.Proto, ec.TLS)
		}
	})

	t.Run("ReadTimeout", func(t *testing.T) {
		start := time.Now()
		resp, _, _ := e.get(t, "/timeout?delay=3s", nil)
		if resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("504 after %s, want about the 1s read timeout", d)
		}
	})

	t.Run("OperatorScript", func(t *testing.T) {
		resp, ec := e.pod(t, "/plain/p", map[string]string{"X-Ngxgw-Resp": "x"})
		if got := http.Header(ec.Headers).Get("X-Operator"); got != "seen" {
			t.Errorf("backend saw x-operator %q, want seen (internal headers stripped before the operator script)", got)
		}
		if resp.Header.Get("X-Operator-Resp") != "yes" {
			t.Errorf("operator on_resp did not run: %v", resp.Header)
		}
		resp, body, _ := e.get(t, "/forbidden", nil)
		if resp.StatusCode != 403 || body != "forbidden by the operator\n" {
			t.Errorf("/forbidden: %d %q", resp.StatusCode, body)
		}
		_, ec = e.pod(t, "/operator-rewrite", nil)
		if ec.Path != "/plain/rewritten" {
			t.Errorf("operator rewrite reached the backend as %q", ec.Path)
		}
		// Routed after the operator: a user script and a dnf answer still run.
		if resp, _ := e.pod(t, "/script", nil); resp.Header.Get("X-Script") != "ran" || resp.Header.Get("X-Operator-Resp") != "yes" {
			t.Errorf("script route: %v", resp.Header)
		}
	})

	t.Run("ExtraConfig", func(t *testing.T) {
		resp, _ := e.pod(t, "/plain", nil)
		if resp.Header.Get("X-Extra") != "from-nghttpx-conf" {
			t.Errorf("add-response-header from nghttpx-conf missing: %v", resp.Header)
		}
	})

	if e.ngx.Exited() {
		t.Fatal("nghttpx exited")
	}
}

// A global script that does not load makes nghttpx refuse the configuration on
// SIGHUP: the previous one keeps serving.
func TestLiveIngressBadOperatorScriptKeepsServing(t *testing.T) {
	e := startIngressLive(t)
	rev := liveConfigRevision(t, e.api)
	opts := e.renderedOpts
	opts.GlobalMruby = "class Op\n  def on_req(env)\nend\n" // does not compile
	cfg, err := render.Render(ingressLiveModel(e), opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, e.dir, cfg)
	if err := e.ngx.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := liveConfigRevision(t, e.api); got != rev {
		t.Fatalf("config revision %s -> %s: a configuration with a broken operator script was accepted", rev, got)
	}
	resp, ec := e.pod(t, "/plain", nil)
	if resp.Header.Get("X-Operator-Resp") != "yes" || http.Header(ec.Headers).Get("X-Operator") != "seen" {
		t.Errorf("the previous configuration (with the good operator script) no longer serves: %v", resp.Header)
	}
}

func liveConfigRevision(t *testing.T, api int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1beta1/configrevision", api))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ConfigRevision int `json:"configRevision"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(r.Data.ConfigRevision)
}

// --proxy-proto: the public listener takes the client address from a PROXY header.
func TestLiveProxyProtocol(t *testing.T) {
	v1 := testenv.StartEcho(t, "v1")
	ports := testenv.FreePorts(t, 2)
	dir := t.TempDir()
	opts := render.Options{StateDir: dir, APIPort: ports[1], ProxyProtocol: true, GracePeriod: time.Second, Features: routing(render.Features{})}
	gw := &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(ports[0]), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{{
			VirtualHosts: []model.VirtualHost{{Rules: []model.Rule{{Name: "r", Match: prefix("/"), Backends: []model.WeightedBackend{backendRef("v1", 1)}}}}},
		}}}},
		Clusters: []model.Cluster{{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(v1.HTTPPort)}}}},
	}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, cfg)
	testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), ports[1], ports[0])
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// 192.0.2.10 (TEST-NET-1) is only text in the header; no traffic goes there.
	fmt.Fprintf(conn, "PROXY TCP4 192.0.2.10 127.0.0.1 40000 %d\r\nGET /pp HTTP/1.1\r\nHost: pp.example.com\r\nConnection: close\r\n\r\n", ports[0])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ec echoed
	if err := json.NewDecoder(resp.Body).Decode(&ec); err != nil {
		t.Fatal(err)
	}
	if got := http.Header(ec.Headers).Get("X-Forwarded-For"); got != "192.0.2.10" {
		t.Errorf("backend saw X-Forwarded-For %q, want the PROXY header's 192.0.2.10", got)
	}
	// The API frontend does not expect a PROXY header.
	liveConfigRevision(t, ports[1])
}
