//go:build integration

package livetest

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Two nghttpx workers, each with its own router and copy of the route table:
// a table write reaches every worker on its very next request. nghttpx hands
// new connections to its workers in turn, so consecutive fresh connections
// alternate between the two; the weighted round robin, whose state is per
// worker and starts over when a worker loads a table, shows which worker
// answered.
func TestLiveTwoWorkers(t *testing.T) {
	v1, v2, v3 := testenv.StartEcho(t, "v1"), testenv.StartEcho(t, "v2"), testenv.StartEcho(t, "v3")
	ports := testenv.FreePorts(t, 2)
	port, dir := ports[0], t.TempDir()
	ep := func(e *testenv.Echo) []model.Endpoint {
		return []model.Endpoint{{IP: "127.0.0.1", Port: int32(e.HTTPPort)}}
	}
	gw := func(backends ...model.WeightedBackend) *model.Gateway {
		rules := []model.Rule{{Name: "x", Match: prefix("/x"), Backends: backends}}
		// Keep every group in every table, so only the table changes.
		for _, c := range []string{"v1", "v2", "v3"} {
			rules = append(rules, model.Rule{Name: "keep-" + c, Match: prefix("/keep-" + c), Backends: []model.WeightedBackend{backendRef(c, 1)}})
		}
		return &model.Gateway{
			Ports: []model.Port{{Port: int32(port), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
				{VirtualHosts: []model.VirtualHost{{Rules: rules}}}}}},
			Clusters: []model.Cluster{
				{Name: "v1", Protocol: model.BackendHTTP1, Endpoints: ep(v1)},
				{Name: "v2", Protocol: model.BackendHTTP1, Endpoints: ep(v2)},
				{Name: "v3", Protocol: model.BackendHTTP1, Endpoints: ep(v3)},
			},
		}
	}
	opts := render.Options{StateDir: dir, APIPort: ports[1], Workers: 2, GracePeriod: time.Second, Features: routing(render.Features{})}
	render1 := func(g *model.Gateway) *render.Config {
		cfg, err := render.Render(g, opts)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := render1(gw(backendRef("v1", 1)))
	if !strings.Contains(string(cfg.Main), "workers=2") {
		t.Fatalf("main configuration without workers=2:\n%s", cfg.Main)
	}
	writeState(t, dir, cfg)
	testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), port, opts.APIPort)

	// A fresh connection per request: each goes to the next worker.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	e := &liveEnv{}
	pods := func(n int) string {
		var got []string
		for range n {
			resp, ec := e.do(t, c, "GET", port, "any.example.com", "/x/p", nil)
			if resp.StatusCode != 200 || ec == nil {
				t.Fatalf("GET /x/p: status %d, echo %+v", resp.StatusCode, ec)
			}
			if ec.Path != "/x/p" {
				t.Fatalf("backend saw path %q, want /x/p", ec.Path)
			}
			got = append(got, ec.Pod)
		}
		return strings.Join(got, " ")
	}
	if got := pods(4); got != "v1 v1 v1 v1" {
		t.Fatalf("first table: %s, want v1 from both workers", got)
	}
	// Every worker serves the new table on its next request.
	writeRouteTable(t, dir, render1(gw(backendRef("v3", 1))))
	if got := pods(4); got != "v3 v3 v3 v3" {
		t.Fatalf("after the change to v3: %s, want v3 from both workers", got)
	}
	// Even shares: one worker alone would answer v1 v2 v1 v2; two workers, each
	// starting its round robin afresh with this table, answer v1 v1 v2 v2.
	writeRouteTable(t, dir, render1(gw(backendRef("v1", 1), backendRef("v2", 1))))
	if got := pods(4); got != "v1 v1 v2 v2" {
		t.Fatalf("after the change to v1+v2: %s, want v1 v1 v2 v2 (two workers, each on the new table)", got)
	}
}
