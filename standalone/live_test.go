//go:build integration

package standalone_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/standalone"
)

// The live test runs the whole standalone pipeline (YAML files -> translator ->
// renderer -> applier -> nghttpx) against echo servers and edits the files while a
// load loop runs, checking each edit through real requests.

// live is one running Runner over a config directory.
type live struct {
	t         *testing.T
	dir       string
	port      int // the Gateway's first HTTP listener
	echo      map[string]*testenv.Echo
	log, out  testenv.SyncBuffer
	mu        sync.Mutex
	appliers  map[string]*apply.Applier // by state directory
	runDone   chan error
	cancelRun context.CancelFunc
	// accessLog, when set, receives the access logs, written in
	// accessLogFormat (live_accesslog_test.go); unset: none.
	accessLog       *accesslog.Sink
	accessLogFormat accesslog.Format
	stats           *apply.StatsSet
	ingress         ingressshim.Options
	// features are what the renderer may use (none unless a test sets them).
	features render.Features
}

// recorded is an Applier that the test finds by state directory once it started.
type recorded struct {
	*apply.Applier
	l   *live
	dir string
}

func (r recorded) Start(ctx context.Context, cfg render.Config) error {
	if err := r.Applier.Start(ctx, cfg); err != nil {
		return err
	}
	r.l.mu.Lock()
	r.l.appliers[r.dir] = r.Applier
	r.l.mu.Unlock()
	return nil
}

// write replaces a config file atomically (the runner skips dot files), so the
// runner never reads half a file.
func (l *live) write(name, content string) {
	l.t.Helper()
	tmp := filepath.Join(l.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, name)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *live) remove(name string) {
	l.t.Helper()
	if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
		l.t.Fatal(err)
	}
}

func gatewayYAML(ports ...int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: %s}
`, translate.DefaultControllerName)
	if len(ports) == 0 {
		return b.String()
	}
	b.WriteString(`---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  listeners:
`)
	for i, p := range ports {
		fmt.Fprintf(&b, "  - {name: http-%d, protocol: HTTP, port: %d}\n", i, p)
	}
	return b.String()
}

// serviceYAML is a Service with one EndpointSlice per echo server: each listens on
// its own port of 127.0.0.1, and a slice carries one port number.
func (l *live) serviceYAML(name string, pods ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: http, port: 80}]
`, name)
	for _, pod := range pods {
		fmt.Fprintf(&b, `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-%s
  namespace: default
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, pod, name, l.echo[pod].HTTPPort)
	}
	return b.String()
}

func routeYAML(name, host, rules string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [%s]
  rules:
%s`, name, host, rules)
}

const stableRoute = `  - backendRefs: [{name: app, port: 80}]
`

// liveRouting is what make nghttpx's binary offers for routing (the router chooses
// the backend group, routes.gen is mapped); LIVE_PATH_STEERING=1 tests without it.
func liveRouting() render.Features {
	if os.Getenv("LIVE_PATH_STEERING") != "" {
		return render.Features{}
	}
	return render.Features{BackendGroup: true, MappedWord: true}
}

// routing is what a test set in l.features with liveRouting's way of routing.
func (l *live) routing() render.Features {
	f, r := l.features, liveRouting()
	f.BackendGroup, f.MappedWord = r.BackendGroup, r.MappedWord
	return f
}

