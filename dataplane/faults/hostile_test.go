//go:build integration

package faults

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHostileClients attacks the gateway's listener while HTTP/1.1 and h2c
// traffic runs against the same route: no request of that traffic may fail, and
// nghttpx's memory must stay within each attack's bound.
func TestHostileClients(t *testing.T) {
	g := startGateway(t)
	hold := steady(t)
	addr := fmt.Sprintf("127.0.0.1:%d", g.port)
	// The same traffic without an attack: what each attack's traffic compares to.
	base := map[string]float64{}
	quiet := []*traffic{g.startTraffic("h1", 2), g.startTraffic("h2c", 2)}
	time.Sleep(hold)
	for _, l := range quiet {
		l.stop()
		base[l.name] = float64(l.reqs.Load()) / hold.Seconds()
	}

	for _, tc := range []struct {
		name string
		// attack runs until stop is closed and returns what it saw.
		attack func(t *testing.T, stop <-chan struct{}) string
		// memBound is how much nghttpx may grow during the attack.
		memBound int64
	}{
		{"idle connections", func(t *testing.T, stop <-chan struct{}) string {
			return idleConns(t, addr, idleCount(), stop)
		}, 300 << 20},
		{"slowloris headers", func(t *testing.T, stop <-chan struct{}) string {
			return slowloris(t, addr, 500, stop)
		}, 64 << 20},
		{"oversized headers", func(t *testing.T, stop <-chan struct{}) string {
			return oversizedHeaders(t, addr, stop)
		}, 64 << 20},
		{"oversized bodies", func(t *testing.T, stop <-chan struct{}) string {
			return oversizedBodies(t, addr, 8, stop)
		}, 128 << 20},
		{"HTTP/2 rapid reset", func(t *testing.T, stop <-chan struct{}) string {
			return rapidReset(t, addr, stop)
		}, 64 << 20},
		{"HTTP/2 CONTINUATION flood", func(t *testing.T, stop <-chan struct{}) string {
			return continuationFlood(t, addr, stop)
		}, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := g.data().PID()
			restarts := g.data().Stats().Restarts.Load()
			before := rssOf(t, main)
			cpu0 := cpuOf(t, main)
			loads := []*traffic{g.startTraffic("h1", 2), g.startTraffic("h2c", 2)}
			stop := make(chan struct{})
			var seen string
			var peak atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				seen = tc.attack(t, stop)
			}()
			// Sample memory while the attack runs: the peak is what must stay bounded.
			sampleEnd := time.Now().Add(hold)
			for time.Now().Before(sampleEnd) {
				if r := rssOf(t, main); r > peak.Load() {
					peak.Store(r)
				}
				time.Sleep(100 * time.Millisecond)
			}
			close(stop)
			<-done
			for _, l := range loads {
				l.stop()
			}
			after := rssOf(t, main)
			busy := float64(cpuOf(t, main)-cpu0) / float64(hold) * 100
			if g.data().PID() != main || g.data().Stats().Restarts.Load() != restarts {
				t.Errorf("nghttpx restarted during the attack (pid %d -> %d)", main, g.data().PID())
			}
			growth := peak.Load() - before
			t.Logf("attack: %s; nghttpx RSS %s before, %s peak, %s after; nghttpx CPU %.0f%%", seen, mib(before), mib(peak.Load()), mib(after), busy)
			if growth > tc.memBound {
				t.Errorf("nghttpx grew by %s during the attack, bound %s", mib(growth), mib(tc.memBound))
			}
			for _, l := range loads {
				rate := float64(l.reqs.Load()) / hold.Seconds()
				t.Logf("%s; %.0f req/s (%.0f without the attack)", l, rate, base[l.name])
				if l.reqs.Load() == 0 {
					t.Errorf("%s traffic sent no request", l.name)
				}
				if l.failed() > 0 {
					t.Errorf("%s: %d requests failed during the attack: %s", l.name, l.failed(), describe(l.all()))
				}
				report(t, row{Scenario: tc.name, Traffic: l.name, Requests: l.reqs.Load(), Failed: l.failed(), Allowed: "none",
					MemBefore: mib(before), MemAfter: fmt.Sprintf("%s (peak %s)", mib(after), mib(peak.Load())),
					Notes: fmt.Sprintf("%s; nghttpx CPU %.0f%%; this traffic %.0f req/s, %.0f without the attack", seen, busy, rate, base[l.name])})
			}
		})
	}
}

