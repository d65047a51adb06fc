//go:build integration

package livetest

import (
	"encoding/json"
	"fmt"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// TestLiveRetry runs HTTPRoute retry policies through a real nghttpx with our retry
// patch: a listed status is retried up to the budget, the last answer is returned
// when it runs out, unlisted codes and requests with a body are not retried, the
// backoff is kept, x-ngxgw-retry never reaches the backend (HTTP/1.1 or h2c) and a
// client cannot set it.

// flaky is a backend that answers ?code= for the first ?fail= requests of each
// ?id= and 200 afterwards, and records every attempt.
type flaky struct {
	mu       sync.Mutex
	attempts map[string][]flakyAttempt
}

type flakyAttempt struct {
	at       time.Time
	body     string
	proto    string
	internal []string // x-ngxgw-* headers the backend saw
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	fail, _ := strconv.Atoi(q.Get("fail"))
	code, _ := strconv.Atoi(q.Get("code"))
	body, _ := io.ReadAll(r.Body)
	a := flakyAttempt{at: time.Now(), body: string(body), proto: r.Proto}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), validate.InternalHeaderPrefix) {
			a.internal = append(a.internal, k)
		}
	}
	f.mu.Lock()
	f.attempts[id] = append(f.attempts[id], a)
	n := len(f.attempts[id])
	f.mu.Unlock()
	w.Header().Set("content-type", "application/json")
	if n <= fail {
		w.WriteHeader(code)
	}
	json.NewEncoder(w).Encode(map[string]any{"attempt": n, "body": string(body)})
}

func (f *flaky) get(id string) []flakyAttempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flakyAttempt(nil), f.attempts[id]...)
}

