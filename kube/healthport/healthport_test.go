package healthport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// start serves s on a fresh 127.0.0.1 port and returns its base URL.
func start(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	var ready atomic.Bool
	s := &Server{
		Healthz: []Check{{"ping", func(*http.Request) error { return nil }}},
		Readyz: []Check{{"ping", func(*http.Request) error { return nil }}, {"built", func(*http.Request) error {
			if !ready.Load() {
				return errors.New("the first translation has not run yet")
			}
			return nil
		}}},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "m 1\n") }),
		Log:     testr.New(t),
	}
	base := start(t, s)
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	if code != 500 || !strings.Contains(body, "[-]built failed: the first translation has not run yet") ||
		!strings.Contains(body, "[+]ping ok") || !strings.HasSuffix(body, "readyz check failed\n") {
		t.Errorf("/readyz before the first build: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz/ping"); code != 200 || body != "ok" {
		t.Errorf("/readyz/ping: %d %q", code, body)
	}
	if code, _ := get(t, base+"/readyz?exclude=built"); code != 200 {
		t.Errorf("/readyz?exclude=built: %d", code)
	}
	ready.Store(true)
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ok" {
		t.Errorf("/readyz after the first build: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz?verbose"); code != 200 || body != "[+]ping ok\n[+]built ok\nreadyz check passed\n" {
		t.Errorf("/readyz?verbose: %d %q", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || body != "m 1\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, _ := get(t, base+"/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ without Profiling: %d, want 404", code)
	}
}

func TestProfiling(t *testing.T) {
	base := start(t, &Server{Profiling: true, Healthz: []Check{{"ping", func(*http.Request) error { return nil }}}})
	if code, body := get(t, base+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d %.200q", code, body)
	}
	if code, body := get(t, base+"/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("/debug/pprof/goroutine: %d %.200q", code, body)
	}
	if code, body := get(t, base+"/debug/pprof/profile?seconds=1"); code != 200 || len(body) == 0 {
		t.Errorf("/debug/pprof/profile: %d, %d bytes", code, len(body))
	}
	if code, _ := get(t, base+"/debug/pprof/symbol"); code != 200 {
		t.Errorf("/debug/pprof/symbol: %d", code)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &Server{Addr: ln.Addr().String()}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "health port") {
		t.Errorf("Start on a busy port: %v", err)
	}
}
