//go:build integration

package faults

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"golang.org/x/net/http2"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/standalone"
)

// host is the stable route's hostname; every scenario's traffic goes there.
const host = "app.faults.test"

// gw is one running `run` pipeline: a config directory with a Gateway (one HTTP
// listener), a Service over two echo servers and a route, and the runner's one
// data plane.
type gw struct {
	t       *testing.T
	dir     string
	port    int
	echo    []*testenv.Echo
	log     testenv.SyncBuffer
	mu      sync.Mutex
	applier *apply.Applier
}

// startGateway starts the pipeline and waits until the route serves.
func startGateway(t *testing.T) *gw {
	t.Helper()
	g := &gw{t: t, dir: t.TempDir(), port: testenv.FreePort(t)}
	for _, p := range []string{"a", "b"} {
		g.echo = append(g.echo, testenv.StartEcho(t, p))
	}
	g.write("gateway.yaml", fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: %s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
  - {name: http, protocol: HTTP, port: %d}
`, translate.DefaultControllerName, g.port))
	g.write("app.yaml", g.service("app", g.echo...))
	g.write("b.yaml", g.service("only-b", g.echo[1]))
	g.write("route.yaml", route("app", host, "  - backendRefs: [{name: app, port: 80}]\n"))

	bin := testenv.NghttpxBin(t)
	sink := funcr.New(func(prefix, args string) {
		fmt.Fprintf(&g.log, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{})
	r := &standalone.Runner{
		ConfigDir: g.dir,
		StateDir:  t.TempDir(),
		Render:    render.Options{Workers: faultsWorkers(), GracePeriod: 2 * time.Second},
		Log:       sink,
		Out:       io.Discard,
		Poll:      50 * time.Millisecond,
		Settle:    30 * time.Millisecond,
		NewProcess: func(dir string) (instance.Process, error) {
			a, err := apply.New(apply.Options{Binary: bin, StateDir: dir, Log: sink.WithValues("stateDir", dir),
				StopGrace: 5 * time.Second, ReloadTimeout: 10 * time.Second})
			if err != nil {
				return nil, err
			}
			g.mu.Lock()
			g.applier = a
			g.mu.Unlock()
			return a, nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
		if t.Failed() {
			t.Logf("--- runner log (tail):\n%s", tail(g.log.String(), 6000))
		}
	})
	g.eventually("the route serves", 20*time.Second, func() error { _, err := g.get("/"); return err })
	return g
}

func (g *gw) write(name, content string) {
	g.t.Helper()
	tmp := filepath.Join(g.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(g.dir, name)); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gw) service(name string, pods ...*testenv.Echo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: default}\nspec:\n  ports: [{name: http, port: 80}]\n", name)
	for _, e := range pods {
		fmt.Fprintf(&b, `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %s-%s, namespace: default, labels: {kubernetes.io/service-name: %s}}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, e.Pod, name, e.HTTPPort)
	}
	return b.String()
}

