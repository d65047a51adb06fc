package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// EchoNamespace is the "namespace" every echo server started here reports.
const EchoNamespace = "testenv"

// Echo is a running echo-basic.
type Echo struct {
	*Process
	Pod      string
	HTTPPort int // HTTP/1.1 (and /ws WebSocket)
	H2CPort  int // cleartext HTTP/2 with prior knowledge
}

// StartEcho runs echo-basic on two free ports with POD_NAME=pod, so its answers
// name the backend, and waits until both ports accept connections.
func StartEcho(t testing.TB, pod string) *Echo {
	t.Helper()
	ports := FreePorts(t, 2)
	cmd := exec.Command(EchoBin(t))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"HTTP_PORT="+strconv.Itoa(ports[0]),
		"H2C_PORT="+strconv.Itoa(ports[1]),
		"POD_NAME="+pod,
		"NAMESPACE="+EchoNamespace,
	)
	e := &Echo{Process: Start(t, "echo "+pod, cmd), Pod: pod, HTTPPort: ports[0], H2CPort: ports[1]}
	WaitTCP(t, e.Process, fmt.Sprintf("127.0.0.1:%d", e.HTTPPort), 10*time.Second)
	WaitTCP(t, e.Process, fmt.Sprintf("127.0.0.1:%d", e.H2CPort), 10*time.Second)
	return e
}

// URL is the echo server's HTTP/1.1 address followed by path.
func (e *Echo) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", e.HTTPPort, path)
}
