package testenv

import (
	"net"
	"testing"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
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
