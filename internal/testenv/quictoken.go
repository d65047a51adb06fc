package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"
	"github.com/quic-go/quic-go/qlogwriter"
)

// QUICResult is one QUIC handshake made by QUICHandshake.
type QUICResult struct {
	Retried  bool              // the server answered the first Initial with a Retry
	NewToken *quic.ClientToken // the NEW_TOKEN it sent after the handshake
}

// QUICHandshake completes an HTTP/3 (ALPN h3) handshake over udp with addr,
// naming serverName in the SNI and presenting token (nil: none), and waits up to
// 5s for the server's NEW_TOKEN. The caller owns udp: it decides where the socket
// lives (a network namespace, a loopback address), which tokens are bound to.
// The server's certificate is not verified (tests' own self-signed ones).
func QUICHandshake(ctx context.Context, udp net.PacketConn, addr *net.UDPAddr, serverName string, token *quic.ClientToken) (QUICResult, error) {
	store := &tokenStore{next: token}
	trace := &retryCounter{}
	conf := &quic.Config{TokenStore: store, HandshakeIdleTimeout: 5 * time.Second,
		Tracer: func(context.Context, bool, quic.ConnectionID) qlogwriter.Trace { return trace }}
	tlsConf := &tls.Config{ServerName: serverName, NextProtos: []string{"h3"}, MinVersion: tls.VersionTLS13,
		InsecureSkipVerify: true} //nolint:gosec // tests' own certificates
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := quic.Dial(dctx, udp, addr, tlsConf, conf)
	if err != nil {
		return QUICResult{}, fmt.Errorf("QUIC handshake with %s: %w", addr, err)
	}
	defer conn.CloseWithError(0, "")
	if p := conn.ConnectionState().TLS.NegotiatedProtocol; p != "h3" {
		return QUICResult{}, fmt.Errorf("ALPN %q", p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for store.last() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if store.last() == nil {
		return QUICResult{}, errors.New("no NEW_TOKEN within 5s of the handshake")
	}
	return QUICResult{Retried: trace.retries.Load() > 0, NewToken: store.last()}, nil
}

// tokenStore hands quic-go the token a test chooses and records the NEW_TOKENs
// the server sends.
type tokenStore struct {
	mu       sync.Mutex
	next     *quic.ClientToken
	received []*quic.ClientToken
}

func (s *tokenStore) Pop(string) *quic.ClientToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := s.next
	s.next = nil
	return tok
}

func (s *tokenStore) Put(_ string, tok *quic.ClientToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, tok)
}

func (s *tokenStore) last() *quic.ClientToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == 0 {
		return nil
	}
	return s.received[len(s.received)-1]
}

// retryCounter is a qlog trace that counts the Retry packets a client receives.
type retryCounter struct{ retries atomic.Int32 }

func (c *retryCounter) AddProducer() qlogwriter.Recorder { return c }
func (c *retryCounter) SupportsSchemas(string) bool      { return true }
func (c *retryCounter) Close() error                     { return nil }
func (c *retryCounter) RecordEvent(ev qlogwriter.Event) {
	if p, ok := ev.(qlog.PacketReceived); ok && p.Header.PacketType == qlog.PacketTypeRetry {
		c.retries.Add(1)
	}
}
