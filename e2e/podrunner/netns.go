package podrunner

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// NetNS is a named network namespace (`ip netns`). Sockets created through it live
// inside the namespace even though the calling process stays in its own.
type NetNS struct {
	Name string
	fd   int
}

// NetNSPath is where `ip netns` keeps its bind mounts.
const NetNSPath = "/run/netns"

// CreateNetNS runs `ip netns add name` and opens the namespace.
func CreateNetNS(ctx context.Context, name string) (*NetNS, error) {
	if _, err := RunIP(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	ns, err := OpenNetNS(name)
	if err != nil {
		_, _ = RunIP(context.Background(), "netns", "delete", name)
		return nil, err
	}
	return ns, nil
}

// OpenNetNS opens an existing named namespace.
func OpenNetNS(name string) (*NetNS, error) {
	fd, err := unix.Open(filepath.Join(NetNSPath, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	return &NetNS{Name: name, fd: fd}, nil
}

// Close releases the file descriptor; the namespace itself stays until Delete.
func (n *NetNS) Close() error {
	if n == nil || n.fd < 0 {
		return nil
	}
	err := unix.Close(n.fd)
	n.fd = -1
	return err
}

// Delete closes the namespace and removes its name (`ip netns delete`). The kernel
// frees the namespace once no process and no socket uses it.
func (n *NetNS) Delete(ctx context.Context) error {
	_ = n.Close()
	if _, err := os.Stat(filepath.Join(NetNSPath, n.Name)); os.IsNotExist(err) {
		return nil
	}
	_, err := RunIP(ctx, "netns", "delete", n.Name)
	return err
}

// Do runs fn on an OS thread that has entered the namespace. Only work done on the
// calling goroutine (socket creation, for example) happens inside; goroutines that fn
// starts run elsewhere.
func (n *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime then discards it when this goroutine
			// exits instead of reusing a thread stuck in the wrong namespace.
			errc <- fmt.Errorf("restore netns: %w (after %v)", err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// DialContext dials from inside the namespace; it fits net.Dialer.DialContext and
// http.Transport.DialContext. Addresses must be literal IPs (no resolver runs inside).
func (n *NetNS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace.
func (n *NetNS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket inside the namespace.
func (n *NetNS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// Command returns a command that runs inside the namespace (and, as `ip netns exec`
// does, in a private mount namespace with its own /sys).
func (n *NetNS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// RunIP runs the ip(8) tool and returns its output; the error carries stderr.
func RunIP(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// RunIPBatch feeds commands to `ip [-n ns] -batch -`, one per line.
func RunIPBatch(ctx context.Context, netns string, lines []string) error {
	args := []string{}
	if netns != "" {
		args = append(args, "-n", netns)
	}
	args = append(args, "-batch", "-")
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s batch %q: %w: %s", netns, lines, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NetNSPids lists the processes that live in a named namespace.
func NetNSPids(ctx context.Context, name string) []int {
	out, err := RunIP(ctx, "netns", "pids", name)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		var p int
		if _, err := fmt.Sscanf(f, "%d", &p); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids
}