// idleCount is the number of idle connections: FAULTS_IDLE (make faults: 10000),
// else 2000.
func idleCount() int {
	if n, err := strconv.Atoi(os.Getenv("FAULTS_IDLE")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// idleConns opens n TCP connections that never send a byte and holds them.
func idleConns(t *testing.T, addr string, n int, stop <-chan struct{}) string {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var failed int
	var firstErr error
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		conns = append(conns, c)
	}
	<-stop
	// Still open? A read that times out means nghttpx kept the connection.
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); isTimeout(err) {
			open++
		}
	}
	s := fmt.Sprintf("%d idle connections opened (%d refused", len(conns), failed)
	if firstErr != nil {
		s += ": " + firstErr.Error()
	}
	return s + fmt.Sprintf("), %d still open at the end", open)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// slowloris opens n connections that send a request's header one byte every
// 200 ms and never finish it.
func slowloris(t *testing.T, addr string, n int, stop <-chan struct{}) string {
	var wg sync.WaitGroup
	var closed, bytesSent atomic.Int64
	for range n {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				closed.Add(1)
				return
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n"); err != nil {
				closed.Add(1)
				return
			}
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := c.Write([]byte("X")); err != nil {
					closed.Add(1)
					return
				}
				bytesSent.Add(1)
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("%d slow connections, %d header bytes trickled, %d closed by the proxy", n, bytesSent.Load(), closed.Load())
}

// oversizedHeaders sends, in a loop, HTTP/1.1 requests with one 200 KiB header
// and with 1,000 header fields, and an h2c request with a 200 KiB header: each
// must be refused (431, or the connection reset for h2) without reaching a
// backend.
func oversizedHeaders(t *testing.T, addr string, stop <-chan struct{}) string {
	big := strings.Repeat("a", 200<<10)
	var many strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&many, "x-f%d: v\r\n", i)
	}
	counts := map[string]int{}
	for {
		select {
		case <-stop:
			return fmt.Sprintf("answers: %v", counts)
		default:
		}
		counts["200KiB header: "+h1Status(addr, "x-big: "+big+"\r\n")]++
		counts["1000 fields: "+h1Status(addr, many.String())]++
		counts["h2 200KiB header: "+h2BigHeader(addr, big)]++
	}
}

// h1Status sends GET / with extra header lines on a new connection and returns
// the status line's code, or what went wrong.
func h1Status(addr, extra string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n"+extra+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "no answer"
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// h2Conn opens an h2c prior-knowledge connection and exchanges SETTINGS.
func h2Conn(addr string) (net.Conn, *http2.Framer, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		c.Close()
		return nil, nil, err
	}
	fr := http2.NewFramer(c, c)
	fr.SetMaxReadFrameSize(1 << 20)
	if err := fr.WriteSettings(); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, fr, nil
}

func requestBlock(extra ...hpack.HeaderField) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	enc.SetMaxDynamicTableSizeLimit(0)
	for _, f := range append([]hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: host}, {Name: ":path", Value: "/"}}, extra...) {
		enc.WriteField(f)
	}
	return b.Bytes()
}

// h2Outcome reads frames until the stream or connection ends and says how.
func h2Outcome(c net.Conn, fr *http2.Framer, stream uint32) string {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "connection closed"
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return "GOAWAY " + f.ErrCode.String()
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				return "RST_STREAM " + f.ErrCode.String()
			}
		case *http2.HeadersFrame:
			if f.StreamID == stream {
				hs, _ := dec.DecodeFull(f.HeaderBlockFragment())
				for _, h := range hs {
					if h.Name == ":status" {
						return h.Value
					}
				}
			}
		}
	}
}

