//go:build integration

package mirror

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// The live test runs RequestMirror through a real nghttpx and the tee: echo-basic
// is the primary backend (its answer reaches the client), recorder servers are
// mirror backends (they keep what they receive), and a second echo-basic is a
// mirror too, to see the log line the conformance suite looks for.

// recorder is a mirror backend that records every request.
type recorder struct {
	mu  sync.Mutex
	got []recorded
}

type recorded struct {
	method, uri, host, body string
	header                  http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, recorded{req.Method, req.RequestURI, req.Host, string(b), req.Header.Clone()})
	r.mu.Unlock()
	io.WriteString(w, "mirror answer, ignored")
}

// count is how many requests with URI uri arrived.
func (r *recorder) count(uri string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.got {
		if g.uri == uri {
			n++
		}
	}
	return n
}

func (r *recorder) find(uri string) (recorded, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.got {
		if g.uri == uri {
			return g, true
		}
	}
	return recorded{}, false
}

func startRecorder(t *testing.T) (*recorder, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := &http.Server{Handler: rec}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rec, ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, dir, name string, body []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLiveMirror(t *testing.T) {
	web := testenv.StartEcho(t, "web")
	shadowEcho := testenv.StartEcho(t, "shadow-echo")
	recA, portA := startRecorder(t)
	recB, portB := startRecorder(t)
	ports := testenv.FreePorts(t, 3) // gateway, API, internal frontend
	teeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tee, err := New(Options{Internal: "127.0.0.1:" + strconv.Itoa(ports[2]), MaxBody: 4096})
	if err != nil {
		t.Fatal(err)
	}
	teeCtx, stopTee := context.WithCancel(context.Background())
	teeDone := make(chan error, 1)
	go func() { teeDone <- tee.Serve(teeCtx, teeLn) }()
	t.Cleanup(stopTee)

	mirror := func(cluster string, num, den int32) model.Mirror {
		return model.Mirror{Cluster: cluster, Numerator: num, Denominator: den}
	}
	webRef := []model.WeightedBackend{{Weight: 1, Cluster: "web"}}
	prefix := func(p string) model.Match {
		return model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: p}}
	}
	rules := []model.Rule{
		{Name: "all", Match: prefix("/all"), Backends: webRef,
			RequestHeaders: &model.HeaderModifier{Set: []model.NameValue{{Name: "x-set", Value: "set-value"}}, Remove: []string{"x-remove"}},
			Mirrors:        []model.Mirror{mirror("a", 1, 1), mirror("b", 1, 1), mirror("echo", 1, 1)}},
		{Name: "rewrite", Match: prefix("/rw"), Backends: webRef,
			Rewrite: &model.Rewrite{Hostname: new("rewritten.example.org"), Path: &model.PathModifier{Type: model.ReplacePrefixMatch, Value: "/new"}},
			Mirrors: []model.Mirror{mirror("a", 1, 1)}},
		{Name: "half", Match: prefix("/half"), Backends: webRef, Mirrors: []model.Mirror{mirror("a", 50, 100)}},
		{Name: "fifth", Match: prefix("/fifth"), Backends: webRef, Mirrors: []model.Mirror{mirror("a", 1, 5)}},
		{Name: "never", Match: prefix("/never"), Backends: webRef, Mirrors: []model.Mirror{mirror("a", 0, 100)}},
		{Name: "plain", Match: prefix("/"), Backends: webRef},
	}
	ep := func(port int) []model.Endpoint { return []model.Endpoint{{IP: "127.0.0.1", Port: int32(port)}} }
	gw := &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(ports[0]), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
			{VirtualHosts: []model.VirtualHost{{Rules: rules}}},
		}}},
		Clusters: []model.Cluster{
			{Name: "a", Protocol: model.BackendHTTP1, Endpoints: ep(portA)},
			{Name: "b", Protocol: model.BackendHTTP1, Endpoints: ep(portB)},
			{Name: "echo", Protocol: model.BackendHTTP1, Endpoints: ep(shadowEcho.HTTPPort)},
			{Name: "web", Protocol: model.BackendHTTP1, Endpoints: ep(web.HTTPPort)},
		},
	}
	dir := t.TempDir()
	cfg, err := render.Render(gw, render.Options{StateDir: dir, APIPort: ports[1], Workers: 1, GracePeriod: time.Second,
		MirrorTeePort: teeLn.Addr().(*net.TCPAddr).Port, MirrorInternalPort: ports[2]})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range cfg.Files {
		writeFile(t, dir, name, body)
	}
	writeFile(t, dir, render.BackendFile, render.BackendConf(cfg.Backends))
	if err := os.MkdirAll(filepath.Join(dir, render.RouteShardDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range cfg.RouteShards {
		if err := os.WriteFile(filepath.Join(dir, render.RouteShardFile(name)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, render.RouteTableFile, cfg.RouteTable)
	writeFile(t, dir, render.RouteVersionFile, cfg.RouteVersion())
	writeFile(t, dir, render.MainFile, cfg.Main)
	ngx := testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), ports[0], ports[1], ports[2])
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	testenv.WaitHTTP(t, ngx.Process, base+"/plain", 10*time.Second)

	t.Run("primary answers, every mirror gets a copy, no internal header leaks", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, base+"/all/x?id=1", nil)
		req.Host = "app.example.com"
		req.Header.Set("X-Remove", "gone")
		req.Header.Set("X-Ngxgw-Target", "svc-evil")
		req.Header.Set("X-Ngxgw-Path", "/evil")
		req.Header.Set("X-Ngxgw-Mirror-Keys", "a")
		got, err := testenv.DoEcho(req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Pod != "web" || got.Path != "/all/x?id=1" || got.Host != "app.example.com" {
			t.Fatalf("primary answer: pod %q path %q host %q", got.Pod, got.Path, got.Host)
		}
		checkHeaders(t, "primary", http.Header(got.Headers))
		// The second pass through nghttpx appends the tee's address (a known limit).
		t.Logf("X-Forwarded-For at the primary: %q", got.Headers["X-Forwarded-For"])
		for name, rec := range map[string]*recorder{"a": recA, "b": recB} {
			eventually(t, "the copy at "+name, func() bool { return rec.count("/all/x?id=1") == 1 })
			c, _ := rec.find("/all/x?id=1")
			if c.method != "GET" || c.host != "app.example.com" {
				t.Errorf("copy at %s: %s Host %s", name, c.method, c.host)
			}
			checkHeaders(t, "copy at "+name, c.header)
		}
		eventually(t, "echo-basic's log line of the copy", func() bool {
			return strings.Contains(shadowEcho.Logs(), "Echoing back request made to /all/x?id=1 to client")
		})
		if strings.Contains(web.Logs(), "/evil") {
			t.Error("the client's x-ngxgw-path reached the primary")
		}
	})

	t.Run("request body is mirrored", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/all/post", strings.NewReader("payload-123"))
		if _, err := testenv.DoEcho(req); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the POST copy", func() bool { return recA.count("/all/post") == 1 })
		c, _ := recA.find("/all/post")
		if c.method != "POST" || c.body != "payload-123" {
			t.Fatalf("copy: %s body %q", c.method, c.body)
		}
	})

	t.Run("body over the cap reaches the primary only", func(t *testing.T) {
		before := tee.Stats().TooLarge.Load()
		big := strings.Repeat("z", 10000)
		req, _ := http.NewRequest(http.MethodPost, base+"/all/big", strings.NewReader(big))
		if _, err := testenv.DoEcho(req); err != nil {
			t.Fatal(err)
		}
		if n := tee.Stats().TooLarge.Load() - before; n != 1 {
			t.Fatalf("TooLarge grew by %d, want 1", n)
		}
		time.Sleep(200 * time.Millisecond)
		if n := recA.count("/all/big"); n != 0 {
			t.Fatalf("%d copies of an over-cap body", n)
		}
	})

	t.Run("rewrite applies to the primary and the copies", func(t *testing.T) {
		got, err := testenv.GetEcho(base + "/rw/tail")
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != "/new/tail" || got.Host != "rewritten.example.org" {
			t.Fatalf("primary: path %q host %q", got.Path, got.Host)
		}
		eventually(t, "the rewritten copy", func() bool { return recA.count("/new/tail") == 1 })
		if c, _ := recA.find("/new/tail"); c.host != "rewritten.example.org" {
			t.Fatalf("copy host %q", c.host)
		}
	})

	t.Run("shares", func(t *testing.T) {
		const n = 200
		for _, c := range []struct {
			path      string
			min, max  int
			wantExact int
		}{
			{"/half", 100, 100, 100},
			{"/fifth", 40, 40, 40},
			{"/never", 0, 0, 0},
			{"/all/share", n, n, n},
		} {
			start := time.Now()
			for i := range n {
				if _, err := testenv.GetEcho(fmt.Sprintf("%s?i=%d", base+c.path, i)); err != nil {
					t.Fatal(err)
				}
			}
			perRequest := time.Since(start) / n
			tee.Wait()
			time.Sleep(100 * time.Millisecond)
			got := 0
			recA.mu.Lock()
			for _, g := range recA.got {
				if strings.HasPrefix(g.uri, c.path+"?i=") {
					got++
				}
			}
			recA.mu.Unlock()
			t.Logf("%s: %d of %d requests mirrored; %s per request (new connection each)", c.path, got, n, perRequest)
			if got != c.wantExact {
				t.Errorf("%s: %d copies, want %d", c.path, got, c.wantExact)
			}
		}
	})

	t.Run("tee down: mirrored rules fail, others are served", func(t *testing.T) {
		stopTee()
		if err := <-teeDone; err != nil {
			t.Fatal(err)
		}
		status, _, err := testenv.Get(base + "/all/down")
		if err != nil {
			t.Fatal(err)
		}
		if status < 500 {
			t.Fatalf("mirrored rule with the tee down: status %d, want 5xx", status)
		}
		t.Logf("mirrored rule with the tee down answers %d", status)
		if got, err := testenv.GetEcho(base + "/never/still"); err != nil || got.Pod != "web" {
			t.Fatalf("rule without sampled mirrors: %v %+v", err, got)
		}
		if got, err := testenv.GetEcho(base + "/plain"); err != nil || got.Pod != "web" {
			t.Fatalf("plain rule: %v %+v", err, got)
		}
	})
}

// checkHeaders: the route's modifiers applied, no internal header.
func checkHeaders(t *testing.T, who string, h http.Header) {
	t.Helper()
	if v := h.Get("X-Set"); v != "set-value" {
		t.Errorf("%s: X-Set = %q", who, v)
	}
	if v, ok := h["X-Remove"]; ok {
		t.Errorf("%s: X-Remove not removed: %q", who, v)
	}
	if v := h.Get("X-Forwarded-Proto"); v != "http" {
		t.Errorf("%s: X-Forwarded-Proto = %q", who, v)
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-ngxgw-") {
			t.Errorf("%s: internal header %s leaked: %q", who, k, h[k])
		}
	}
}
