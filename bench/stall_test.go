//go:build integration

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// stallWorkers and stallClients: each client holds one keep-alive connection,
// and nghttpx hands connections to its workers in turn, so every worker serves
// several clients.
const (
	stallWorkers = 2
	stallClients = 8
	stallRounds  = 5
)

// stall is one size's result: per round, the worst and the 99th percentile
// latency of the requests sent while the change was being picked up, and the
// same for the requests just before it.
type stall struct {
	routes                   int
	changeMax, changeP99     []time.Duration
	baselineMax, baselineP99 []time.Duration
	// reloadCPU is, per worker and change on an idle data plane, the CPU time
	// its thread spent on the first request after the change minus that of the
	// second (schedstat, so neither the machine's load nor the clock's tick
	// blurs it); firstLatency the first request's latency minus the second's.
	reloadCPU, firstLatency []time.Duration
}

// TestRouteChangeStall measures what a one-route change costs the requests
// in flight: 5,000 (and 100) HTTPRoutes of one hostname each to echo-basic, a
// real nghttpx with two workers, clients sending back to back over keep-alive
// connections to random hosts and, every other request, to the route that
// changes. The change adds a redirect rule to that route; the window runs from
// the Apply call until every client has seen the redirect. A worker that
// reloads its table holds every request it serves meanwhile, so the window's
// worst latency is the longest stall of any worker.
func TestRouteChangeStall(t *testing.T) {
	echo := quietEcho(t)
	sizes := []int{100, 5000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	var rows []stall
	for _, n := range sizes {
		t.Run(fmt.Sprintf("%d_routes", n), func(t *testing.T) {
			rows = append(rows, measureStall(t, n, echo))
		})
	}
	var b strings.Builder
	b.WriteString("| routes | reload CPU per worker: median | max | first request's extra latency: median | max | under load, during the change: max | p99 | before it: max | p99 |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s ms | %s ms | %s ms | %s ms | %s ms | %s ms | %s ms | %s ms |\n", r.routes,
			ms2(median(r.reloadCPU)), ms2(slices.Max(r.reloadCPU)), ms2(median(r.firstLatency)), ms2(slices.Max(r.firstLatency)),
			ms2(median(r.changeMax)), ms2(median(r.changeP99)),
			ms2(median(r.baselineMax)), ms2(median(r.baselineP99)))
	}
	t.Logf("route change stall (%d workers, %d clients, median of %d rounds):\n%s", stallWorkers, stallClients, stallRounds, b.String())
	if out := os.Getenv("BENCH_STALL_OUT"); out != "" && !t.Failed() {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sample is one request: when it was sent and how long it took.
type sample struct {
	at   time.Time
	took time.Duration
}

func measureStall(t *testing.T, n, echoPort int) stall {
	ports := testenv.FreePorts(t, 2)
	w := &world{port: ports[0], apiPort: ports[1], stateDir: t.TempDir(), workers: stallWorkers}
	w.in = pipeline.SyntheticInput(n, n/10+1, 1, int32(w.port), int32(echoPort))
	cfg := w.build(t)
	a := w.applier(t)
	ctx := context.Background()
	t.Cleanup(func() {
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err := a.Start(ctx, *cfg); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, w.port, "host-0.example", "/", http.StatusOK, 30*time.Second)

	var (
		mu      sync.Mutex
		samples []sample
		target  atomic.Pointer[string] // "host path" of the changing route
		round   atomic.Int64           // the clients that saw the current redirect, as a bit set
		stop    atomic.Bool
		errs    atomic.Int64
		wg      sync.WaitGroup
	)
	target.Store(ptr.To("host-0.example /none"))
	client := func(id int) {
		defer wg.Done()
		c := &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		}
		defer c.CloseIdleConnections()
		rng := rand.New(rand.NewPCG(uint64(id), 1))
		var local []sample
		for i := 0; !stop.Load(); i++ {
			tg := *target.Load()
			host, path, _ := strings.Cut(tg, " ")
			if i%2 == 1 {
				host, path = fmt.Sprintf("host-%d.example", rng.IntN(n)), "/"
			}
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", w.port, path), nil)
			req.Host = host
			start := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				errs.Add(1)
				continue
			}
			resp.Body.Close()
			local = append(local, sample{start, time.Since(start)})
			if i%2 == 0 && resp.StatusCode == http.StatusFound {
				round.Or(1 << id)
			}
		}
		mu.Lock()
		samples = append(samples, local...)
		mu.Unlock()
	}
	for id := range stallClients {
		wg.Add(1)
		go client(id)
	}
	// Every worker has loaded what the clients use.
	time.Sleep(time.Second)

	r := stall{routes: n}
	type window struct{ from, changed, to time.Time }
	var windows []window
	for i := range stallRounds {
		k := (i*997 + 1) % n
		route := &w.in.HTTPRoutes[k]
		rules := slices.Clone(route.Spec.Rules)
		path := fmt.Sprintf("/moved-%d", i)
		host := fmt.Sprintf("host-%d.example", k)
		target.Store(ptr.To(host + " " + path))
		round.Store(0)
		time.Sleep(300 * time.Millisecond)
		route.Spec.Rules = append(slices.Clone(rules), gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(path)}}},
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Hostname: ptr.To(gatewayv1.PreciseHostname("moved.example")), StatusCode: ptr.To(302)}}},
		})
		cfg := w.build(t)
		from := time.Now()
		if err := a.Apply(ctx, *cfg); err != nil {
			t.Fatal(err)
		}
		changed := time.Now()
		for deadline := time.Now().Add(30 * time.Second); round.Load() != 1<<stallClients-1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: clients %b saw the redirect, want all %d", i, round.Load(), stallClients)
			}
		}
		windows = append(windows, window{from, changed, time.Now()})
		route.Spec.Rules = rules
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	r.reloadCPU, r.firstLatency = idleChanges(t, w, a, n)
	if e := errs.Load(); e > 0 {
		t.Errorf("%d requests failed", e)
	}

	stats := func(from, to time.Time) (maxd, p99 time.Duration, count int) {
		var ds []time.Duration
		for _, s := range samples {
			// A request that started before the window but ended in it waited too.
			if s.at.Add(s.took).After(from) && s.at.Before(to) {
				ds = append(ds, s.took)
			}
		}
		if len(ds) == 0 {
			return 0, 0, 0
		}
		slices.Sort(ds)
		return ds[len(ds)-1], ds[len(ds)*99/100], len(ds)
	}
	for i, wd := range windows {
		cm, cp, cn := stats(wd.from, wd.to)
		bm, bp, bn := stats(wd.from.Add(-250*time.Millisecond), wd.from)
		t.Logf("%d routes, round %d: Apply %s, all clients redirected after %s; %d requests during: max %s p99 %s; %d before: max %s p99 %s",
			n, i, wd.changed.Sub(wd.from).Round(time.Microsecond), wd.to.Sub(wd.from).Round(time.Microsecond), cn, cm, cp, bn, bm, bp)
		r.changeMax, r.changeP99 = append(r.changeMax, cm), append(r.changeP99, cp)
		r.baselineMax, r.baselineP99 = append(r.baselineMax, bm), append(r.baselineP99, bp)
	}
	return r
}

