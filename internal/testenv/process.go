package testenv

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// logTail is how much of a process's output a failed test logs.
const logTail = 8 << 10

// Process is a command started by Start.
type Process struct {
	Cmd  *exec.Cmd
	PID  int
	out  SyncBuffer
	done chan struct{} // closed once the process has exited and was reaped
}

// Start runs cmd (Dir and Env as the caller set them; stdout and stderr are
// captured) in its own process group. The process gets SIGKILL if the test binary
// dies; cleanup kills its whole group and, if the test failed, logs its output
// under name.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A pipe rather than a Go writer: Wait then returns when the process exits, not
	// when the last child holding the pipe (an nghttpx worker) does.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, PID: cmd.Process.Pid, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&p.out, r)
		r.Close()
		close(copied)
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := proc.KillGroup(ctx, p.PID); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		<-p.done
		select {
		case <-copied:
		case <-time.After(2 * time.Second): // a process outside the group holds the pipe
		}
		if t.Failed() {
			t.Logf("--- %s (pid %d) output, last %d bytes:\n%s", name, p.PID, logTail, tail(p.Logs(), logTail))
		}
	})
	return p
}

// Logs returns the process's stdout and stderr so far.
func (p *Process) Logs() string { return p.out.String() }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
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
			t.Fatalf("process %d exited before %s accepted connections:\n%s", p.PID, addr, tail(p.Logs(), logTail))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not accepting connections after %s: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitHTTP waits until url answers at all (any status; TLS certificates are not
// checked), failing the test after timeout or when p (if not nil) exits first.
func WaitHTTP(t testing.TB, p *Process, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, _, err := Get(url)
		if err == nil {
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("process %d exited before %s answered:\n%s", p.PID, url, tail(p.Logs(), logTail))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", url, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for one writer goroutine and concurrent
// readers: where tests collect a process's or a logger's output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
