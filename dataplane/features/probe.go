package features

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
)

const (
	// mrubyMarker is the body the probe script answers with.
	mrubyMarker = "nghttpx-gateway mruby probe"
	// aliveWindow is how long a QUIC probe must survive: when the eBPF program fails
	// to load, the worker dies and nghttpx exits 0 right after starting.
	aliveWindow = time.Second
	// startTimeout bounds the wait for a probe's first answer.
	startTimeout = 5 * time.Second
	// bpfCompiledLog is logged at worker start only by builds with libbpf.
	bpfCompiledLog = "Unloading BPF objects"
)

const probeScript = `class Probe
  def on_req(env)
    env.resp.status = 200
    env.resp.return "` + mrubyMarker + `"
  end
end
Probe.new
`

type probeResult struct {
	err         error
	bpfCompiled bool
}

type probeResults struct {
	mruby, quic, bpf probeResult
}

type prober struct {
	binary, dir string
	log         logr.Logger
}

// run starts the probes concurrently; a probe that is not wanted reports an error.
func (p *prober) run(ctx context.Context, quic, bpf bool, bpfObject string) probeResults {
	var res probeResults
	res.quic.err = errors.New("not probed")
	res.bpf.err = errors.New("not probed")
	var certPath, keyPath string
	if quic {
		var err error
		certPath, keyPath, err = selfsigned.Write(p.dir)
		if err != nil {
			res.quic.err = err
			quic, bpf = false, false
		}
	}
	var wg sync.WaitGroup
	script := filepath.Join(p.dir, "probe.rb")
	if err := os.WriteFile(script, []byte(probeScript), 0o644); err != nil {
		res.mruby.err = fmt.Errorf("write probe script: %w", err)
	} else {
		wg.Go(func() {
			res.mruby = p.probe(ctx, "mruby", func(int, int) string { return "mruby-file=" + script + "\n" }, false)
		})
	}
	quicConf := func(extra string) func(int, int) string {
		return func(_, udpPort int) string {
			return fmt.Sprintf("frontend=127.0.0.1,%d;quic\nprivate-key-file=%s\ncertificate-file=%s\n%s\n", udpPort, keyPath, certPath, extra)
		}
	}
	if quic {
		wg.Go(func() { res.quic = p.probe(ctx, "quic", quicConf("no-quic-bpf=yes"), true) })
	}
	if bpf {
		wg.Go(func() { res.bpf = p.probe(ctx, "bpf", quicConf("quic-bpf-program-file="+bpfObject), true) })
	}
	wg.Wait()
	return res
}

// probe runs nghttpx with a plain HTTP frontend plus the lines extra returns, waits
// for an answer on the HTTP frontend and, for QUIC, an HTTP/3 answer and survival
// for aliveWindow.
func (p *prober) probe(ctx context.Context, name string, extra func(httpPort, udpPort int) string, quic bool) probeResult {
	// The ports were free when picked, but another process may bind one before
	// nghttpx does: that is no verdict on the feature, so try other ports.
	var res probeResult
	for range 3 {
		res = p.probeOnce(ctx, name, extra, quic)
		if res.err == nil || !strings.Contains(res.err.Error(), "socket failed") || ctx.Err() != nil {
			return res
		}
		p.log.V(1).Info("probe port taken, retrying with other ports", "probe", name, "err", res.err)
	}
	return res
}