func startFlaky(t *testing.T) (*flaky, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{attempts: map[string][]flakyAttempt{}}
	// HTTP/1.1 and prior-knowledge h2c on one port.
	srv := &http.Server{Handler: f, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f, ln.Addr().(*net.TCPAddr).Port
}

func TestLiveRetry(t *testing.T) {
	backend, bport := startFlaky(t)
	ports := testenv.FreePorts(t, 3)
	v1 := []model.WeightedBackend{backendRef("flaky", 1)}
	rules := []model.Rule{
		{Name: "code-500-attempts-3", Match: prefix("/code-500-attempts-3"), Backends: v1,
			Retry:           &model.Retry{Codes: []int{500}, Attempts: 3},
			ResponseHeaders: &model.HeaderModifier{Set: []model.NameValue{{Name: "x-resp", Value: "mod"}}}},
		{Name: "code-all-attempts-2", Match: prefix("/code-all-attempts-2"), Backends: v1,
			Retry: &model.Retry{Codes: []int{500, 502, 503, 504}, Attempts: 2}},
		{Name: "backoff", Match: prefix("/backoff"), Backends: v1,
			Retry: &model.Retry{Codes: []int{503}, Attempts: 2, BackoffMillis: 200}},
		{Name: "h2-backend", Match: prefix("/h2-backend"), Backends: []model.WeightedBackend{backendRef("flaky-h2", 1)},
			Retry: &model.Retry{Codes: []int{500}, Attempts: 3}},
		{Name: "plain", Match: prefix("/"), Backends: v1},
	}
	gw := &model.Gateway{
		Addresses: []string{"127.0.0.1"},
		Ports: []model.Port{{Port: int32(ports[0]), Protocol: model.ProtocolHTTP, Listeners: []model.Listener{
			{VirtualHosts: []model.VirtualHost{{Rules: rules}}},
		}}},
		Clusters: []model.Cluster{
			{Name: "flaky", Protocol: model.BackendHTTP1, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(bport)}}},
			{Name: "flaky-h2", Protocol: model.BackendH2C, Endpoints: []model.Endpoint{{IP: "127.0.0.1", Port: int32(bport)}}},
		},
	}
	dir := t.TempDir()
	opts := render.Options{StateDir: dir, APIPort: ports[1], HealthPort: ports[2], Workers: 1, GracePeriod: time.Second,
		Features: routing(render.Features{StatusRetry: true})}
	cfg, err := render.Render(gw, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, dir, cfg)
	ngx := testenv.StartNghttpx(t, filepath.Join(dir, render.MainFile), ports[0])

	h1 := &http.Transport{DisableCompression: true}
	h2c := &http.Transport{DisableCompression: true, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(func() {
		h1.CloseIdleConnections()
		h2c.CloseIdleConnections()
	})
	clients := map[string]*http.Client{
		"http1": {Transport: h1, Timeout: 10 * time.Second},
		"h2c":   {Transport: h2c, Timeout: 10 * time.Second},
	}

	seq := 0
	// send makes one request and returns its status, the attempts the backend saw
	// and the response.
	send := func(t *testing.T, c *http.Client, method, path string, fail, code int, body string, hdr map[string]string) (int, []flakyAttempt, *http.Response) {
		t.Helper()
		seq++
		id := fmt.Sprintf("%s-%d", t.Name(), seq)
		url := fmt.Sprintf("http://127.0.0.1:%d%s?id=%s&fail=%d&code=%d", ports[0], path, id, fail, code)
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, url, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "retry.example"
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := backend.get(id)
		for _, a := range got {
			if len(a.internal) > 0 {
				t.Fatalf("%s %s: internal headers %v reached the backend", method, path, a.internal)
			}
		}
		return resp.StatusCode, got, resp
	}
	expect := func(t *testing.T, c *http.Client, path string, fail, code, wantStatus, wantAttempts int) *http.Response {
		t.Helper()
		st, att, resp := send(t, c, "GET", path, fail, code, "", nil)
		if st != wantStatus || len(att) != wantAttempts {
			t.Fatalf("GET %s fail=%d code=%d: status %d after %d attempts, want %d after %d",
				path, fail, code, st, len(att), wantStatus, wantAttempts)
		}
		return resp
	}

	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			t.Run("WithinBudget", func(t *testing.T) {
				resp := expect(t, c, "/code-500-attempts-3", 2, 500, 200, 3)
				// The per-pattern script's state survives the retry: response header
				// modifiers apply to the answer that is finally forwarded.
				if got := resp.Header.Get("x-resp"); got != "mod" {
					t.Fatalf("x-resp %q after retries, want mod", got)
				}
				expect(t, c, "/code-500-attempts-3", 3, 500, 200, 4)
				for _, code := range []int{500, 502, 503, 504} {
					expect(t, c, "/code-all-attempts-2", 1, code, 200, 2)
				}
			})
			t.Run("BudgetExhausted", func(t *testing.T) {
				resp := expect(t, c, "/code-500-attempts-3", 4, 500, 500, 4)
				if got := resp.Header.Get("x-resp"); got != "mod" {
					t.Fatalf("x-resp %q on the last error, want mod", got)
				}
				for _, code := range []int{500, 502, 503, 504} {
					expect(t, c, "/code-all-attempts-2", 3, code, code, 3)
				}
			})
			t.Run("UnlistedCode", func(t *testing.T) {
				expect(t, c, "/code-500-attempts-3", 2, 503, 503, 1)
				expect(t, c, "/code-all-attempts-2", 1, 501, 501, 1)
				expect(t, c, "/code-all-attempts-2", 1, 404, 404, 1)
			})
			t.Run("NoPolicy", func(t *testing.T) {
				expect(t, c, "/plain", 1, 500, 500, 1)
				// A client cannot ask for retries: the router strips x-ngxgw-*.
				st, att, _ := send(t, c, "GET", "/plain", 1, 500, "", map[string]string{"X-Ngxgw-Retry": "500;5"})
				if st != 500 || len(att) != 1 {
					t.Fatalf("client x-ngxgw-retry: status %d after %d attempts, want 500 after 1", st, len(att))
				}
			})
			t.Run("Backoff", func(t *testing.T) {
				start := time.Now()
				st, att, _ := send(t, c, "GET", "/backoff", 2, 503, "", nil)
				if st != 200 || len(att) != 3 {
					t.Fatalf("status %d after %d attempts, want 200 after 3", st, len(att))
				}
				for i := 1; i < len(att); i++ {
					if gap := att[i].at.Sub(att[i-1].at); gap < 200*time.Millisecond {
						t.Fatalf("attempt %d came %v after the previous one, want at least 200ms", i+1, gap)
					}
				}
				t.Logf("3 attempts with 200ms backoff took %v", time.Since(start))
			})
			t.Run("H2CBackend", func(t *testing.T) {
				// Documented limit: HTTP/2 backends are not retried on status, and
				// the policy header is removed for them too (send checks).
				st, att, _ := send(t, c, "GET", "/h2-backend", 1, 500, "", nil)
				if st != 500 || len(att) != 1 || att[0].proto != "HTTP/2.0" {
					t.Fatalf("status %d after %d attempts (%+v), want 500 after 1 over HTTP/2", st, len(att), att)
				}
			})
			t.Run("Body", func(t *testing.T) {
				// A request without a body is replayed whatever its method.
				st, att, _ := send(t, c, "POST", "/code-500-attempts-3", 1, 500, "", nil)
				if st != 200 || len(att) != 2 {
					t.Fatalf("POST without body: status %d after %d attempts, want 200 after 2", st, len(att))
				}
				// The body of the first attempt is not kept: such a request is not
				// retried and the backend's answer is returned as is.
				st, att, _ = send(t, c, "POST", "/code-500-attempts-3", 1, 500, "payload", nil)
				if st != 500 || len(att) != 1 || att[0].body != "payload" {
					t.Fatalf("POST with body: status %d after %d attempts (%+v), want 500 after 1 with the body", st, len(att), att)
				}
			})
		})
	}

	workers := ngx.WorkerPIDs(t)
	t.Run("ClientGoneDuringBackoff", func(t *testing.T) {
		// The request waits 200ms for its next attempt; the client leaves first.
		for name, tr := range map[string]http.RoundTripper{"http1": h1, "h2c": h2c} {
			impatient := &http.Client{Transport: tr, Timeout: 50 * time.Millisecond}
			url := fmt.Sprintf("http://127.0.0.1:%d/backoff?id=gone-%s&fail=100&code=503", ports[0], name)
			if resp, err := impatient.Get(url); err == nil {
				resp.Body.Close()
				t.Fatalf("%s: answer %d before the backoff ended", name, resp.StatusCode)
			}
		}
		time.Sleep(400 * time.Millisecond)
		for _, c := range clients {
			expect(t, c, "/code-500-attempts-3", 1, 500, 200, 2)
		}
		for name := range map[string]bool{"http1": true, "h2c": true} {
			if n := len(backend.get("gone-" + name)); n != 1 {
				t.Errorf("%s: backend saw %d attempts of the abandoned request, want 1", name, n)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// 400 requests on 8 connections per protocol whose backend always fails: each
		// is tried 4 times and answered 500.
		const perClient, conc = 200, 8
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan string, 2*perClient)
		for name, c := range clients {
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < perClient; i += conc {
						url := fmt.Sprintf("http://127.0.0.1:%d/code-500-attempts-3?id=load-%s-%d&fail=100&code=500", ports[0], name, i)
						resp, err := c.Get(url)
						if err != nil {
							errs <- err.Error()
							continue
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 500 {
							errs <- fmt.Sprintf("%s %d: status %d", name, i, resp.StatusCode)
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		total := 0
		for name := range clients {
			for i := 0; i < perClient; i++ {
				n := len(backend.get(fmt.Sprintf("load-%s-%d", name, i)))
				if n != 4 {
					t.Errorf("load-%s-%d: %d attempts, want 4", name, i, n)
				}
				total += n
			}
		}
		t.Logf("%d requests, %d backend attempts in %v", 2*perClient, total, time.Since(start))
	})
	if got := ngx.WorkerPIDs(t); !slices.Equal(got, workers) {
		t.Fatalf("nghttpx workers %v, were %v: a worker died", got, workers)
	}
}
