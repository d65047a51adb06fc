package proc

import (
	"fmt"
	"net"
	"slices"
)

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago and is
// none of avoid. The kernel hands a just-closed port out again, so ports picked
// one after another must name the earlier ones in avoid.
func FreeTCPPort(avoid ...int) (int, error) {
	l, err := ListenTCP(avoid...)
	if err != nil {
		return 0, fmt.Errorf("pick a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ListenTCP listens on a free 127.0.0.1 port that is none of avoid (ports picked
// earlier and not yet bound by whoever will use them).
func ListenTCP(avoid ...int) (net.Listener, error) {
	return listenAvoiding(func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }, avoid)
}

// listenAvoiding keeps the refused listeners open until it has one it may
// return, so the kernel cannot offer the same port twice.
func listenAvoiding(listen func() (net.Listener, error), avoid []int) (net.Listener, error) {
	var refused []net.Listener
	defer func() {
		for _, l := range refused {
			l.Close()
		}
	}()
	for range 64 {
		l, err := listen()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(avoid, l.Addr().(*net.TCPAddr).Port) {
			return l, nil
		}
		refused = append(refused, l)
	}
	return nil, fmt.Errorf("no free port other than %v after 64 tries", avoid)
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// FreeTCPUDPPort returns a port free for both TCP and UDP on 127.0.0.1, for a
// listener that serves HTTPS on TCP and HTTP/3 on UDP under one number.
func FreeTCPUDPPort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free TCP port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err != nil {
			continue
		}
		c.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no port free for both TCP and UDP after 50 tries")
}
