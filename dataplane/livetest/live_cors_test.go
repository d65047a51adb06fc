//go:build integration

package livetest

import (
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// TestLiveCORS runs the CORS filter through a real nghttpx: the router answers
// preflights and matches origins (exact, "*.suffix", any host, "*"), restore.rb adds
// the headers to the backend's answer, the router to its own answers.

// corsLiveModel is one HTTP port with the conformance suite's CORS routes plus the
// router's own answers (redirect, no endpoints).
func corsLiveModel(port int, echo *testenv.Echo) *model.Gateway {
	foo := model.CORSOrigin{Scheme: "https", Host: "www.foo.com", Port: 443}
	v1 := []model.WeightedBackend{backendRef("v1", 1)}
	rules := []model.Rule{
		{Name: "cors-1", Match: prefix("/cors-1"), Backends: v1,
			CORS: &model.CORS{
				AllowOrigins: []model.CORSOrigin{foo,
					{Scheme: "https", Host: "*.bar.com", Port: 443},
					{Scheme: "http", Host: "*", Port: 8080}},
				AllowMethods:     []string{"GET", "OPTIONS"},
				AllowHeaders:     []string{"x-header-1", "x-header-2"},
				ExposeHeaders:    []string{"x-header-3", "x-header-4"},
				AllowCredentials: true,
				MaxAgeSeconds:    3600,
			},
			ResponseHeaders: &model.HeaderModifier{Set: []model.NameValue{{Name: "x-resp", Value: "mod"}}}},
		{Name: "star", Match: prefix("/star"), Backends: v1,
			CORS: &model.CORS{AllowAnyOrigin: true, AllowMethods: []string{"PUT"}, MaxAgeSeconds: 5}},
		{Name: "star-creds", Match: prefix("/star-creds"), Backends: v1,
			CORS: &model.CORS{AllowAnyOrigin: true, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"},
				ExposeHeaders: []string{"*"}, AllowCredentials: true, MaxAgeSeconds: 5}},
		{Name: "redirect", Match: prefix("/redirect"),
			Redirect: &model.Redirect{Path: &model.PathModifier{Type: model.ReplaceFullPath, Value: "/elsewhere"}, StatusCode: 302},
			CORS:     &model.CORS{AllowOrigins: []model.CORSOrigin{foo}, MaxAgeSeconds: 5}},
		{Name: "no-endpoints", Match: prefix("/no-endpoints"), Backends: []model.WeightedBackend{backendRef("empty", 1)},
			CORS: &model.CORS{AllowOrigins: []model.CORSOrigin{foo}, MaxAgeSeconds: 5}},
		{Name: "plain", Match: prefix("/"), Backends: v1},
	}
	return &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(port), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
			{VirtualHosts: []model.VirtualHost{{Rules: rules}}},
		}}},
		Clusters: []model.Cluster{
			{Name: "empty", Protocol: model.BackendHTTP1},
			{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(echo.HTTPPort)}}},
		},
	}
}