func route(name, host, rules string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [%s]
  rules:
%s`, name, host, rules)
}

// data is the running data plane's applier.
func (g *gw) data() *apply.Applier {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.applier == nil {
		g.t.Fatal("no data plane started")
	}
	return g.applier
}

// get sends one request on a new connection and returns the answering pod.
func (g *gw) get(path string) (string, error) {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", g.port, path), nil)
	req.Host = host
	e, err := testenv.DoEcho(req)
	return e.Pod, err
}

func (g *gw) eventually(what string, timeout time.Duration, f func() error) {
	g.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// traffic is steady load against the gateway's route, every outcome counted with
// the time it ended, so a scenario can tell failures inside its allowed window from
// those outside.
type traffic struct {
	name       string
	reqs, oks  atomic.Int64
	mu         sync.Mutex
	failures   []failure
	lastOK     atomic.Int64 // unix nanos of the last success
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeConns func()
}

type failure struct {
	at  time.Time
	err string
}

// maxKept bounds the failures kept with their text (all are counted).
const maxKept = 5000

// loadPace is each loop's pause between requests: enough traffic to see any gap
// of a few milliseconds, little enough to leave the machine's two cores to the
// proxy and the attack.
const loadPace = 2 * time.Millisecond

// startTraffic runs workers loops of HTTP/1.1 keep-alive ("h1") or h2c
// prior-knowledge ("h2c") requests until stop.
func (g *gw) startTraffic(proto string, workers int) *traffic {
	g.t.Helper()
	var rt http.RoundTripper
	var closeIdle func()
	switch proto {
	case "h1":
		tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, DisableCompression: true}
		rt, closeIdle = tr, tr.CloseIdleConnections
	case "h2c":
		tr := &http2.Transport{AllowHTTP: true, DisableCompression: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}}
		rt, closeIdle = tr, tr.CloseIdleConnections
	default:
		g.t.Fatalf("unknown protocol %q", proto)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: rt}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{name: proto, cancel: cancel, closeConns: closeIdle}
	url := fmt.Sprintf("http://127.0.0.1:%d/", g.port)
	for range workers {
		tr.wg.Go(func() {
			for ctx.Err() == nil {
				tr.one(ctx, c, url)
				time.Sleep(loadPace)
			}
		})
	}
	g.t.Cleanup(func() { tr.stop() })
	return tr
}

func (tr *traffic) one(ctx context.Context, c *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		return // stopping: not an outcome
	}
	tr.reqs.Add(1)
	if err == nil {
		var e testenv.EchoResponse
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			err = rerr
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
		default:
			if jerr := json.Unmarshal(b, &e); jerr != nil || e.Pod == "" {
				err = fmt.Errorf("not an echo answer: %.200s", b)
			}
		}
	}
	now := time.Now()
	if err == nil {
		tr.oks.Add(1)
		tr.lastOK.Store(now.UnixNano())
		return
	}
	tr.mu.Lock()
	if len(tr.failures) < maxKept {
		tr.failures = append(tr.failures, failure{now, err.Error()})
	}
	tr.mu.Unlock()
}

// stop ends the loops; later calls do nothing.
func (tr *traffic) stop() {
	tr.cancel()
	tr.wg.Wait()
	tr.closeConns()
}

func (tr *traffic) failed() int64 { return tr.reqs.Load() - tr.oks.Load() }

// failuresOutside returns the failures not within [from, to].
func (tr *traffic) failuresOutside(from, to time.Time) []failure {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []failure
	for _, f := range tr.failures {
		if f.at.Before(from) || f.at.After(to) {
			out = append(out, f)
		}
	}
	return out
}

func (tr *traffic) all() []failure {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]failure(nil), tr.failures...)
}

// okSince waits until a request succeeded after t0 and returns when the first
// success after t0 happened (as seen by polling, within 1 ms).
func (tr *traffic) okSince(t0 time.Time, timeout time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if last := tr.lastOK.Load(); last > t0.UnixNano() {
			return time.Duration(last - t0.UnixNano()), true
		}
		time.Sleep(time.Millisecond)
	}
	return 0, false
}

func (tr *traffic) String() string {
	return fmt.Sprintf("%s: %d requests, %d failed", tr.name, tr.reqs.Load(), tr.failed())
}

func describe(fs []failure) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 10 {
			fmt.Fprintf(&b, "... and %d more", len(fs)-10)
			break
		}
		fmt.Fprintf(&b, "%s %s; ", f.at.Format("15:04:05.000"), f.err)
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// rssOf sums the resident memory of nghttpx's main process and its workers.
func rssOf(t *testing.T, main int) int64 {
	t.Helper()
	total := testenv.RSS(t, main)
	for _, w := range testenv.WorkerPIDs(t, main) {
		total += testenv.RSS(t, w)
	}
	return total
}

// cpuOf sums the CPU time (user + system) nghttpx's main process and its
// workers used so far.
func cpuOf(t *testing.T, main int) time.Duration {
	t.Helper()
	var total time.Duration
	for _, pid := range append([]int{main}, testenv.WorkerPIDs(t, main)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("cpu of %d: %v", pid, err)
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / clockTicks
	}
	return total
}

// clockTicks is USER_HZ, 100 on Linux for every architecture Go supports here.
const clockTicks = 100

// row is one line of bench/reliability.md.
type row struct {
	Scenario, Traffic string
	Requests, Failed  int64
	Allowed           string
	Recovery          string
	MemBefore         string
	MemAfter          string
	Notes             string
}

var (
	reportMu sync.Mutex
	rows     []row
)

// report keeps r for the table TestMain writes to $FAULTS_REPORT (make faults
// puts it into bench/reliability.md) and logs it.
func report(t *testing.T, r row) {
	t.Helper()
	b, _ := json.Marshal(r)
	t.Logf("result: %s", b)
	reportMu.Lock()
	rows = append(rows, r)
	reportMu.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if p := os.Getenv("FAULTS_REPORT"); p != "" {
		var b strings.Builder
		b.WriteString("| scenario | traffic | requests | failed | failures allowed | traffic back after | nghttpx RSS before | after | what the attack saw / notes |\n")
		b.WriteString("|---|---|---:|---:|---|---:|---:|---:|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", r.Scenario, r.Traffic, r.Requests, r.Failed,
				r.Allowed, or(r.Recovery, "-"), r.MemBefore, r.MemAfter, strings.ReplaceAll(r.Notes, "|", "/"))
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "faults: write %s: %v\n", p, err)
			code = 1
		}
	}
	os.Exit(code)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// faultsWorkers is nghttpx's worker threads: FAULTS_WORKERS, else 1.
func faultsWorkers() int {
	if n, err := strconv.Atoi(os.Getenv("FAULTS_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 1
}
