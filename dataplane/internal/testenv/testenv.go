package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/internal/proc"
)

// NghttpxBin returns $NGHTTPX_BIN and fails the test when it is unset or missing.
func NghttpxBin(t testing.TB) string {
	t.Helper()
	return binFromEnv(t, "NGHTTPX_BIN")
}

// EchoBin returns $ECHO_BIN (the conformance echo-basic) and fails the test when it
// is unset or missing.
func EchoBin(t testing.TB) string {
	t.Helper()
	return binFromEnv(t, "ECHO_BIN")
}

func binFromEnv(t testing.TB, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set (see the Makefile's integration target)", env)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file: %v", env, p, err)
	}
	return p
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment ago
// (all are held open until the last is chosen, so none is returned twice).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pick a free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// logTail is how much of a process's output a failed test logs.
const logTail = 8 << 10

func tail(s string) string {
	if len(s) <= logTail {
		return s
	}
	return "...\n" + s[len(s)-logTail:]
}

// Process is a started command with its combined output.
type Process struct {
	Cmd *exec.Cmd
	PID int
	out *syncBuffer
}

// Logs returns the process's stdout and stderr so far.
func (p *Process) Logs() string { return p.out.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs bin in its own process group; cleanup kills the group and, if the test
// failed, logs the output under name.
func Start(t testing.TB, name, bin string, args, env []string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, PID: cmd.Process.Pid, out: out}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := proc.KillGroup(ctx, p.PID); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		<-done
		if t.Failed() {
			t.Logf("--- %s output (last %d bytes):\n%s", name, logTail, tail(out.String()))
		}
	})
	return p
}

// Exited reports whether the process has exited (its group leader is gone or a zombie).
func (p *Process) Exited() bool {
	members, err := proc.GroupMembers(p.PID)
	if err != nil {
		return false
	}
	for _, m := range members {
		if m == p.PID {
			return false
		}
	}
	return true
}

// WaitTCP waits until addr accepts connections, failing the test after timeout or
// when p (if not nil) exits first.
func WaitTCP(t testing.TB, p *Process, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("process %d exited before %s accepted connections:\n%s", p.PID, addr, p.Logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting connections after %s: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Echo is a running echo-basic.
type Echo struct {
	*Process
	Pod      string
	HTTPPort int // HTTP/1.1 (and /ws WebSocket)
	H2CPort  int // cleartext HTTP/2 with prior knowledge
}

// StartEcho runs echo-basic with POD_NAME=pod (its JSON "pod" field) and
// NAMESPACE=testenv on two free ports.
func StartEcho(t testing.TB, pod string) *Echo {
	t.Helper()
	bin := EchoBin(t)
	ports := FreePorts(t, 2)
	p := Start(t, "echo "+pod, bin, nil, []string{
		"HTTP_PORT=" + strconv.Itoa(ports[0]),
		"H2C_PORT=" + strconv.Itoa(ports[1]),
		"POD_NAME=" + pod,
		"NAMESPACE=testenv",
	})
	e := &Echo{Process: p, Pod: pod, HTTPPort: ports[0], H2CPort: ports[1]}
	WaitTCP(t, p, fmt.Sprintf("127.0.0.1:%d", e.HTTPPort), 10*time.Second)
	WaitTCP(t, p, fmt.Sprintf("127.0.0.1:%d", e.H2CPort), 10*time.Second)
	return e
}

// Nghttpx is a running nghttpx main process (workers are its children, same group).
type Nghttpx struct {
	*Process
}

// StartNghttpx runs nghttpx --conf=conf (absolute path; no daemon) and waits until
// every wait port on 127.0.0.1 accepts connections (pass the API port at least).
func StartNghttpx(t testing.TB, conf string, waitPorts ...int) *Nghttpx {
	t.Helper()
	if len(conf) == 0 || conf[0] != '/' {
		t.Fatalf("nghttpx config path %q must be absolute (SIGHUP re-reads it)", conf)
	}
	p := Start(t, "nghttpx", NghttpxBin(t), []string{"--conf=" + conf}, nil)
	for _, port := range waitPorts {
		WaitTCP(t, p, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	}
	return &Nghttpx{Process: p}
}

// WorkerPIDs lists the live processes of nghttpx's group other than the main one.
func (n *Nghttpx) WorkerPIDs(t testing.TB) []int {
	t.Helper()
	members, err := proc.GroupMembers(n.PID)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range members {
		if m != n.PID {
			out = append(out, m)
		}
	}
	return out
}

// H2loadBin returns the h2load built next to $NGHTTPX_BIN (it speaks HTTP/3 when
// nghttpx does) and fails the test when it is missing.
func H2loadBin(t testing.TB) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(NghttpxBin(t)), "h2load")
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("h2load not found next to nghttpx at %s: %v", p, err)
	}
	return p
}

// FreeTCPUDPPort returns a 127.0.0.1 port free for both TCP and UDP (HTTPS and
// HTTP/3 share a number).
func FreeTCPUDPPort(t testing.TB) int {
	t.Helper()
	p, err := proc.FreeTCPUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
