package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Test servers get ports below the kernel's ephemeral range (32768-60999 by
// default): a port picked by binding :0 is ephemeral, and under load an outgoing
// connection of another test can take it as its source port before our server
// binds it ("Address already in use"). A lock file per port keeps test processes
// running in parallel (go test runs packages concurrently) from picking the same one.
const (
	portLow  = 20000
	portHigh = 32767
)

// FreePort returns a TCP port on 127.0.0.1 reserved for this test.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreePorts returns n distinct TCP ports on 127.0.0.1, free when chosen and
// reserved against other test processes until the test ends.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ports = append(ports, reservePort(t, false))
	}
	return ports
}

// FreeTCPUDPPort returns a 127.0.0.1 port free for both TCP and UDP (HTTPS and
// HTTP/3 share a number), reserved like FreePorts.
func FreeTCPUDPPort(t testing.TB) int {
	t.Helper()
	return reservePort(t, true)
}

func reservePort(t testing.TB, udp bool) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "ngxgw-test-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("port reservations: %v", err)
	}
	for range 200 {
		port := portLow + rand.IntN(portHigh-portLow+1)
		f, ok, err := lockPort(dir, port)
		if err != nil {
			t.Fatalf("port reservations: %v", err)
		}
		if !ok {
			continue
		}
		if bindable(port, udp) {
			t.Cleanup(func() { f.Close() }) // closing the file releases the lock
			return port
		}
		f.Close()
	}
	t.Fatalf("no free port in %d-%d after 200 tries", portLow, portHigh)
	return 0
}

// lockPort takes the per-port lock without waiting; ok is false when another
// test process holds it.
func lockPort(dir string, port int) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, fmt.Sprint(port)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}

func bindable(port int, udp bool) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	if udp {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}
