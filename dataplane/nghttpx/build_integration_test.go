//go:build integration

package nghttpx_test

// Acceptance tests of the nghttpx build (hack/build-nghttpx.sh): each runs the real
// binary from NGHTTPX_BIN against echo servers from ECHO_BIN on 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// startNghttpx writes conf to dir/nghttpx.conf, runs nghttpx on it and waits until
// readyURL answers (the worker serves, not only the main process's listeners).
func startNghttpx(t *testing.T, dir, conf, readyURL string) *testenv.Nghttpx {
	t.Helper()
	ngx := testenv.StartNghttpx(t, writeFile(t, dir, "nghttpx.conf", conf))
	testenv.WaitHTTP(t, ngx.Process, readyURL, 10*time.Second)
	return ngx
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPerPatternScriptAnswers: a `;mruby=` script on a backend line answers the
// requests of its pattern itself, and only those.
func TestPerPatternScriptAnswers(t *testing.T) {
	dir := t.TempDir()
	echo := testenv.StartEcho(t, "echo").HTTPPort
	port := testenv.FreePort(t)
	script := writeFile(t, dir, "answer.rb", `class Answer
  def on_req(env)
    env.resp.status = 203
    env.resp.add_header "x-answered-by", "per-pattern"
    env.resp.return "scripted answer for " + env.req.path
  end
end
Answer.new
`)
	startNghttpx(t, dir, fmt.Sprintf(`frontend=127.0.0.1,%d;no-tls
backend=127.0.0.1,%d;/;proto=http/1.1
backend=127.0.0.1,%d;/scripted/;proto=http/1.1;mruby=%s
workers=1
no-ocsp=yes
`, port, echo, echo, script), fmt.Sprintf("http://127.0.0.1:%d/", port))

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/scripted/x?q=1", port))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 203 || resp.Header.Get("x-answered-by") != "per-pattern" || body.String() != "scripted answer for /scripted/x?q=1" {
		t.Errorf("scripted pattern: status %d, x-answered-by %q, body %q", resp.StatusCode, resp.Header.Get("x-answered-by"), body.String())
	}
	e, err := testenv.GetEcho(fmt.Sprintf("http://127.0.0.1:%d/other", port))
	if err != nil {
		t.Fatal(err)
	}
	if e.Path != "/other" {
		t.Errorf("other pattern reached the echo server with path %q, want /other", e.Path)
	}
}

// TestGlobalScriptSteersBackendSelection: a global on_req that rewrites
// env.req.path runs before backend selection, so the rewritten path picks the group.
func TestGlobalScriptSteersBackendSelection(t *testing.T) {
	dir := t.TempDir()
	a, b := testenv.StartEcho(t, "a").HTTPPort, testenv.StartEcho(t, "b").HTTPPort
	port := testenv.FreePort(t)
	script := writeFile(t, dir, "steer.rb", `class Steer
  def on_req(env)
    p = env.req.path
    if p[0, 6] == "/to-b/"
      env.req.path = "/b/" + p[6, p.length]
    end
  end
end
Steer.new
`)
	startNghttpx(t, dir, fmt.Sprintf(`frontend=127.0.0.1,%d;no-tls
mruby-file=%s
backend=127.0.0.1,%d;/;proto=http/1.1
backend=127.0.0.1,%d;/a/;proto=http/1.1
backend=127.0.0.1,%d;/b/;proto=http/1.1
workers=1
no-ocsp=yes
`, port, script, a, a, b), fmt.Sprintf("http://127.0.0.1:%d/", port))

	for path, want := range map[string]testenv.EchoResponse{
		"/to-b/x": {Pod: "b", Path: "/b/x"},
		"/a/x":    {Pod: "a", Path: "/a/x"},
		"/b/y":    {Pod: "b", Path: "/b/y"},
		"/to-c/x": {Pod: "a", Path: "/to-c/x"}, // not rewritten: catch-all
	} {
		e, err := testenv.GetEcho(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		if e.Pod != want.Pod || e.Path != want.Path {
			t.Errorf("%s: answered by pod %q with path %q, want pod %q path %q", path, e.Pod, e.Path, want.Pod, want.Path)
		}
	}
}

// quicSecret returns frontend-quic-secret-file content: lines of 68 random bytes in
// hex (136 characters); the first 2 bits identify the keying material.
func quicSecret(t *testing.T) string {
	t.Helper()
	var b [68]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:]) + "\n"
}