func (l *live) start(ctx context.Context) {
	t := l.t
	bin := testenv.NghttpxBin(t)
	sink := funcr.New(func(prefix, args string) {
		fmt.Fprintf(&l.log, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{})
	r := &standalone.Runner{
		ConfigDir: l.dir,
		StateDir:  t.TempDir(),
		Render:    render.Options{Workers: 1, GracePeriod: 2 * time.Second, AccessLog: l.accessLogFormat, Features: l.routing()},
		AccessLog: l.accessLog,
		Stats:     l.stats,
		Ingress:   l.ingress,
		Log:       sink,
		Out:       &l.out,
		Poll:      50 * time.Millisecond,
		Settle:    30 * time.Millisecond,
		NewProcess: func(dir string) (instance.Process, error) {
			a, err := apply.New(apply.Options{Binary: bin, StateDir: dir, Log: sink.WithValues("stateDir", dir),
				StopGrace: 5 * time.Second, ReloadTimeout: 10 * time.Second})
			if err != nil {
				return nil, err
			}
			return recorded{a, l, dir}, nil
		},
	}
	ctx, l.cancelRun = context.WithCancel(ctx)
	l.runDone = make(chan error, 1)
	go func() { l.runDone <- r.Run(ctx) }()
	t.Cleanup(func() {
		l.cancelRun()
		select {
		case err := <-l.runDone:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
		if t.Failed() {
			t.Logf("--- runner log:\n%s\n--- runner status output:\n%s", l.log.String(), l.out.String())
		}
	})
}

// applier waits for the one data plane the runner started.
func (l *live) applier() *apply.Applier {
	l.t.Helper()
	var a *apply.Applier
	eventually(l.t, "the runner starts a data plane", 15*time.Second, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.appliers) != 1 {
			return fmt.Errorf("%d data planes", len(l.appliers))
		}
		for _, x := range l.appliers {
			a = x
		}
		return nil
	})
	return a
}

// eventually polls f until it succeeds, failing the test after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func request(port int, host, path string, hdr ...string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		panic(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// pod is the echo pod that answered, or an error for any other answer.
func pod(port int, host, path string, hdr ...string) (string, error) {
	e, err := testenv.DoEcho(request(port, host, path, hdr...))
	return e.Pod, err
}

func wantPod(port int, host, path, want string, hdr ...string) func() error {
	return func() error {
		got, err := pod(port, host, path, hdr...)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("GET %s%s answered by %q, want %q", host, path, got, want)
		}
		return nil
	}
}

func wantStatus(port int, host, path string, want int) func() error {
	return func() error {
		status, body, err := testenv.Do(request(port, host, path))
		if err != nil {
			return err
		}
		if status != want {
			return fmt.Errorf("GET %s%s: status %d (%.100s), want %d", host, path, status, body, want)
		}
		return nil
	}
}

// podsOf sends n requests and counts the answering pods; any failure is an error.
func podsOf(port int, host, path string, n int) (map[string]int, error) {
	seen := map[string]int{}
	for range n {
		p, err := pod(port, host, path)
		if err != nil {
			return seen, err
		}
		seen[p]++
	}
	return seen, nil
}

// counters is a snapshot of the applier's stats.
type counters struct{ reloads, posts, routeWrites, applies int64 }

func snapshot(a *apply.Applier) counters {
	s := a.Stats()
	return counters{s.Reloads.Load(), s.BackendPosts.Load(), s.RouteWrites.Load(), s.Applies.Load()}
}

func (c counters) String() string {
	return fmt.Sprintf("reloads %d, backend posts %d, route writes %d, applies %d", c.reloads, c.posts, c.routeWrites, c.applies)
}

