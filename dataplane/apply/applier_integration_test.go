//go:build integration

package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// routerScript is a minimal stand-in for the renderer's router: it reloads a
// path -> path table from routes.rb whenever routes.version changes and rewrites
// the request path, so nghttpx's own pattern matching picks the group.
const routerScript = `class Router
  def initialize(dir)
    @dir = dir
    @version = nil
    @routes = {}
  end
  def on_req(env)
    v = File.read(@dir + "/routes.version")
    if v != @version
      @routes = eval(File.read(@dir + "/routes.rb"))
      @version = v
    end
    t = @routes[env.req.path]
    env.req.path = t if t
  end
end
Router.new(%q(STATEDIR))
`

type world struct {
	dir                  string
	port, apiPort, port2 int
	closed               int            // a port nobody listens on: the catch-all answers 502
	echo                 map[string]int // pod -> port
}

func (w *world) main(extra ...string) []byte {
	lines := []string{
		fmt.Sprintf("frontend=127.0.0.1,%d;no-tls", w.port),
		fmt.Sprintf("frontend=127.0.0.1,%d;api;no-tls", w.apiPort),
		"workers=1",
		"mruby-file=" + filepath.Join(w.dir, "router.rb"),
		"include=" + filepath.Join(w.dir, render.BackendFile),
		"worker-process-grace-shutdown-period=2s",
		"backend-connect-timeout=1s",
		"no-ocsp=yes",
	}
	return []byte(strings.Join(append(lines, extra...), "\n") + "\n")
}

func (w *world) group(key, pod string) render.BackendGroup {
	return render.BackendGroup{Key: key, Lines: []string{fmt.Sprintf("backend=127.0.0.1,%d;/__%s/;proto=http/1.1", w.echo[pod], key)}}
}

// config routes /m to the group target; groups are added after the catch-all.
func (w *world) config(target string, groups ...render.BackendGroup) render.Config {
	all := append([]render.BackendGroup{{Key: "catchall", Lines: []string{fmt.Sprintf("backend=127.0.0.1,%d;/", w.closed)}}}, groups...)
	return render.Config{
		Main:       w.main(),
		Backends:   all,
		RouteTable: []byte(fmt.Sprintf("{%q => %q}\n", "/m", "/__"+target+"/m")),
		Files:      map[string][]byte{"router.rb": []byte(strings.Replace(routerScript, "STATEDIR", w.dir, 1))},
	}
}

func newWorld(t *testing.T) *world {
	ports := testenv.FreePorts(t, 4)
	w := &world{dir: t.TempDir(), port: ports[0], apiPort: ports[1], port2: ports[2], closed: ports[3], echo: map[string]int{}}
	for _, pod := range []string{"a", "b", "c"} {
		w.echo[pod] = testenv.StartEcho(t, pod).HTTPPort
	}
	return w
}

func (w *world) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", w.port, path) }

func wantPod(t *testing.T, url, pod string) {
	t.Helper()
	e, err := testenv.GetEcho(url)
	if err != nil {
		t.Fatal(err)
	}
	if e.Pod != pod {
		t.Fatalf("GET %s answered by pod %q, want %q", url, e.Pod, pod)
	}
}

func timed(t *testing.T, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	err := f()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return took
}

