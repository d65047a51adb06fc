//go:build integration

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// rounds is how many times each change is measured; the table shows the median.
const rounds = 5

// latency is one size's measurements.
type latency struct {
	routes, clusters, backendLines, tableBytes int
	start, firstRequest                        time.Duration
	rssMain, rssWorkers                        int64
	// Per change kind, every round: the Apply call, and a second time: the POST or
	// SIGHUP-to-revision the applier timed, or from the Apply call until the new
	// route answers.
	endpointApply, endpointPost []time.Duration
	routeApply, routeServed     []time.Duration
	listenerApply, listenerHUP  []time.Duration
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// TestApplyLatency measures a real nghttpx behind the applier for growing
// configurations built by pipeline.SyntheticInput. The backends (127.0.x.y) do
// not exist: nothing here needs them to answer.
func TestApplyLatency(t *testing.T) {
	sizes := []int{100, 1000, 5000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	var rows []latency
	for _, n := range sizes {
		t.Run(fmt.Sprintf("%d_routes", n), func(t *testing.T) {
			rows = append(rows, measure(t, n))
		})
	}
	table := markdown(rows)
	t.Logf("apply latency (median of %d):\n%s", rounds, table)
	if out := os.Getenv("BENCH_OUT"); out != "" && !t.Failed() {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func markdown(rows []latency) string {
	var b strings.Builder
	b.WriteString("| routes | clusters | backend lines | route table | start | first request | RSS main | RSS workers | endpoint change: Apply (API post) | route change: Apply (served) | listener change: Apply (SIGHUP to new revision) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %d | %d | %d KiB | %s ms | %s ms | %s MiB | %s MiB | %s ms (%s ms) | %s ms (%s ms) | %s ms (%s ms) |\n",
			r.routes, r.clusters, r.backendLines, r.tableBytes>>10, ms(r.start), ms(r.firstRequest),
			mib(r.rssMain), mib(r.rssWorkers),
			ms(median(r.endpointApply)), ms(median(r.endpointPost)),
			ms(median(r.routeApply)), ms(median(r.routeServed)),
			ms(median(r.listenerApply)), ms(median(r.listenerHUP)))
	}
	return b.String()
}

// world is one size's input and the ports it uses.
type world struct {
	in       *load.Input
	port     int
	apiPort  int
	extra    []int // a second listener's port, a new one each round
	stateDir string
	// gwDir is the Gateway's own state directory, under stateDir.
	gwDir string
	// workers is the number of nghttpx workers (0: one).
	workers int
}

// applier is the benchmark's nghttpx for w's state directory, with generous
// timeouts (large tables on a busy machine).
func (w *world) applier(t *testing.T) *apply.Applier {
	t.Helper()
	a, err := apply.New(apply.Options{Binary: testenv.NghttpxBin(t), StateDir: w.gwDir, Log: logr.Discard(),
		ReadyTimeout: time.Minute, ReloadTimeout: time.Minute, APITimeout: 2 * time.Minute, StopGrace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (w *world) build(t *testing.T) *render.Config {
	t.Helper()
	out := pipeline.Build(w.in, pipeline.Options{
		Gateway:  translate.Options{DefaultAddress: "127.0.0.1"},
		Render:   render.Options{APIPort: w.apiPort, Workers: max(w.workers, 1), GracePeriod: 2 * time.Second},
		StateDir: w.stateDir,
	})
	if len(out.Gateways) != 1 || out.Gateways[0].Err != nil {
		t.Fatalf("pipeline: %+v", out.Gateways)
	}
	w.gwDir = out.Gateways[0].StateDir
	return out.Gateways[0].Config
}

func measure(t *testing.T, n int) latency {
	ports := testenv.FreePorts(t, 3+rounds)
	w := &world{port: ports[0], apiPort: ports[1], extra: ports[3:], stateDir: t.TempDir()}
	// No echo backends: endpoints point at a port nobody listens on.
	w.in = pipeline.SyntheticInput(n, n/10+1, 3, int32(w.port), int32(ports[2]))
	cfg := w.build(t)
	r := latency{routes: n, clusters: len(cfg.Backends), tableBytes: len(cfg.RouteTable)}
	for _, g := range cfg.Backends {
		r.backendLines += len(g.Lines)
	}

	a := w.applier(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	start := time.Now()
	if err := a.Start(ctx, *cfg); err != nil {
		t.Fatal(err)
	}
	r.start = time.Since(start)
	// The first request makes the worker load the route table.
	start = time.Now()
	wantStatus(t, w.port, "unknown.example", "/", http.StatusNotFound, 30*time.Second)
	r.firstRequest = time.Since(start)
	pid := a.PID()
	r.rssMain = testenv.RSS(t, pid)
	for _, p := range testenv.WorkerPIDs(t, pid) {
		r.rssWorkers += testenv.RSS(t, p)
	}
	st := a.Stats()
	counts := func() [3]int64 { return [3]int64{st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load()} }
	// applyTimed applies the world and checks which mechanism the applier used.
	applyTimed := func(what string, want [3]int64) time.Duration {
		t.Helper()
		cfg := w.build(t)
		before := counts()
		start := time.Now()
		if err := a.Apply(ctx, *cfg); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		took := time.Since(start)
		after := counts()
		for i, name := range []string{"reloads", "backend posts", "route writes"} {
			if after[i]-before[i] != want[i] {
				t.Errorf("%s: %s +%d, want +%d", what, name, after[i]-before[i], want[i])
			}
		}
		return took
	}

	// (a) Endpoints only: one address of one Service changes.
	slice := &w.in.EndpointSlices[0]
	for i := range rounds {
		slice.Endpoints[0].Addresses = []string{fmt.Sprintf("127.0.9.%d", i+1)}
		r.endpointApply = append(r.endpointApply, applyTimed("endpoint change", [3]int64{0, 1, 0}))
		r.endpointPost = append(r.endpointPost, time.Duration(st.LastBackendPostNanos.Load()))
	}

	// (b) A route change: route-0 gains a redirect rule (a new one each round), which
	// the router answers itself, so a 302 proves the new table is in use.
	route := &w.in.HTTPRoutes[0]
	rules := route.Spec.Rules
	for i := range rounds {
		path := fmt.Sprintf("/moved-%d", i)
		route.Spec.Rules = append(slices.Clone(rules), gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(path)}}},
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Hostname: ptr.To(gatewayv1.PreciseHostname(fmt.Sprintf("moved-%d.example", i))), StatusCode: ptr.To(302)}}},
		})
		start := time.Now()
		r.routeApply = append(r.routeApply, applyTimed("route change", [3]int64{0, 0, 1}))
		wantStatus(t, w.port, "host-0.example", path, http.StatusFound, 30*time.Second)
		r.routeServed = append(r.routeServed, time.Since(start))
	}

	// (c) A listener change: a second HTTP listener on a new port each round.
	gw := &w.in.Gateways[0]
	listeners := gw.Spec.Listeners
	for i := range rounds {
		gw.Spec.Listeners = append(slices.Clone(listeners), gatewayv1.Listener{
			Name: "extra", Protocol: gatewayv1.HTTPProtocolType, Port: gatewayv1.PortNumber(w.extra[i]),
			AllowedRoutes: listeners[0].AllowedRoutes,
		})
		r.listenerApply = append(r.listenerApply, applyTimed("listener change", [3]int64{1, 0, 1}))
		r.listenerHUP = append(r.listenerHUP, time.Duration(st.LastReloadNanos.Load()))
		wantStatus(t, w.extra[i], "unknown.example", "/", http.StatusNotFound, 30*time.Second)
	}
	if a.PID() != pid {
		t.Errorf("nghttpx pid changed from %d to %d", pid, a.PID())
	}
	t.Logf("routes %d: start %s, first request %s, RSS main %s MiB workers %s MiB; endpoint %v; route %v (served %v); listener %v (SIGHUP %v)",
		n, r.start, r.firstRequest, mib(r.rssMain), mib(r.rssWorkers), r.endpointApply, r.routeApply, r.routeServed, r.listenerApply, r.listenerHUP)
	return r
}

// wantStatus polls until a request with Host host answers status, or fails after
// timeout.
func wantStatus(t *testing.T, port int, host, path string, status int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		got, body, err := testenv.Do(req)
		if err == nil && got == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s%s on port %d: status %d %.200s (%v), want %d", host, path, port, got, body, err, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