func h2BigHeader(addr, big string) string {
	c, fr, err := h2Conn(addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	block := requestBlock(hpack.HeaderField{Name: "x-big", Value: big})
	// Split into frames of the default maximum size (16 KiB).
	const max = 16 << 10
	first := block[:min(max, len(block))]
	rest := block[len(first):]
	go func() {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: len(rest) == 0})
		for len(rest) > 0 {
			n := min(max, len(rest))
			if fr.WriteContinuation(1, n == len(rest), rest[:n]) != nil {
				return
			}
			rest = rest[n:]
		}
	}()
	return h2Outcome(c, fr, 1)
}

// oversizedBodies streams n concurrent POSTs of 256 MiB each as fast as the
// proxy takes them: nghttpx sets no request body limit, so what must hold is
// its memory (flow control and buffer limits), not a refusal.
func oversizedBodies(t *testing.T, addr string, n int, stop <-chan struct{}) string {
	var wg sync.WaitGroup
	var sent atomic.Int64
	chunk := bytes.Repeat([]byte("b"), 64<<10)
	for range n {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", host, 256<<20)
			for sent.Load() < int64(n)*256<<20 {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				k, err := c.Write(chunk)
				sent.Add(int64(k))
				if err != nil && !isTimeout(err) {
					return
				}
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("%d uploads, %s of body accepted by the proxy", n, mib(sent.Load()))
}

// h2Flood opens one h2c connection after another until stop and calls send on
// each with n = 0, 1, 2, ...: send writes frames until it returns false (a write
// failed, or it is done) or the proxy ends the connection. It returns the
// connections made and how the proxy ended them.
func h2Flood(addr string, stop <-chan struct{}, send func(fr *http2.Framer, n int) bool) (int, map[string]int) {
	conns := 0
	ends := map[string]int{}
	for {
		select {
		case <-stop:
			return conns, ends
		default:
		}
		c, fr, err := h2Conn(addr)
		if err != nil {
			ends["dial error"]++
			time.Sleep(10 * time.Millisecond)
			continue
		}
		conns++
		end := make(chan string, 1)
		go func() { end <- h2Outcome(c, fr, 0) }()
		var why string
	loop:
		for n := 0; send(fr, n); n++ {
			select {
			case why = <-end:
				break loop
			case <-stop:
				break loop
			default:
			}
		}
		c.Close()
		if why == "" {
			why = <-end
		}
		ends[why]++
	}
}

// rapidReset opens and immediately resets streams (CVE-2023-44487) on one
// connection after another until stop, and reports how the proxy ended them.
func rapidReset(t *testing.T, addr string, stop <-chan struct{}) string {
	block := requestBlock()
	streams := 0
	conns, ends := h2Flood(addr, stop, func(fr *http2.Framer, n int) bool {
		id := uint32(1 + 2*n)
		if n == 100000 ||
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			return false
		}
		streams++
		return true
	})
	return fmt.Sprintf("%d connections, %d streams opened and reset; connections ended by %v", conns, streams, ends)
}

// continuationFlood sends a HEADERS frame without END_HEADERS followed by
// CONTINUATION frames that never end (CVE-2024-28182) on one connection after
// another until stop.
func continuationFlood(t *testing.T, addr string, stop <-chan struct{}) string {
	junk := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 3000) // literal x: y fields
	frames := 0
	conns, ends := h2Flood(addr, stop, func(fr *http2.Framer, n int) bool {
		if n == 0 && fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: requestBlock(), EndStream: true, EndHeaders: false}) != nil {
			return false
		}
		if n == 100000 || fr.WriteContinuation(1, false, junk) != nil {
			return false
		}
		frames++
		return true
	})
	return fmt.Sprintf("%d connections, %d CONTINUATION frames; connections ended by %v", conns, frames, ends)
}