// h3Config renders a TLS frontend and a QUIC frontend on the same port number.
func h3Config(t *testing.T, dir string, port, echo int, bpf string) string {
	t.Helper()
	cert, key, err := selfsigned.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "quic-secret")
	if err := os.WriteFile(secret, []byte(quicSecret(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`frontend=127.0.0.1,%d
frontend=127.0.0.1,%d;quic
private-key-file=%s
certificate-file=%s
frontend-quic-secret-file=%s
%s
backend=127.0.0.1,%d;/;proto=http/1.1
workers=2
worker-process-grace-shutdown-period=10s
no-ocsp=yes
`, port, port, key, cert, secret, bpf, echo)
}

// bpfLine is the option Detect's verdict renders.
func bpfLine(f features.Features) string {
	if r := f.Render(); r.BPF {
		return "quic-bpf-program-file=" + r.BPFProgramPath
	}
	return "no-quic-bpf=yes"
}

func detect(t *testing.T) features.Features {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := features.Detect(logr.NewContext(ctx, testr.New(t)), testenv.NghttpxBin(t))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func h3URL(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/", port) }

// The reload tests run under both ways QUIC datagrams reach the worker processes:
// the eBPF steering program and plain SO_REUSEPORT hashing (no-quic-bpf). nghttpx
// 1.52 as released refuses new QUIC connections for tens of milliseconds after each
// SIGHUP and serves nothing when the new worker process dies while starting;
// hack/build-nghttpx.sh patches both.

// h3Mode is one QUIC steering configuration: its option line, or why it cannot run.
type h3Mode struct{ name, line, skip string }

// forEachMode runs fn as a subtest per steering mode. The eBPF one is skipped, with
// the detector's reasons, where this process cannot load eBPF programs.
func forEachMode(t *testing.T, fn func(t *testing.T, m h3Mode)) {
	f := detect(t)
	if !f.HTTP3 {
		t.Fatalf("the build lacks HTTP/3: %v", f.Reasons)
	}
	ebpf := h3Mode{name: "ebpf"}
	if r := f.Render(); r.BPF {
		ebpf.line = "quic-bpf-program-file=" + r.BPFProgramPath
	} else {
		ebpf.skip = fmt.Sprintf("eBPF steering unusable here: %v", f.Reasons)
	}
	for _, m := range []h3Mode{ebpf, {name: "no-quic-bpf", line: "no-quic-bpf=yes"}} {
		t.Run(m.name, func(t *testing.T) {
			if m.skip != "" {
				t.Skip(m.skip)
			}
			fn(t, m)
		})
	}
}

// h3Proxy is an nghttpx serving HTTPS and HTTP/3 on one port as the product renders
// it: an API frontend (a dedicated worker thread), a global mruby script, two
// worker threads; "/" goes to the echo server on port echo, "/hang/" to a backend
// that never answers. The access log names the backend port of each request.
type h3Proxy struct {
	*testenv.Nghttpx
	t                         *testing.T
	dir                       string
	port, api, echo, hang     int
	cert, key, secret, script string
	accessLog                 string
	hangAccepted              <-chan struct{}
}

func startH3Proxy(t *testing.T, m h3Mode) *h3Proxy {
	t.Helper()
	dir := t.TempDir()
	cert, key, err := selfsigned.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "quic-secret")
	if err := os.WriteFile(secret, []byte(quicSecret(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &h3Proxy{t: t, dir: dir, cert: cert, key: key, secret: secret,
		script:    writeFile(t, dir, "router.rb", startupScript(2000)),
		accessLog: filepath.Join(dir, "access.log"),
		echo:      testenv.StartEcho(t, "echo").HTTPPort,
		port:      testenv.FreeTCPUDPPort(t),
	}
	p.api = testenv.FreePort(t)
	for p.api == p.port { // picked one after the other, both may be the same
		p.api = testenv.FreePort(t)
	}
	p.hang, p.hangAccepted = hangBackend(t)
	p.Nghttpx = startNghttpx(t, dir, p.config(cert, m.line), h3URL(p.port))
	p.waitRevision(0)
	return p
}

// config renders the configuration with certificate file cert and QUIC steering
// option bpf (both vary in the broken reloads) and the current echo port.
func (p *h3Proxy) config(cert, bpf string) string {
	return fmt.Sprintf(`frontend=127.0.0.1,%[1]d
frontend=127.0.0.1,%[1]d;quic
frontend=127.0.0.1,%[2]d;api;no-tls
private-key-file=%[3]s
certificate-file=%[4]s
frontend-quic-secret-file=%[5]s
%[6]s
mruby-file=%[7]s
backend=127.0.0.1,%[8]d;/;proto=http/1.1
backend=127.0.0.1,%[9]d;/hang/;proto=http/1.1
accesslog-file=%[10]s
accesslog-format=$alpn $path $backend_port $status
workers=2
worker-process-grace-shutdown-period=10s
no-ocsp=yes
`, p.port, p.api, p.key, cert, p.secret, bpf, p.script, p.echo, p.hang, p.accessLog)
}

// reload writes conf and sends SIGHUP.
func (p *h3Proxy) reload(conf string) {
	p.t.Helper()
	writeFile(p.t, p.dir, "nghttpx.conf", conf)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		p.t.Fatal(err)
	}
}

// revision asks the API (on a new connection) for the serving configuration's
// revision: 0 after the start, one more per reload that nghttpx began.
func (p *h3Proxy) revision() (uint64, error) {
	status, body, err := testenv.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1beta1/configrevision", p.api))
	if err != nil {
		return 0, err
	}
	var r struct {
		Data struct {
			ConfigRevision *uint64 `json:"configRevision"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK || r.Data.ConfigRevision == nil {
		return 0, fmt.Errorf("configrevision: status %d, body %q: %v", status, body, err)
	}
	return *r.Data.ConfigRevision, nil
}

// waitRevision waits until the API answers revision want.
func (p *h3Proxy) waitRevision(want uint64) {
	p.t.Helper()
	waitFor(p.t, 10*time.Second, func() bool { r, err := p.revision(); return err == nil && r == want },
		fmt.Sprintf("configrevision %d", want))
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, timeout)
		}
	}
}

// startupScript is a global mruby script whose context takes tens of milliseconds to
// create, as a generated router's does: each worker thread of a new worker process
// creates one, which widens the start-up windows these tests guard.
func startupScript(entries int) string {
	var b strings.Builder
	b.WriteString("class Router\n  def initialize\n    @routes = {}\n")
	for i := range entries {
		fmt.Fprintf(&b, "    @routes[\"route-%d\"] = [\"/path/%d/\", %d]\n", i, i, i)
	}
	b.WriteString("  end\n\n  def on_req(env)\n  end\nend\n\nRouter.new\n")
	return b.String()
}

// hangBackend accepts connections and never answers them until the test ends, so a
// request routed to it keeps its worker process alive; accepted gets a value per
// connection.
func hangBackend(t *testing.T) (port int, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 64)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port, ch
}

// rateRun is an h2load run that opened new connections at a fixed rate, one request
// on each.
type rateRun struct {
	what       string
	res        nghttpx.H2loadResult
	connectMax time.Duration // slowest connection set-up
	out        string
	err        error
}

// startRateLoad runs h2load opening conns connections, perTick every 10 ms, one
// request each, with extra args; the result comes on the channel.
func startRateLoad(ctx context.Context, t *testing.T, what string, conns, perTick int, args ...string) <-chan rateRun {
	t.Helper()
	bin := testenv.H2loadBin(t)
	n := strconv.Itoa(conns)
	args = append([]string{"-r", strconv.Itoa(perTick), "--rate-period=10ms", "-c", n, "-n", n}, args...)
	ch := make(chan rateRun, 1)
	go func() {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		r := rateRun{what: what, out: string(out)}
		var perr error
		if r.res, perr = nghttpx.ParseH2load(r.out); err == nil {
			err = perr
		}
		if err == nil {
			r.connectMax, err = connectMax(r.out)
		}
		if err != nil {
			r.err = fmt.Errorf("h2load %v: %w", args, err)
		}
		ch <- r
	}()
	return ch
}

// connectMax reads the maximum of h2load's "time for connect" line.
func connectMax(out string) (time.Duration, error) {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(line, "time for connect:") {
			return time.ParseDuration(f[4])
		}
	}
	return 0, fmt.Errorf("no time for connect line in h2load output")
}

// startLoads opens new connections continuously for about 1.5 s: 600 over HTTP/3
// and 300 over HTTPS. The HTTPS load speaks HTTP/1.1: h2load gives up the request
// it queued on an HTTP/2 connection whose first frame from the server is a GOAWAY
// (a connection accepted right before the graceful shutdown of its worker
// process), where a real client sends it on a new connection.
func (p *h3Proxy) startLoads(ctx context.Context) (h3, tcp <-chan rateRun) {
	return startRateLoad(ctx, p.t, "HTTP/3 new connections", 600, 4, "--npn-list=h3", h3URL(p.port)),
		startRateLoad(ctx, p.t, "HTTPS (HTTP/1.1) new connections", 300, 2, "--h1", h3URL(p.port))
}

// checkRateRun fails the test unless every connection of r was accepted, every
// request answered, and no connection set-up waited for a retransmission (a dropped
// first QUIC packet costs a 1 s probe timeout).
func checkRateRun(t *testing.T, r rateRun) {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s: %v\n%s", r.what, r.err, r.out)
		return
	}
	res := r.res
	t.Logf("%s: %+v, slowest set-up %s", r.what, res, r.connectMax)
	if res.Total == 0 || res.Started != res.Total || res.Succeeded != res.Total || res.Timeout != 0 {
		t.Errorf("%s: %d connections refused, %d of the requests sent lost: %+v\n%s",
			r.what, res.Total-res.Started, res.Started-res.Succeeded, res, r.out)
	}
	if r.connectMax > 700*time.Millisecond {
		t.Errorf("%s: a connection set-up took %s: its first packets were dropped", r.what, r.connectMax)
	}
}

// running fails the test if load already ended: the reload would prove nothing.
func running(t *testing.T, loads ...<-chan rateRun) {
	t.Helper()
	for _, l := range loads {
		if len(l) != 0 {
			t.Fatal("the load ended before the reload")
		}
	}
}

// TestHTTP3 serves HTTP/3 and reloads four times while clients keep opening
// connections over HTTP/3 and HTTPS: no connection is refused, no request lost. A
// reload under long-lived connections loses none of the requests sent on them.
func TestHTTP3(t *testing.T) {
	forEachMode(t, func(t *testing.T, m h3Mode) {
		p := startH3Proxy(t, m)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		r, out := testenv.H2load(ctx, t, "--npn-list=h3", "-n", "200", "-c", "4", h3URL(p.port))
		if r.Succeeded != 200 || r.Failed != 0 || r.Errored != 0 || !strings.Contains(out, "Application protocol: h3") {
			t.Fatalf("h2load h3: %+v\n%s", r, out)
		}

		h3, tcp := p.startLoads(ctx)
		for range 4 {
			time.Sleep(250 * time.Millisecond)
			running(t, h3, tcp)
			p.reload(p.config(p.cert, m.line))
		}
		checkRateRun(t, <-h3)
		checkRateRun(t, <-tcp)
		p.waitRevision(4)

		// Long-lived connections across a reload: the old worker process drains them
		// (without eBPF their packets reach it through the new one). h2load 1.52 does
		// not reconnect after a GOAWAY: it counts the requests it has not sent yet on
		// that connection as failed and errored. So the proof is that every request
		// it did send was answered with success.
		const n = 20000
		start := time.Now()
		res, out := h3Reloads(ctx, t, p.Nghttpx, 1, "--npn-list=h3", "-n", strconv.Itoa(n), "-c", "4", "-m", "4", h3URL(p.port))
		t.Logf("h2load h3 -n %d -c 4 -m 4 across a reload in %s: %+v (%d never sent after GOAWAY)",
			n, time.Since(start).Round(time.Millisecond), res, res.Total-res.Started)
		if res.Done != res.Started || res.Succeeded != res.Started || res.Timeout != 0 ||
			res.Failed != res.Total-res.Started || res.Errored != res.Total-res.Started {
			t.Errorf("a request h2load sent was lost across the reload: %+v\n%s", res, out)
		}
		if res.Started < n/10 {
			t.Errorf("only %d of %d requests were sent: the reload broke the connections early", res.Started, n)
		}
		p.waitRevision(5)
	})
}

// TestHTTP3RetiredWorkerTakesNoNewConnections: once the new worker process is
// ready, the old one, kept alive by a request in flight, is given no new QUIC
// connection (without eBPF the kernel would hash about half of them to it): every
// new connection gets the new configuration, here a new backend for "/".
func TestHTTP3RetiredWorkerTakesNoNewConnections(t *testing.T) {
	forEachMode(t, func(t *testing.T, m h3Mode) {
		p := startH3Proxy(t, m)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		workers := p.WorkerPIDs(t)
		if len(workers) != 1 {
			t.Fatalf("worker processes %v, want one", workers)
		}
		old := workers[0]
		bin := testenv.H2loadBin(t)
		held, release := context.WithCancel(ctx)
		defer release()
		go func() {
			_ = exec.CommandContext(held, bin, "--npn-list=h3", "-n", "1", "-c", "1", fmt.Sprintf("https://127.0.0.1:%d/hang/", p.port)).Run()
		}()
		select {
		case <-p.hangAccepted:
		case <-time.After(10 * time.Second):
			t.Fatal("the held request never reached its backend")
		}

		oldEcho := p.echo
		p.echo = testenv.StartEcho(t, "new").HTTPPort
		p.reload(p.config(p.cert, m.line))
		p.waitRevision(1)
		// Each of the old process's three worker threads logs this right before it
		// stops taking new QUIC flows.
		waitFor(t, 5*time.Second, func() bool {
			return countLogLines(p.Logs(), old, "Graceful shutdown commencing") == 3
		}, "graceful shutdown in the 3 worker threads of the old worker process")
		time.Sleep(20 * time.Millisecond)

		r, out := testenv.H2load(ctx, t, "--npn-list=h3", "-n", "200", "-c", "50", fmt.Sprintf("https://127.0.0.1:%d/new", p.port))
		if r.Succeeded != 200 {
			t.Errorf("h2load h3 /new after the reload: %+v\n%s", r, out)
		}
		if !slices.Contains(p.WorkerPIDs(t), old) {
			t.Fatalf("the old worker process %d exited: the test proves nothing", old)
		}
		var backends map[int]int
		waitFor(t, 5*time.Second, func() bool {
			backends = accessLogBackends(t, p.accessLog, "/new")
			total := 0
			for _, n := range backends {
				total += n
			}
			return total == 200
		}, "200 /new requests in the access log")
		t.Logf("/new requests per backend port (old configuration's %d, new one's %d): %v", oldEcho, p.echo, backends)
		if backends[p.echo] != 200 {
			t.Errorf("%d of 200 new connections' requests got the old configuration from the retired worker process", 200-backends[p.echo])
		}
	})
}

// TestHTTP3NewWorkerDiesAtStartup: a reload whose new worker process dies while
// starting (its certificate file is gone; with eBPF also its eBPF object) leaves the
// old worker process serving HTTP/3 and HTTPS without refusing or losing anything,
// logs the rejection, and nghttpx takes the next reload.
func TestHTTP3NewWorkerDiesAtStartup(t *testing.T) {
	forEachMode(t, func(t *testing.T, m h3Mode) {
		p := startH3Proxy(t, m)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		broken := []struct{ name, conf string }{
			{"missing certificate", p.config(filepath.Join(p.dir, "missing-cert.pem"), m.line)},
		}
		if m.name == "ebpf" {
			broken = append(broken, struct{ name, conf string }{
				"missing eBPF object", p.config(p.cert, "quic-bpf-program-file="+filepath.Join(p.dir, "missing.o"))})
		}
		workers := p.WorkerPIDs(t)

		h3, tcp := p.startLoads(ctx)
		for _, b := range broken {
			time.Sleep(200 * time.Millisecond)
			running(t, h3, tcp)
			died := strings.Count(p.Logs(), "exited before it was ready")
			p.reload(b.conf)
			waitFor(t, 5*time.Second, func() bool { return strings.Count(p.Logs(), "exited before it was ready") > died },
				b.name+": new worker process dying")
		}
		time.Sleep(200 * time.Millisecond)
		running(t, h3, tcp)
		if got := p.WorkerPIDs(t); !slices.Equal(got, workers) {
			t.Errorf("worker processes %v after the failed reloads, want the old %v", got, workers)
		}
		if r, err := p.revision(); err != nil || r != 0 {
			t.Errorf("configrevision %d (%v) after the failed reloads, want the old 0", r, err)
		}
		if got := strings.Count(p.Logs(), "Failed to process new configuration"); got != len(broken) {
			t.Errorf("%d rejections logged, want %d (the applier watches for them)", got, len(broken))
		}
		p.reload(p.config(p.cert, m.line))
		checkRateRun(t, <-h3)
		checkRateRun(t, <-tcp)
		// nghttpx counts the failed reloads in the revision too.
		p.waitRevision(uint64(len(broken)) + 1)
		r, out := testenv.H2load(ctx, t, "--npn-list=h3", "-n", "100", "-c", "4", h3URL(p.port))
		if r.Succeeded != 100 {
			t.Errorf("h2load h3 after the recovery: %+v\n%s", r, out)
		}
	})
}

// countLogLines counts nghttpx log lines of worker process pid containing s.
func countLogLines(logs string, pid int, s string) int {
	n := 0
	for line := range strings.Lines(logs) {
		if f := strings.Fields(line); len(f) > 3 && f[2] == strconv.Itoa(pid) && strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// accessLogBackends counts the access log lines ("$alpn $path $backend_port
// $status") for path per backend port.
func accessLogBackends(t *testing.T, file, path string) map[int]int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 4 || f[1] != path {
			continue
		}
		port, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		out[port]++
	}
	return out
}

// h3Reloads runs h2load with args and sends reloads SIGHUPs to ngx while it runs.
func h3Reloads(ctx context.Context, t *testing.T, ngx *testenv.Nghttpx, reloads int, args ...string) (nghttpx.H2loadResult, string) {
	t.Helper()
	type result struct {
		r   nghttpx.H2loadResult
		out string
	}
	done := make(chan result, 1)
	bin := testenv.H2loadBin(t)
	go func() {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		r, perr := nghttpx.ParseH2load(string(out))
		if err != nil || perr != nil {
			t.Errorf("h2load: %v %v\n%s", err, perr, out)
		}
		done <- result{r, string(out)}
	}()
	for i := range reloads {
		time.Sleep(300 * time.Millisecond)
		select {
		case res := <-done:
			t.Fatalf("h2load finished after %d reloads, too early to prove anything: %+v", i, res.r)
		default:
		}
		if err := ngx.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	res := <-done
	return res.r, res.out
}

const helperEnv = "NGXGW_DROPPED_CAPS_HELPER"

// TestDroppedCaps runs detection and an HTTP/3 server in a process without
// CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (capsh): eBPF is reported unusable, the
// eBPF program really fails there, and the rendered no-quic-bpf still serves HTTP/3.
func TestDroppedCaps(t *testing.T) {
	capsh, err := exec.LookPath("capsh")
	if err != nil {
		t.Fatalf("capsh (package libcap2-bin) is needed: %v", err)
	}
	echo := testenv.StartEcho(t, "echo").HTTPPort
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, capsh, "--drop=cap_bpf,cap_perfmon,cap_sys_admin", "--",
		"-c", `exec "$0" -test.run='^TestDroppedCapsHelper$' -test.count=1 -test.v`, self)
	cmd.Env = append(os.Environ(), helperEnv+"=1", "NGXGW_ECHO_PORT="+strconv.Itoa(echo))
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper under capsh: %v", err)
	}
	var report droppedCapsReport
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(strings.TrimSpace(line), "REPORT "); ok {
			if err := json.Unmarshal([]byte(j), &report); err != nil {
				t.Fatal(err)
			}
		}
	}
	if report.Caps == "" {
		t.Fatal("helper printed no report")
	}
	f := report.Features
	if f.BPF || !f.HTTP3 || !f.MRuby {
		t.Errorf("under dropped caps: bpf %v http3 %v mruby %v, want false true true", f.BPF, f.HTTP3, f.MRuby)
	}
	if !strings.Contains(strings.Join(f.Reasons, "\n"), "eBPF QUIC steering disabled: process lacks CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN; rendering no-quic-bpf") {
		t.Errorf("reasons %q do not explain the missing capabilities", f.Reasons)
	}
	if !report.BPFDied {
		t.Error("nghttpx with the eBPF program kept running without the capabilities; the detection would be pointless")
	}
	if r := report.H2load; r.Succeeded != 200 || r.Failed != 0 || r.Errored != 0 {
		t.Errorf("HTTP/3 with no-quic-bpf under dropped caps: %+v", r)
	}
}

type droppedCapsReport struct {
	Caps     string               `json:"caps"`
	Features features.Features    `json:"features"`
	BPFDied  bool                 `json:"bpfDied"`
	BPFLog   string               `json:"bpfLog"`
	H2load   nghttpx.H2loadResult `json:"h2load"`
}

// TestDroppedCapsHelper is TestDroppedCaps' half inside capsh; alone it does nothing.
func TestDroppedCapsHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("runs only as the capsh child of TestDroppedCaps")
	}
	caps, err := features.EffectiveCaps()
	if err != nil {
		t.Fatal(err)
	}
	report := droppedCapsReport{Caps: fmt.Sprintf("%x", uint64(caps))}
	if caps.CanLoadBPF() {
		t.Fatalf("capsh did not drop the capabilities: CapEff %x", uint64(caps))
	}
	echo, err := strconv.Atoi(os.Getenv("NGXGW_ECHO_PORT"))
	if err != nil {
		t.Fatal(err)
	}
	report.Features = detect(t)

	// The eBPF program, forced on anyway: the worker dies and nghttpx exits (0).
	dir := t.TempDir()
	port, err := proc.FreeTCPUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	conf := writeFile(t, dir, "bpf.conf", h3Config(t, dir, port, echo, "quic-bpf-program-file="+nghttpx.BPFObject(testenv.NghttpxBin(t))))
	bpfCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bpfOut, bpfErr := exec.CommandContext(bpfCtx, testenv.NghttpxBin(t), "--conf="+conf).CombinedOutput()
	report.BPFDied = bpfCtx.Err() == nil && bpfErr == nil // exited by itself, status 0
	report.BPFLog = string(bpfOut)
	if !strings.Contains(report.BPFLog, "Failed to load bpf object file") {
		t.Errorf("forced eBPF: exit %v, log:\n%s", bpfErr, bpfOut)
	}

	// What the renderer produces from the verdict: no-quic-bpf.
	dir2 := t.TempDir()
	port2, err := proc.FreeTCPUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	line := bpfLine(report.Features)
	if line != "no-quic-bpf=yes" {
		t.Errorf("rendered %q, want no-quic-bpf=yes", line)
	}
	startNghttpx(t, dir2, h3Config(t, dir2, port2, echo, line), fmt.Sprintf("https://127.0.0.1:%d/", port2))
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	report.H2load, _ = testenv.H2load(ctx, t, "--npn-list=h3", "-n", "200", "-c", "4", h3URL(port2))
	j, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT %s\n", j)
}