// threadCPU is the CPU time of every thread of pids so far, by thread id
// (/proc/<pid>/task/<tid>/schedstat: nanoseconds on the CPU).
func threadCPU(t *testing.T, pids []int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, p := range pids {
		dir := fmt.Sprintf("/proc/%d/task", p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
			if err != nil {
				continue
			}
			f := strings.Fields(string(b))
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			out[e.Name()] = time.Duration(ns)
		}
	}
	return out
}

// idleChanges applies stallRounds one-route changes with no traffic, then
// sends requests for the changed route one at a time, each on a new
// connection (nghttpx hands them to its workers in turn), until every worker
// thread has served two: the first pays for picking up the change.
func idleChanges(t *testing.T, w *world, a *apply.Applier, n int) (cpu, lat []time.Duration) {
	ctx := context.Background()
	pids := testenv.WorkerPIDs(t, a.PID())
	// The worker threads are those that serve requests (the process has others).
	serve := func(host, path string, status int) (string, time.Duration, time.Duration) {
		before := threadCPU(t, pids)
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", w.port, path), nil)
		req.Host = host
		req.Close = true
		start := time.Now()
		resp, err := http.DefaultTransport.RoundTrip(req)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("GET %s%s: status %d, want %d", host, path, resp.StatusCode, status)
		}
		time.Sleep(20 * time.Millisecond) // the worker finishes the connection
		after := threadCPU(t, pids)
		var best string
		var most time.Duration
		for tid, c := range after {
			if d := c - before[tid]; d > most {
				best, most = tid, d
			}
		}
		return best, most, took
	}
	seen := map[string]int{}
	for range 8 * stallWorkers {
		tid, _, _ := serve("host-0.example", "/", http.StatusOK)
		seen[tid]++
	}
	workers := map[string]bool{}
	for tid, c := range seen {
		if c >= 3 {
			workers[tid] = true
		}
	}
	if len(workers) != stallWorkers {
		t.Fatalf("worker threads %v, want %d", seen, stallWorkers)
	}
	for i := range stallRounds {
		k := (i*991 + 7) % n
		route := &w.in.HTTPRoutes[k]
		rules := slices.Clone(route.Spec.Rules)
		path := fmt.Sprintf("/idle-%d", i)
		route.Spec.Rules = append(slices.Clone(rules), gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(path)}}},
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Hostname: ptr.To(gatewayv1.PreciseHostname("moved.example")), StatusCode: ptr.To(302)}}},
		})
		cfg := w.build(t)
		route.Spec.Rules = rules
		time.Sleep(100 * time.Millisecond)
		if err := a.Apply(ctx, *cfg); err != nil {
			t.Fatal(err)
		}
		type served struct{ cpu, lat []time.Duration }
		byThread := map[string]*served{}
		for tries := 0; tries < 20*stallWorkers; tries++ {
			done := 0
			for _, s := range byThread {
				if len(s.cpu) >= 2 {
					done++
				}
			}
			if done == stallWorkers {
				break
			}
			best, most, took := serve(fmt.Sprintf("host-%d.example", k), path, http.StatusFound)
			if !workers[best] {
				continue // another thread's work outweighed this request
			}
			s := byThread[best]
			if s == nil {
				s = &served{}
				byThread[best] = s
			}
			s.cpu, s.lat = append(s.cpu, most), append(s.lat, took)
		}
		for tid, s := range byThread {
			if len(s.cpu) < 2 {
				t.Fatalf("round %d: thread %s served %d requests", i, tid, len(s.cpu))
			}
			cpu, lat = append(cpu, s.cpu[0]-s.cpu[1]), append(lat, s.lat[0]-s.lat[1])
			t.Logf("%d routes, idle change %d, thread %s: first request %s CPU %s, second %s CPU %s",
				n, i, tid, s.lat[0], s.cpu[0], s.lat[1], s.cpu[1])
		}
	}
	return cpu, lat
}

func ms2(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
