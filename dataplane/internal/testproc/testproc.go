package testproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
)

// Binary returns the nghttpx under test (NGHTTPX_BIN).
func Binary(t testing.TB) string {
	t.Helper()
	return envBinary(t, "NGHTTPX_BIN", "the nghttpx of `make nghttpx`")
}

// EchoBinary returns the conformance echo server (ECHO_BIN).
func EchoBinary(t testing.TB) string {
	t.Helper()
	return envBinary(t, "ECHO_BIN", "echo-basic (make echo)")
}

func envBinary(t testing.TB, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: point it at %s, or run make integration", env, what)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		t.Fatalf("%s=%s: not a file (%v)", env, p, err)
	}
	return p
}

// Port returns a free TCP port on 127.0.0.1.
func Port(t testing.TB) int {
	t.Helper()
	p, err := proc.FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Proc is a process started by Start.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

// Start runs name with args in its own process group; env is added to the
// environment. The process group is killed at cleanup.
func Start(t testing.TB, dir string, env []string, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = w, w
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		r.Close()
	}()
	go func() { p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := proc.KillGroup(ctx, p.Cmd.Process.Pid); err != nil {
			t.Errorf("cleanup %s: %v", name, err)
		}
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), tail(p.Output(), 4000))
		}
	})
	return p
}

// Output is everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StartEcho runs an echo server that reports pod as its pod name and returns its
// HTTP port.
func StartEcho(t testing.TB, pod string) int {
	t.Helper()
	httpPort, h2cPort := Port(t), Port(t)
	Start(t, t.TempDir(), []string{"HTTP_PORT=" + strconv.Itoa(httpPort), "H2C_PORT=" + strconv.Itoa(h2cPort),
		"POD_NAME=" + pod, "NAMESPACE=testproc"}, EchoBinary(t))
	WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", httpPort), 10*time.Second)
	return httpPort
}

// StartNghttpx writes conf to dir/nghttpx.conf, runs nghttpx on it and waits until
// readyURL answers.
func StartNghttpx(t testing.TB, dir, conf, readyURL string) *Proc {
	t.Helper()
	path := filepath.Join(dir, "nghttpx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, dir, nil, Binary(t), "--conf="+path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := Get(readyURL); err == nil {
			return p
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("nghttpx did not answer %s (exited: %v):\n%s", readyURL, p.Exited(), tail(p.Output(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client trusts any certificate: tests talk to their own self-signed frontends on loopback.
var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
	Proxy: nil, DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test servers
}}

// Get fetches url on a new connection and returns status and body.
func Get(url string) (int, []byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// WaitHTTP waits until url answers at all.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, _, err := Get(url)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", url, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Echo is the part of echo-basic's answer the tests look at.
type Echo struct {
	Path    string              `json:"path"`
	Host    string              `json:"host"`
	Method  string              `json:"method"`
	Proto   string              `json:"proto"`
	Headers map[string][]string `json:"headers"`
	Pod     string              `json:"pod"`
}

// GetEcho fetches url and decodes an echo answer; a non-200 status is an error.
func GetEcho(url string) (Echo, error) {
	status, body, err := Get(url)
	if err != nil {
		return Echo{}, err
	}
	if status != http.StatusOK {
		return Echo{}, fmt.Errorf("GET %s: status %d: %s", url, status, tail(string(body), 200))
	}
	var e Echo
	if err := json.Unmarshal(body, &e); err != nil {
		return Echo{}, fmt.Errorf("GET %s: not an echo answer %q: %w", url, tail(string(body), 200), err)
	}
	return e, nil
}

// H2load runs the h2load next to the nghttpx under test and parses its summary.
func H2load(ctx context.Context, t testing.TB, args ...string) (nghttpx.H2loadResult, string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, nghttpx.H2load(Binary(t)), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("h2load %v: %v\n%s", args, err, tail(string(out), 2000))
	}
	r, err := nghttpx.ParseH2load(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return r, string(out)
}

// UDPPortFree reports whether nothing is bound to 127.0.0.1:port/udp.
func UDPPortFree(port int) bool {
	c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