func (p *prober) probeOnce(ctx context.Context, name string, extra func(httpPort, udpPort int) string, quic bool) (res probeResult) {
	log := p.log.WithValues("probe", name)
	httpPort, err := proc.FreeTCPPort()
	if err != nil {
		return probeResult{err: err}
	}
	udpPort, err := proc.FreeUDPPort()
	if err != nil {
		return probeResult{err: err}
	}
	closed, err := proc.FreeTCPPort(httpPort) // a backend nobody listens on: answers are 502 unless a script answers
	if err != nil {
		return probeResult{err: err}
	}
	conf := fmt.Sprintf("frontend=127.0.0.1,%d;no-tls\nbackend=127.0.0.1,%d;/\nworkers=1\nno-ocsp=yes\nbackend-connect-timeout=1s\n", httpPort, closed) +
		extra(httpPort, udpPort)
	confPath := filepath.Join(p.dir, name+".conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return probeResult{err: fmt.Errorf("write probe config: %w", err)}
	}

	logs := &lineBuffer{}
	cmd := exec.Command(p.binary, "--conf="+confPath)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return probeResult{err: err}
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return probeResult{err: fmt.Errorf("start nghttpx: %w", err)}
	}
	pw.Close()
	readDone := make(chan struct{})
	go func() { logs.readFrom(pr); close(readDone) }()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := proc.KillGroup(kctx, cmd.Process.Pid); err != nil {
			log.Error(err, "probe cleanup")
		}
		<-exited
		<-readDone
		res.bpfCompiled = logs.contains(bpfCompiledLog)
		log.V(1).Info("probe done", "ok", res.err == nil, "err", res.err, "log", logs.lines())
	}()

	died := func() error {
		<-readDone
		return fmt.Errorf("nghttpx exited (%v): %s", waitErr, logs.lastProblem())
	}
	body, err := firstAnswer(ctx, httpPort, exited)
	if err != nil {
		if isClosed(exited) {
			return probeResult{err: died()}
		}
		return probeResult{err: err}
	}
	if !quic {
		if !strings.Contains(body, mrubyMarker) {
			return probeResult{err: fmt.Errorf("answer %q is not from the script (mruby-file ignored?) %s", trim(body), logs.lastProblem())}
		}
		return probeResult{}
	}
	if h2load := nghttpx.H2load(p.binary); isExecutable(h2load) {
		if err := h3Request(ctx, h2load, udpPort); err != nil {
			if isClosed(exited) {
				return probeResult{err: died()}
			}
			return probeResult{err: err}
		}
	}
	select {
	case <-exited:
		return probeResult{err: died()}
	case <-time.After(time.Until(start.Add(aliveWindow))):
	case <-ctx.Done():
		return probeResult{err: ctx.Err()}
	}
	if msg := logs.fatal(); msg != "" {
		return probeResult{err: errors.New(msg)}
	}
	return probeResult{}
}

// firstAnswer polls the HTTP frontend until a worker answers.
func firstAnswer(ctx context.Context, port int, exited <-chan struct{}) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(startTimeout)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var lastErr error
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return string(b), rerr
		}
		lastErr = err
		select {
		case <-exited:
			return "", errors.New("nghttpx exited")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no answer on 127.0.0.1:%d within %s: %w", port, startTimeout, lastErr)
}

// h3Request sends one HTTP/3 request with h2load; any answer (the backend is
// closed, so 502) proves QUIC works.
func h3Request(ctx context.Context, h2load string, udpPort int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, h2load, "--npn-list=h3", "-n", "1", "-c", "1",
		fmt.Sprintf("https://127.0.0.1:%d/", udpPort)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("h2load over HTTP/3: %w: %s", err, trim(string(out)))
	}
	r, err := nghttpx.ParseH2load(string(out))
	if err != nil {
		return err
	}
	if r.Done != 1 || r.Errored != 0 {
		return fmt.Errorf("HTTP/3 request not answered: %+v", r)
	}
	return nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// lineBuffer keeps the last lines of a probe's output.
type lineBuffer struct {
	mu sync.Mutex
	l  []string
}

const maxProbeLines = 200

func (b *lineBuffer) readFrom(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		b.mu.Lock()
		if len(b.l) == maxProbeLines {
			b.l = b.l[1:]
		}
		b.l = append(b.l, sc.Text())
		b.mu.Unlock()
	}
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.l...)
}

func (b *lineBuffer) contains(s string) bool {
	for _, l := range b.lines() {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// fatal returns the first FATAL message, or "".
func (b *lineBuffer) fatal() string {
	for _, l := range b.lines() {
		if ll, ok := nghttpx.ParseLogLine(l); ok && ll.Severity == nghttpx.SeverityFatal {
			return ll.Message
		}
	}
	return ""
}

// lastProblem returns the first FATAL or the last ERROR message, for error texts.
func (b *lineBuffer) lastProblem() string {
	if m := b.fatal(); m != "" {
		return m
	}
	ls := b.lines()
	for i := len(ls) - 1; i >= 0; i-- {
		if ll, ok := nghttpx.ParseLogLine(ls[i]); ok && ll.Severity == nghttpx.SeverityError {
			return ll.Message
		}
	}
	return "no error logged"
}