func TestApplierLifecycle(t *testing.T) {
	w := newWorld(t)
	a, err := New(Options{Binary: testenv.NghttpxBin(t), StateDir: w.dir, Log: testr.New(t),
		StopGrace: 3 * time.Second, ReloadTimeout: 5 * time.Second, Retry: Backoff{Attempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { a.Stop(ctx) })
	cert, err := selfsigned.New()
	if err != nil {
		t.Fatal(err)
	}
	st := a.Stats()

	took := timed(t, "Start", func() error { return a.Start(ctx, w.config("stable", w.group("stable", "a"))) })
	t.Logf("start to API ready: %s", took)
	pid := a.PID()
	if pid == 0 || a.ConfigRevision() != 0 {
		t.Fatalf("after Start: pid %d revision %d", pid, a.ConfigRevision())
	}
	wantPod(t, w.url("/m"), "a")

	load := testenv.StartLoad(t, testenv.Target{URL: w.url("/m")}, 2)
	loadStopped := false
	stopLoad := func() {
		if loadStopped {
			return
		}
		loadStopped = true
		res := load.Stop()
		t.Logf("load: %s", res)
		if res.Failures != 0 {
			t.Errorf("load saw %d failures: %q", res.Failures, res.Errors)
		}
	}
	defer stopLoad()
	time.Sleep(200 * time.Millisecond)

	t.Run("add a group and route to it without reload", func(t *testing.T) {
		cfg := w.config("g2", w.group("stable", "a"), w.group("g2", "b"))
		took := timed(t, "Apply", func() error { return a.Apply(ctx, cfg) })
		wantPod(t, w.url("/m"), "b")
		t.Logf("apply (1 backend post + route table): %s, post %s", took, time.Duration(st.LastBackendPostNanos.Load()))
		if st.Reloads.Load() != 0 || st.BackendPosts.Load() != 1 || st.RouteWrites.Load() != 1 {
			t.Errorf("reloads %d posts %d route writes %d, want 0 1 1", st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load())
		}
		time.Sleep(200 * time.Millisecond)
	})
	t.Run("change endpoints without reload", func(t *testing.T) {
		cfg := w.config("g2", w.group("stable", "a"), w.group("g2", "c"))
		took := timed(t, "Apply", func() error { return a.Apply(ctx, cfg) })
		wantPod(t, w.url("/m"), "c")
		t.Logf("apply (endpoints): %s", took)
		if st.Reloads.Load() != 0 || st.BackendPosts.Load() != 2 || st.RouteWrites.Load() != 1 {
			t.Errorf("reloads %d posts %d route writes %d, want 0 2 1", st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load())
		}
		time.Sleep(200 * time.Millisecond)
	})
	t.Run("route away and remove the group without reload", func(t *testing.T) {
		cfg := w.config("stable", w.group("stable", "a"))
		took := timed(t, "Apply", func() error { return a.Apply(ctx, cfg) })
		wantPod(t, w.url("/m"), "a")
		t.Logf("apply (route table + removal): %s", took)
		if st.Reloads.Load() != 0 || st.BackendPosts.Load() != 3 || st.RouteWrites.Load() != 2 {
			t.Errorf("reloads %d posts %d route writes %d, want 0 3 2", st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load())
		}
		b, _ := os.ReadFile(filepath.Join(w.dir, render.BackendFile))
		if string(b) != string(render.BackendConf(cfg.Backends)) {
			t.Errorf("backends.conf %q, want what the API accepted %q", b, render.BackendConf(cfg.Backends))
		}
		// The removed group is gone from the running workers.
		if status, _, _ := testenv.Get(w.url("/__g2/x")); status != 502 {
			t.Errorf("removed group still answers: status %d, want 502 from the catch-all", status)
		}
		time.Sleep(200 * time.Millisecond)
	})
	if a.PID() != pid {
		t.Errorf("nghttpx pid changed from %d to %d without a reload", pid, a.PID())
	}

	t.Run("main change reloads once", func(t *testing.T) {
		cfg := w.config("stable", w.group("stable", "a"))
		cfg.Main = w.main(fmt.Sprintf("frontend=127.0.0.1,%d;no-tls", w.port2))
		timed(t, "Apply", func() error { return a.Apply(ctx, cfg) })
		t.Logf("SIGHUP to new configrevision: %s", time.Duration(st.LastReloadNanos.Load()))
		if st.Reloads.Load() != 1 || a.ConfigRevision() != 1 {
			t.Errorf("reloads %d revision %d, want 1 1", st.Reloads.Load(), a.ConfigRevision())
		}
		wantPod(t, fmt.Sprintf("http://127.0.0.1:%d/m", w.port2), "a")
		time.Sleep(300 * time.Millisecond)
	})
	t.Run("main change with a new group routed to reloads once", func(t *testing.T) {
		cfg := w.config("g3", w.group("stable", "a"), w.group("g3", "b"))
		cfg.Main = w.main(fmt.Sprintf("frontend=127.0.0.1,%d;no-tls", w.port2), "backend-read-timeout=30s")
		posts, routes := st.BackendPosts.Load(), st.RouteWrites.Load()
		timed(t, "Apply", func() error { return a.Apply(ctx, cfg) })
		if st.Reloads.Load() != 2 || a.ConfigRevision() != 2 || st.BackendPosts.Load() != posts+1 || st.RouteWrites.Load() != routes+1 {
			t.Errorf("reloads %d revision %d posts +%d route writes +%d, want 2 2 +1 +1", st.Reloads.Load(), a.ConfigRevision(),
				st.BackendPosts.Load()-posts, st.RouteWrites.Load()-routes)
		}
		wantPod(t, w.url("/m"), "b")
		time.Sleep(300 * time.Millisecond)
	})
	good := w.config("g3", w.group("stable", "a"), w.group("g3", "b"))
	good.Main = w.main(fmt.Sprintf("frontend=127.0.0.1,%d;no-tls", w.port2), "backend-read-timeout=30s")

	t.Run("broken main is rejected and the old config keeps serving", func(t *testing.T) {
		bad := good
		bad.Main = append(append([]byte(nil), good.Main...), "frontend=bad\n"...)
		start := time.Now()
		err := a.Apply(ctx, bad)
		t.Logf("rejection reported after %s: %v", time.Since(start), err)
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "Invalid host") {
			t.Fatalf("err %v, want ErrRejected naming the bad frontend", err)
		}
		if a.ConfigRevision() != 2 {
			t.Errorf("revision %d, want 2", a.ConfigRevision())
		}
		onDisk, _ := os.ReadFile(filepath.Join(w.dir, render.MainFile))
		if string(onDisk) != string(good.Main) {
			t.Errorf("nghttpx.conf on disk is not the last good config:\n%s", onDisk)
		}
		wantPod(t, fmt.Sprintf("http://127.0.0.1:%d/m", w.port2), "b")
	})
	t.Run("broken router script is rejected and restored on disk", func(t *testing.T) {
		bad := good
		bad.Files = map[string][]byte{"router.rb": []byte("class Router\n  def on_req(env\nend\n")}
		err := a.Apply(ctx, bad)
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "mruby") {
			t.Fatalf("err %v, want ErrRejected about mruby", err)
		}
		onDisk, _ := os.ReadFile(filepath.Join(w.dir, "router.rb"))
		if string(onDisk) != string(good.Files["router.rb"]) {
			t.Errorf("router.rb on disk is not the last good one:\n%s", onDisk)
		}
		wantPod(t, w.url("/m"), "b")
	})
	t.Run("broken main with a new group rolls the backends back", func(t *testing.T) {
		bad := w.config("g4", w.group("stable", "a"), w.group("g3", "b"), w.group("g4", "c"))
		bad.Main = append(append([]byte(nil), good.Main...), "frontend=bad\n"...)
		if err := a.Apply(ctx, bad); !errors.Is(err, ErrRejected) {
			t.Fatalf("err %v, want ErrRejected", err)
		}
		b, _ := os.ReadFile(filepath.Join(w.dir, render.BackendFile))
		if string(b) != string(render.BackendConf(good.Backends)) {
			t.Errorf("backends.conf %q, want the last good set", b)
		}
		r, _ := os.ReadFile(filepath.Join(w.dir, render.RouteTableFile))
		if string(r) != string(good.RouteTable) {
			t.Errorf("routes.rb %q, want the last good table", r)
		}
		wantPod(t, w.url("/m"), "b")
		if status, _, _ := testenv.Get(w.url("/__g4/x")); status != 502 {
			t.Errorf("group of the rejected config still installed: status %d, want 502", status)
		}
	})
	t.Run("bad backend line is rejected by the API without reload", func(t *testing.T) {
		bad := w.config("g3", w.group("stable", "a"), w.group("g3", "b"), render.BackendGroup{Key: "bad", Lines: []string{"backend=127.0.0.1,1;/__bad/;bogus-param"}})
		bad.Main = good.Main
		reloads := st.Reloads.Load()
		err := a.Apply(ctx, bad)
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "bogus-param: unknown keyword") {
			t.Fatalf("err %v, want ErrRejected with nghttpx's reason", err)
		}
		if st.Reloads.Load() != reloads {
			t.Error("a backend-only change reloaded")
		}
		b, _ := os.ReadFile(filepath.Join(w.dir, render.BackendFile))
		if string(b) != string(render.BackendConf(good.Backends)) {
			t.Errorf("backends.conf %q, want the last accepted set", b)
		}
		wantPod(t, w.url("/m"), "b")
	})
	stopLoad()

	t.Run("config whose new worker dies on reload: rejected, the old worker keeps serving", func(t *testing.T) {
		// The eBPF "program" is not an ELF file: the new worker dies at start-up. Our nghttpx
		// build (r4 patch) retires the old worker only once the new one is ready, so the
		// old one keeps serving: no restart, same process.
		bad := good
		bad.Files = map[string][]byte{"router.rb": good.Files["router.rb"], "q.crt": cert.CertPEM, "q.key": cert.KeyPEM}
		bad.Main = w.main(fmt.Sprintf("frontend=127.0.0.1,%d;no-tls", w.port2), "backend-read-timeout=30s",
			fmt.Sprintf("frontend=127.0.0.1,%d;quic", w.port2), "private-key-file=q.key", "certificate-file=q.crt",
			"quic-bpf-program-file="+filepath.Join(w.dir, "router.rb"))
		restarts, pid := st.Restarts.Load(), a.PID()
		err := a.Apply(ctx, bad)
		t.Logf("rejection: %v", err)
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "bpf") {
			t.Fatalf("err %v, want ErrRejected about bpf", err)
		}
		onDisk, _ := os.ReadFile(filepath.Join(w.dir, render.MainFile))
		if string(onDisk) != string(good.Main) {
			t.Errorf("nghttpx.conf on disk is not the last good config:\n%s", onDisk)
		}
		for _, f := range []string{"q.crt", "q.key"} {
			if _, err := os.Stat(filepath.Join(w.dir, f)); !os.IsNotExist(err) {
				t.Errorf("%s of the rejected config left behind: %v", f, err)
			}
		}
		wantPod(t, fmt.Sprintf("http://127.0.0.1:%d/m", w.port2), "b")
		if got := st.Restarts.Load(); got != restarts || a.PID() != pid {
			t.Errorf("restarts %d -> %d, pid %d -> %d: want the old process serving on", restarts, got, pid, a.PID())
		}
	})

	t.Run("killed nghttpx is restarted with the last good config", func(t *testing.T) {
		old := a.PID()
		restarts := st.Restarts.Load()
		start := time.Now()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var back time.Duration
		for {
			if st.Restarts.Load() > restarts && a.PID() != 0 && a.PID() != old {
				if _, err := testenv.GetEcho(w.url("/m")); err == nil {
					back = time.Since(start)
					break
				}
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("no restart within 10s (restarts %d, pid %d)", st.Restarts.Load(), a.PID())
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("SIGKILL to traffic back: %s", back)
		if pids, _ := proc.GroupMembers(old); len(pids) != 0 {
			t.Errorf("processes of the killed nghttpx survive: %v", pids)
		}
		wantPod(t, fmt.Sprintf("http://127.0.0.1:%d/m", w.port2), "b") // the reloaded main config
		// Applies keep working against the new process.
		if err := a.Apply(ctx, func() render.Config {
			c := w.config("g2", w.group("stable", "a"), w.group("g2", "b"))
			c.Main = good.Main
			return c
		}()); err != nil {
			t.Fatal(err)
		}
		wantPod(t, w.url("/m"), "b")
	})

	t.Run("stop ends the process group", func(t *testing.T) {
		p := a.PID()
		took := timed(t, "Stop", func() error { return a.Stop(ctx) })
		t.Logf("graceful stop: %s", took)
		if pids, _ := proc.GroupMembers(p); len(pids) != 0 {
			t.Errorf("processes survive Stop: %v", pids)
		}
		if _, _, err := testenv.Get(w.url("/m")); err == nil {
			t.Error("frontend still answers after Stop")
		}
		if err := a.Apply(ctx, good); !errors.Is(err, ErrStopped) {
			t.Errorf("Apply after Stop: %v, want ErrStopped", err)
		}
	})
	if t.Failed() {
		return
	}
	t.Logf("stats: reloads %d, posts %d, route writes %d, restarts %d, applies %d, apply errors %d",
		st.Reloads.Load(), st.BackendPosts.Load(), st.RouteWrites.Load(), st.Restarts.Load(), st.Applies.Load(), st.ApplyErrors.Load())
}