func TestLive(t *testing.T) {
	start := time.Now()
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{}}
	for _, p := range []string{"a", "b", "c"} {
		l.echo[p] = testenv.StartEcho(t, p)
	}
	ports := testenv.FreePorts(t, 2)
	l.port = ports[0]
	port2 := ports[1]
	l.write("gateway.yaml", gatewayYAML(l.port))
	l.write("app.yaml", l.serviceYAML("app", "a"))
	l.write("other.yaml", l.serviceYAML("other", "c"))
	stable := routeYAML("stable", "stable.example", stableRoute)
	l.write("stable.yaml", stable)
	l.start(context.Background())

	eventually(t, "the stable route serves", 15*time.Second, wantPod(l.port, "stable.example", "/", "a"))
	a := l.applier()
	pid := a.PID()
	base := snapshot(a)
	t.Logf("first configuration serving after %s: nghttpx pid %d, %s", time.Since(start).Round(time.Millisecond), pid, base)

	load := testenv.StartLoad(t, testenv.Target{URL: fmt.Sprintf("http://127.0.0.1:%d/load", l.port), Host: "stable.example"}, 4)
	const settle = 10 * time.Second // bound for one edit to show

	// step runs one edit and checks that it took effect through the data plane
	// without a reload, and which of the no-reload mechanisms it used.
	step := func(name string, edit func(t *testing.T), check func(t *testing.T), wantPosts, wantRoutes bool) {
		t.Run(name, func(t *testing.T) {
			before := snapshot(a)
			edit(t)
			check(t)
			// The effect can show before the Apply ends (groups are removed after the
			// table stopped using them): wait for it to end.
			eventually(t, "the apply completes", settle, func() error {
				if c := snapshot(a); c.applies == before.applies {
					return fmt.Errorf("%s", c)
				}
				return nil
			})
			after := snapshot(a)
			t.Logf("%s -> %s", before, after)
			if after.reloads != 0 {
				t.Errorf("nghttpx reloaded %d times", after.reloads)
			}
			if after.applies != before.applies+1 {
				t.Errorf("applies %d -> %d, want one for one edit", before.applies, after.applies)
			}
			if wantPosts != (after.posts > before.posts) || wantRoutes != (after.routeWrites > before.routeWrites) {
				t.Errorf("backend posts %d -> %d (want change: %v), route writes %d -> %d (want change: %v)",
					before.posts, after.posts, wantPosts, before.routeWrites, after.routeWrites, wantRoutes)
			}
			if a.PID() != pid {
				t.Errorf("nghttpx pid %d, was %d", a.PID(), pid)
			}
		})
	}

	step("add a route", func(t *testing.T) {
		if err := wantStatus(l.port, "extra.example", "/", http.StatusNotFound)(); err != nil {
			t.Fatalf("before the route exists: %v", err)
		}
		l.write("extra.yaml", routeYAML("extra", "extra.example", `  - backendRefs: [{name: other, port: 80}]
`))
	}, func(t *testing.T) {
		eventually(t, "the new route serves", settle, wantPod(l.port, "extra.example", "/", "c"))
	}, true, true) // "other" was not used yet: its group is posted first

	step("change a route: header match, path, weights", func(t *testing.T) {
		l.write("extra.yaml", routeYAML("extra", "extra.example", `  - matches: [{headers: [{name: x-variant, value: two}]}]
    backendRefs: [{name: app, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /only-c}}]
    backendRefs: [{name: other, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: app, port: 80, weight: 1}, {name: other, port: 80, weight: 1}]
`))
	}, func(t *testing.T) {
		eventually(t, "the header match selects app", settle, wantPod(l.port, "extra.example", "/", "a", "x-variant", "two"))
		for _, check := range []func() error{
			wantStatus(l.port, "extra.example", "/", http.StatusNotFound), // no rule without the header
			wantPod(l.port, "extra.example", "/only-c/x", "c"),
			// The longer path wins over the header match (Gateway API precedence).
			wantPod(l.port, "extra.example", "/only-c", "c", "x-variant", "two"),
		} {
			if err := check(); err != nil {
				t.Error(err)
			}
		}
		seen, err := podsOf(l.port, "extra.example", "/split", 20)
		if err != nil || seen["a"] < 5 || seen["c"] < 5 {
			t.Errorf("/split with weights 1:1 answered by %v (%v), want both about equally", seen, err)
		}
	}, false, true)

	step("change weights", func(t *testing.T) {
		l.write("extra.yaml", routeYAML("extra", "extra.example", `  - matches: [{path: {type: PathPrefix, value: /split}}]
    backendRefs: [{name: app, port: 80, weight: 0}, {name: other, port: 80, weight: 3}]
`))
	}, func(t *testing.T) {
		eventually(t, "weight 0 drops app from /split", settle, func() error {
			if err := wantStatus(l.port, "extra.example", "/only-c", http.StatusNotFound)(); err != nil {
				return err // the old table is still in use
			}
			seen, err := podsOf(l.port, "extra.example", "/split", 10)
			if err != nil || seen["c"] != 10 {
				return fmt.Errorf("/split answered by %v (%v), want only c", seen, err)
			}
			return nil
		})
	}, false, true)

	step("remove a route", func(t *testing.T) {
		l.remove("extra.yaml")
	}, func(t *testing.T) {
		eventually(t, "the removed route answers 404", settle, wantStatus(l.port, "extra.example", "/split", http.StatusNotFound))
	}, true, true) // the group of "other" goes too, after the table stopped using it

	step("add an endpoint", func(t *testing.T) {
		l.write("app.yaml", l.serviceYAML("app", "a", "b"))
	}, func(t *testing.T) {
		eventually(t, "the new endpoint takes traffic", settle, func() error {
			seen, err := podsOf(l.port, "stable.example", "/", 10)
			if err != nil || seen["a"] == 0 || seen["b"] == 0 {
				return fmt.Errorf("answered by %v (%v), want a and b", seen, err)
			}
			return nil
		})
	}, true, false)

	step("remove an endpoint", func(t *testing.T) {
		l.write("app.yaml", l.serviceYAML("app", "b"))
	}, func(t *testing.T) {
		eventually(t, "only the remaining endpoint answers", settle, func() error {
			seen, err := podsOf(l.port, "stable.example", "/", 10)
			if err != nil || seen["b"] != 10 {
				return fmt.Errorf("answered by %v (%v), want only b", seen, err)
			}
			return nil
		})
	}, true, false)

	if got := load.Failures.Load(); got != 0 {
		t.Errorf("the load loop saw %d failed requests during changes without reload", got)
	}
	if pods := load.Pods(); pods["a"] == 0 || pods["b"] == 0 {
		t.Errorf("the load loop was answered by %v, want a and then b", pods)
	}
	noReload := snapshot(a)
	t.Logf("changes without reload: %s; load so far: %d requests, %d failures", noReload, load.Requests.Load(), load.Failures.Load())

	t.Run("add a listener: one reload", func(t *testing.T) {
		if _, err := pod(port2, "stable.example", "/"); err == nil {
			t.Fatalf("port %d serves before its listener exists", port2)
		}
		l.write("gateway.yaml", gatewayYAML(l.port, port2))
		eventually(t, "the new listener serves", settle, wantPod(port2, "stable.example", "/", "b"))
		eventually(t, "the reload is confirmed", settle, func() error {
			if rev := a.ConfigRevision(); rev == 0 {
				return errors.New("configrevision still 0")
			}
			return nil
		})
		time.Sleep(300 * time.Millisecond) // several polls: nothing else may follow
		if c := snapshot(a); c.reloads != 1 {
			t.Errorf("%s, want exactly 1 reload", c)
		}
		if a.PID() != pid {
			t.Errorf("nghttpx pid %d, was %d: a reload keeps the main process", a.PID(), pid)
		}
		if err := wantPod(l.port, "stable.example", "/", "b")(); err != nil {
			t.Errorf("the first listener: %v", err)
		}
	})

	t.Run("a YAML syntax error is reported and the old configuration serves", func(t *testing.T) {
		before := snapshot(a)
		l.write("stable.yaml", stable+"---\nkind: HTTPRoute\nmetadata: {name: broken\n")
		eventually(t, "the error is logged", settle, func() error {
			if log := l.log.String(); !strings.Contains(log, "cannot decode objects") || !strings.Contains(log, "stable.yaml") {
				return errors.New("no decode error naming stable.yaml in the runner log")
			}
			return nil
		})
		time.Sleep(200 * time.Millisecond) // several polls with the broken file
		if err := wantPod(l.port, "stable.example", "/", "b")(); err != nil {
			t.Error(err)
		}
		if c := snapshot(a); c != before {
			t.Errorf("the data plane changed: %s -> %s", before, c)
		}
		l.write("stable.yaml", stable)
	})

	res := load.Stop()
	t.Logf("load loop: %s", res)
	if res.Failures != 0 {
		t.Errorf("the load loop saw %d failed requests: %q", res.Failures, res.Errors)
	}

	t.Run("deleting the Gateway stops its nghttpx", func(t *testing.T) {
		l.write("gateway.yaml", gatewayYAML())
		eventually(t, "nghttpx stops", 15*time.Second, func() error {
			if p := a.PID(); p != 0 {
				return fmt.Errorf("pid %d still running", p)
			}
			if members, err := proc.GroupMembers(pid); err != nil || len(members) != 0 {
				return fmt.Errorf("processes of nghttpx left: %v %v", members, err)
			}
			return nil
		})
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", l.port), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections", l.port)
		}
		// The runner prints status after it stopped the data plane.
		eventually(t, "the status output reports the Gateway removed", settle, func() error {
			if !strings.Contains(l.out.String(), "Gateway default/gw: removed") {
				return errors.New("not yet")
			}
			return nil
		})
	})

	final := snapshot(a)
	t.Logf("counters: %s, restarts %d, apply errors %d; took %s", final, a.Stats().Restarts.Load(),
		a.Stats().ApplyErrors.Load(), time.Since(start).Round(time.Millisecond))
}