func TestLiveCORS(t *testing.T) {
	echo := testenv.StartEcho(t, "v1")
	ports := testenv.FreePorts(t, 3)
	e := &liveEnv{dir: t.TempDir()}
	e.opts = render.Options{StateDir: e.dir, APIPort: ports[1], HealthPort: ports[2], Workers: 1, GracePeriod: time.Second, Features: routing(render.Features{})}
	cfg, err := render.Render(corsLiveModel(ports[0], echo), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, e.dir, cfg)
	e.ngx = testenv.StartNghttpx(t, filepath.Join(e.dir, render.MainFile), ports[0])
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h1 := &http.Transport{DisableCompression: true}
	h2c := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(func() {
		h1.CloseIdleConnections()
		h2c.CloseIdleConnections()
	})
	clients := map[string]*http.Client{
		"http1": {Transport: h1, CheckRedirect: noRedirect, Timeout: 10 * time.Second},
		"h2c":   {Transport: h2c, CheckRedirect: noRedirect, Timeout: 10 * time.Second},
	}
	const (
		acao = "Access-Control-Allow-Origin"
		acac = "Access-Control-Allow-Credentials"
		acam = "Access-Control-Allow-Methods"
		acah = "Access-Control-Allow-Headers"
		aceh = "Access-Control-Expose-Headers"
		acma = "Access-Control-Max-Age"
	)
	// want lists response headers that must have exactly this value ("" = absent).
	type want map[string]string
	check := func(t *testing.T, resp *http.Response, w want) {
		t.Helper()
		for name, v := range w {
			got := strings.Join(resp.Header.Values(name), ",")
			if got != v {
				t.Errorf("%s: %q, want %q", name, got, v)
			}
		}
	}
	// preflight sends OPTIONS with Origin and Access-Control-Request-Method; the
	// router must answer it (no echo JSON).
	preflight := func(t *testing.T, c *http.Client, path, origin, method, headers string, status int, w want) {
		t.Helper()
		hdr := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			hdr["Access-Control-Request-Headers"] = headers
		}
		resp, ec := e.do(t, c, "OPTIONS", ports[0], "cors.example.com", path, hdr)
		if resp.StatusCode != status || ec != nil {
			t.Fatalf("preflight %s from %s: status %d, echo %+v; want %d from the router", path, origin, resp.StatusCode, ec, status)
		}
		check(t, resp, w)
	}
	// actual sends a request that must reach the backend (status 200) unless status
	// says otherwise.
	actual := func(t *testing.T, c *http.Client, method, path string, hdr map[string]string, status int, w want) *echoed {
		t.Helper()
		resp, ec := e.do(t, c, method, ports[0], "cors.example.com", path, hdr)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: status %d, want %d", method, path, resp.StatusCode, status)
		}
		if status == 200 && (ec == nil || ec.Pod != "v1" || ec.Method != method) {
			t.Fatalf("%s %s: echo %+v, want the request at v1", method, path, ec)
		}
		if ec != nil {
			for k := range ec.Headers {
				if strings.HasPrefix(strings.ToLower(k), validate.InternalHeaderPrefix) {
					t.Fatalf("%s %s: internal header %s reached the backend", method, path, k)
				}
			}
		}
		check(t, resp, w)
		return ec
	}
	fullPreflight := func(origin string) want {
		return want{acao: origin, acam: "GET, OPTIONS", acah: "x-header-1, x-header-2", aceh: "x-header-3, x-header-4",
			acma: "3600", acac: "true", "Vary": "Origin"}
	}
	denied := want{acao: "", acam: "", acah: "", aceh: "", acma: "", acac: ""}

	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			t.Run("PreflightAllowed", func(t *testing.T) {
				for _, o := range []string{"https://www.foo.com", "https://www.foo.com:443", "https://WWW.Foo.com",
					"https://www.bar.com", "https://xpto.www.bar.com", "http://anything.example:8080", "http://10.1.2.3:8080"} {
					preflight(t, c, "/cors-1", o, "GET", "x-header-1, x-header-2", http.StatusNoContent, fullPreflight(o))
				}
			})
			t.Run("PreflightDenied", func(t *testing.T) {
				for _, o := range []string{"https://foobar.com", "https://bar.com", "https://evilbar.com",
					"https://www.bar.com.evil.com", "http://www.foo.com", "https://www.foo.com:8443",
					"http://anything.example", "null", "https://www.foo.com/path", "https://user@www.foo.com",
					"https://www.foo.com:99999", "https://www.foo.com:"} {
					preflight(t, c, "/cors-1", o, "GET", "", http.StatusForbidden, denied)
				}
			})
			t.Run("ActualAllowed", func(t *testing.T) {
				ec := actual(t, c, "GET", "/cors-1/x", map[string]string{"Origin": "https://www.bar.com"}, 200,
					want{acao: "https://www.bar.com", acac: "true", aceh: "x-header-3, x-header-4", acam: "", acma: "",
						"Vary": "Origin", "X-Resp": "mod"})
				if ec.Path != "/cors-1/x" {
					t.Fatalf("backend saw path %q", ec.Path)
				}
				// OPTIONS without Access-Control-Request-Method is not a preflight.
				actual(t, c, "OPTIONS", "/cors-1", map[string]string{"Origin": "https://www.foo.com"}, 200,
					want{acao: "https://www.foo.com", acac: "true"})
			})
			t.Run("ActualForeignOrigin", func(t *testing.T) {
				actual(t, c, "GET", "/cors-1", map[string]string{"Origin": "https://foobar.com"}, 200,
					want{acao: "", acac: "", aceh: "", "Vary": "Origin", "X-Resp": "mod"})
				actual(t, c, "GET", "/cors-1", nil, 200, want{acao: "", acac: "", "Vary": "Origin"})
				// A client cannot forge the router's verdict.
				actual(t, c, "GET", "/cors-1", map[string]string{"Origin": "https://foobar.com",
					"X-Ngxgw-Cors": "c0000000000000000 https://foobar.com"}, 200, want{acao: ""})
			})
			t.Run("BackendCORSHeadersReplaced", func(t *testing.T) {
				set := "Access-Control-Allow-Origin:https://other.example,Access-Control-Allow-Credentials:false"
				actual(t, c, "GET", "/cors-1", map[string]string{"Origin": "https://www.foo.com", "X-Echo-Set-Header": set}, 200,
					want{acao: "https://www.foo.com", acac: "true"})
				// Without CORS credentials the backend's claim is removed too.
				actual(t, c, "GET", "/star", map[string]string{"Origin": "https://a.example", "X-Echo-Set-Header": set}, 200,
					want{acao: "*", acac: ""})
				// A foreign Origin gets nothing from the gateway; the backend's headers stay.
				actual(t, c, "GET", "/cors-1", map[string]string{"Origin": "https://foobar.com", "X-Echo-Set-Header": set}, 200,
					want{acao: "https://other.example", acac: "false"})
			})
			t.Run("AnyOriginWithoutCredentials", func(t *testing.T) {
				for _, o := range []string{"https://foobar.com", "https://foobar.com:12345", "null"} {
					preflight(t, c, "/star", o, "PUT", "", http.StatusNoContent,
						want{acao: "*", acam: "PUT", acah: "", acac: "", acma: "5", "Vary": ""})
					actual(t, c, "PUT", "/star", map[string]string{"Origin": o}, 200, want{acao: "*", acac: "", "Vary": ""})
				}
			})
			t.Run("AnyOriginWithCredentials", func(t *testing.T) {
				preflight(t, c, "/star-creds", "https://other.foo.com", "PUT", "x-header-1, x-header-2", http.StatusNoContent,
					want{acao: "https://other.foo.com", acam: "PUT", acah: "x-header-1, x-header-2", acac: "true", acma: "5"})
				// Nothing asked, nothing echoed.
				preflight(t, c, "/star-creds", "https://other.foo.com", "DELETE", "", http.StatusNoContent,
					want{acao: "https://other.foo.com", acam: "DELETE", acah: "", acac: "true"})
				resp, _ := e.do(t, c, "GET", ports[0], "cors.example.com", "/star-creds",
					map[string]string{"Origin": "https://other.foo.com", "X-Echo-Set-Header": "X-Custom:1"})
				check(t, resp, want{acao: "https://other.foo.com", acac: "true"})
				exposed := strings.Split(resp.Header.Get(aceh), ", ")
				for _, h := range []string{"x-custom", "content-type"} {
					if !slices.Contains(exposed, h) {
						t.Errorf("%s: %q does not list %s", aceh, resp.Header.Get(aceh), h)
					}
				}
				if slices.Contains(exposed, "*") {
					t.Errorf("%s: %q has * with credentials", aceh, resp.Header.Get(aceh))
				}
			})
			t.Run("RouterAnswers", func(t *testing.T) {
				resp, _ := e.do(t, c, "GET", ports[0], "cors.example.com", "/redirect", map[string]string{"Origin": "https://www.foo.com"})
				if loc := fmt.Sprintf("http://cors.example.com:%d/elsewhere", ports[0]); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != loc {
					t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				check(t, resp, want{acao: "https://www.foo.com", acac: "", "Vary": "Origin"})
				preflight(t, c, "/redirect", "https://www.foo.com", "GET", "", http.StatusNoContent,
					want{acao: "https://www.foo.com", acma: "5", acam: ""})
				actual(t, c, "GET", "/no-endpoints", map[string]string{"Origin": "https://www.foo.com"}, 503,
					want{acao: "https://www.foo.com", "Vary": "Origin"})
				actual(t, c, "GET", "/no-endpoints", map[string]string{"Origin": "https://foobar.com"}, 503,
					want{acao: "", "Vary": "Origin"})
			})
			t.Run("NoCORSOnOtherRules", func(t *testing.T) {
				actual(t, c, "GET", "/plain", map[string]string{"Origin": "https://www.foo.com"}, 200, want{acao: "", "Vary": ""})
				// Not a CORS rule: the preflight goes to the backend.
				actual(t, c, "OPTIONS", "/plain", map[string]string{"Origin": "https://www.foo.com",
					"Access-Control-Request-Method": "GET"}, 200, want{acao: ""})
			})
		})
	}
}
