package proc

import (
	"net"
	"testing"
)

// The kernel may offer a just-closed port again (a Gateway's mirror tee once got
// its backend API port): a port in avoid is refused and the next one taken.
func TestListenAvoidingRefusesAvoidedPorts(t *testing.T) {
	var ls []net.Listener
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	port := func(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }
	next := 0
	listen := func() (net.Listener, error) { l := ls[next]; next++; return l, nil }
	got, err := listenAvoiding(listen, []int{port(ls[0]), port(ls[1])})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got != ls[2] {
		t.Fatalf("got port %d, want %d (the first not avoided)", port(got), port(ls[2]))
	}
	// The refused listeners are closed: their ports can be bound again.
	for _, l := range ls[:2] {
		again, err := net.Listen("tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("refused listener on %s still open: %v", l.Addr(), err)
		}
		again.Close()
	}
}

func TestListenAvoidingGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	calls := 0
	// A listen that always offers the avoided port (a stand-in for a
	// one-port range) must fail, not loop.
	_, err = listenAvoiding(func() (net.Listener, error) { calls++; return noClose{l}, nil }, []int{p})
	if err == nil || calls != 64 {
		t.Fatalf("err %v after %d calls, want an error after 64", err, calls)
	}
}

func TestFreeTCPPortAvoids(t *testing.T) {
	a, err := FreeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		b, err := FreeTCPPort(a)
		if err != nil {
			t.Fatal(err)
		}
		if b == a {
			t.Fatalf("FreeTCPPort(%d) returned %d", a, b)
		}
	}
}

type noClose struct{ net.Listener }

func (noClose) Close() error { return nil }
