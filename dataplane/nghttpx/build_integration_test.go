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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/internal/testproc"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
)

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
	echo := testproc.StartEcho(t, "echo")
	port := testproc.Port(t)
	script := writeFile(t, dir, "answer.rb", `class Answer
  def on_req(env)
    env.resp.status = 203
    env.resp.add_header "x-answered-by", "per-pattern"
    env.resp.return "scripted answer for " + env.req.path
  end
end
Answer.new
`)
	testproc.StartNghttpx(t, dir, fmt.Sprintf(`frontend=127.0.0.1,%d;no-tls
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
	e, err := testproc.GetEcho(fmt.Sprintf("http://127.0.0.1:%d/other", port))
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
	a, b := testproc.StartEcho(t, "a"), testproc.StartEcho(t, "b")
	port := testproc.Port(t)
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
	testproc.StartNghttpx(t, dir, fmt.Sprintf(`frontend=127.0.0.1,%d;no-tls
mruby-file=%s
backend=127.0.0.1,%d;/;proto=http/1.1
backend=127.0.0.1,%d;/a/;proto=http/1.1
backend=127.0.0.1,%d;/b/;proto=http/1.1
workers=1
no-ocsp=yes
`, port, script, a, a, b), fmt.Sprintf("http://127.0.0.1:%d/", port))

	for path, want := range map[string]testproc.Echo{
		"/to-b/x": {Pod: "b", Path: "/b/x"},
		"/a/x":    {Pod: "a", Path: "/a/x"},
		"/b/y":    {Pod: "b", Path: "/b/y"},
		"/to-c/x": {Pod: "a", Path: "/to-c/x"}, // not rewritten: catch-all
	} {
		e, err := testproc.GetEcho(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
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
	f, err := features.Detect(logr.NewContext(ctx, testr.New(t)), testproc.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func h3URL(port int) string { return fmt.Sprintf("https://127.0.0.1:%d/", port) }

// TestHTTP3 serves HTTP/3 (h2load over QUIC) and loses no request across reloads
// under HTTP/3 load.
func TestHTTP3(t *testing.T) {
	f := detect(t)
	if !f.HTTP3 {
		t.Fatalf("the build lacks HTTP/3: %v", f.Reasons)
	}
	t.Logf("features: bpf %v (%v)", f.BPF, f.Reasons)
	dir := t.TempDir()
	echo := testproc.StartEcho(t, "echo")
	port, err := proc.FreeTCPUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	ngx := testproc.StartNghttpx(t, dir, h3Config(t, dir, port, echo, bpfLine(f)), fmt.Sprintf("https://127.0.0.1:%d/", port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	r, out := testproc.H2load(ctx, t, "--npn-list=h3", "-n", "200", "-c", "4", h3URL(port))
	if r.Succeeded != 200 || r.Failed != 0 || r.Errored != 0 || !strings.Contains(out, "Application protocol: h3") {
		t.Fatalf("h2load h3: %+v\n%s", r, out)
	}

	// A SIGHUP while one long h2load run is going: the old workers drain their QUIC
	// connections (steered to them by eBPF when available), new workers take new
	// ones. h2load 1.52 does not reconnect after an HTTP/2 or HTTP/3 GOAWAY: it counts
	// the requests it has not sent yet on that connection as failed and errored. So
	// the proof is that every request it did send was answered with success, and
	// that the only failures are those unsent ones.
	const n = 20000
	start := time.Now()
	res, out := h3Reloads(ctx, t, ngx, 1, "--npn-list=h3", "-n", strconv.Itoa(n), "-c", "4", "-m", "4", h3URL(port))
	t.Logf("h2load h3 -n %d -c 4 -m 4 across a reload in %s: %+v (%d never sent after GOAWAY)",
		n, time.Since(start).Round(time.Millisecond), res, res.Total-res.Started)
	if res.Done != res.Started || res.Succeeded != res.Started || res.Timeout != 0 ||
		res.Failed != res.Total-res.Started || res.Errored != res.Total-res.Started {
		t.Errorf("a request h2load sent was lost across reloads: %+v\n%s", res, out)
	}
	if res.Started < n/10 {
		t.Errorf("only %d of %d requests were sent: the reloads broke the connections early", res.Started, n)
	}

	// Short runs back to back (two loops) across reloads, one request per
	// connection, so a GOAWAY never leaves a request unsent. nghttpx 1.52 refuses new
	// QUIC connections (CONNECTION_REFUSED) in a draining worker, and the new worker
	// needs a few milliseconds to open its QUIC sockets, so a handshake right after
	// a SIGHUP can be refused before any request is sent. Every request that was sent
	// must succeed; refusals may only happen shortly after a SIGHUP.
	time.Sleep(200 * time.Millisecond) // out of the first reload's window
	stop := make(chan struct{})
	var mu sync.Mutex
	var runs []shortRun
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := runShort(ctx, t, port)
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
			}
		})
	}
	var hups []time.Time
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		hups = append(hups, time.Now())
		if err := ngx.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	var sum nghttpx.H2loadResult
	refused, slowest := 0, time.Duration(0)
	for _, r := range runs {
		sum.Total += r.res.Total
		sum.Started += r.res.Started
		sum.Done += r.res.Done
		sum.Succeeded += r.res.Succeeded
		sum.Failed += r.res.Failed
		sum.Errored += r.res.Errored
		sum.Timeout += r.res.Timeout
		if r.res.Started == r.res.Total {
			continue
		}
		refused++
		since := time.Duration(-1)
		for _, h := range hups {
			if !r.start.Add(r.took).Before(h) {
				since = r.start.Sub(h)
			}
		}
		if since > slowest {
			slowest = since
		}
		if since > 500*time.Millisecond || since < -r.took {
			t.Errorf("QUIC connection refused %s after the last SIGHUP, outside a reload: %+v\n%s", since, r.res, r.out)
		}
	}
	t.Logf("%d short h2load h3 runs (-n 4 -c 4) across 3 reloads: %+v; %d runs refused (latest %s after a SIGHUP)", len(runs), sum, refused, slowest)
	if sum.Done != sum.Started || sum.Succeeded != sum.Started || sum.Timeout != 0 || len(runs) < 10 {
		t.Errorf("a request sent across reloads was lost: %d runs, %+v", len(runs), sum)
	}
	if got := strings.Count(ngx.Output(), "Reloading configuration"); got != 4 {
		t.Errorf("nghttpx logged %d reloads, want 4", got)
	}
}

type shortRun struct {
	start time.Time
	took  time.Duration
	res   nghttpx.H2loadResult
	out   string
}

func runShort(ctx context.Context, t *testing.T, port int) shortRun {
	start := time.Now()
	out, err := exec.CommandContext(ctx, nghttpx.H2load(testproc.Binary(t)), "--npn-list=h3", "-n", "4", "-c", "4", h3URL(port)).CombinedOutput()
	r, perr := nghttpx.ParseH2load(string(out))
	if err != nil || perr != nil {
		t.Errorf("h2load: %v %v\n%s", err, perr, out)
	}
	return shortRun{start: start, took: time.Since(start), res: r, out: string(out)}
}

// h3Reloads runs h2load with args and sends reloads SIGHUPs to ngx while it runs.
func h3Reloads(ctx context.Context, t *testing.T, ngx *testproc.Proc, reloads int, args ...string) (nghttpx.H2loadResult, string) {
	t.Helper()
	type result struct {
		r   nghttpx.H2loadResult
		out string
	}
	done := make(chan result, 1)
	go func() {
		out, err := exec.CommandContext(ctx, nghttpx.H2load(testproc.Binary(t)), args...).CombinedOutput()
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
	echo := testproc.StartEcho(t, "echo")
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
	conf := writeFile(t, dir, "bpf.conf", h3Config(t, dir, port, echo, "quic-bpf-program-file="+nghttpx.BPFObject(testproc.Binary(t))))
	bpfCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bpfOut, bpfErr := exec.CommandContext(bpfCtx, testproc.Binary(t), "--conf="+conf).CombinedOutput()
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
	testproc.StartNghttpx(t, dir2, h3Config(t, dir2, port2, echo, line), fmt.Sprintf("https://127.0.0.1:%d/", port2))
	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	report.H2load, _ = testproc.H2load(ctx, t, "--npn-list=h3", "-n", "200", "-c", "4", h3URL(port2))
	j, err := json.Marshal(report)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT %s\n", j)
}
