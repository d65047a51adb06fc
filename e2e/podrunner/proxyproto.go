package podrunner

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// ProxyProtocolAnnotation on a Service asks the load balancer to send a PROXY
// protocol header ("v1" or "v2") before the client's bytes, as cloud load balancers can.
const ProxyProtocolAnnotation = "nghttpx-gateway.dev/proxy-protocol"

// ProxyHeader builds a PROXY protocol header describing a TCP connection from src to dst.
func ProxyHeader(version string, src, dst net.Addr) ([]byte, error) {
	s, ok1 := src.(*net.TCPAddr)
	d, ok2 := dst.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("proxy protocol needs TCP addresses, got %T and %T", src, dst)
	}
	s4, d4 := s.IP.To4(), d.IP.To4()
	switch version {
	case "v1":
		fam := "TCP6"
		if s4 != nil && d4 != nil {
			fam = "TCP4"
		}
		return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", fam, s.IP, d.IP, s.Port, d.Port), nil
	case "v2":
		h := []byte("\r\n\r\n\x00\r\nQUIT\n")
		h = append(h, 0x21) // version 2, PROXY command
		var addrs []byte
		if s4 != nil && d4 != nil {
			h = append(h, 0x11) // TCP over IPv4
			addrs = append(append(addrs, s4...), d4...)
		} else {
			h = append(h, 0x21) // TCP over IPv6
			addrs = append(append(addrs, s.IP.To16()...), d.IP.To16()...)
		}
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(s.Port))
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(d.Port))
		h = binary.BigEndian.AppendUint16(h, uint16(len(addrs)))
		return append(h, addrs...), nil
	}
	return nil, fmt.Errorf("unknown proxy protocol version %q (want v1 or v2)", version)
}

// Pipe copies between a and b both ways, half-closing each TCP side when its
// source ends, until both directions are done (the load balancers' TCP forwarding).
func Pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
