//go:build e2e

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// echoResponse is what echo-basic answers.
type echoResponse struct {
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Method    string              `json:"method"`
	Headers   map[string][]string `json:"headers"`
	Namespace string              `json:"namespace"`
	Pod       string              `json:"pod"`
}

func (e *echoResponse) header(name string) string {
	if v := e.Headers[http.CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// target is where a request goes: a Gateway address (host:port) plus Host and path.
type target struct{ addr, host, path string }

func (tg target) String() string { return "http://" + tg.addr + tg.path + " (Host " + tg.host + ")" }

// transport dials from inside the cluster network namespace (c.DialContext), never
// from the host's; with an attached cluster (kind) it dials from the host.
func (s *suite) transport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:         s.c.DialContext,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// do sends one GET; resp is nil unless the answer is echo JSON.
func do(ctx context.Context, hc *http.Client, tg target) (status int, resp *echoResponse, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+tg.addr+tg.path, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Host = tg.host
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, nil, "", fmt.Errorf("reading body: %w", err)
	}
	var e echoResponse
	if json.Unmarshal(b, &e) == nil && e.Pod != "" {
		resp = &e
	}
	return res.StatusCode, resp, string(b), nil
}

// get sends one request from inside the cluster network namespace.
func (s *suite) get(ctx context.Context, tg target) (int, *echoResponse, string, error) {
	tr := s.transport(1)
	defer tr.CloseIdleConnections()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return do(rctx, &http.Client{Transport: tr}, tg)
}

// waitServes polls tg until ok accepts the answer; it returns the last answer.
func (s *suite) waitServes(ctx context.Context, t *testing.T, tg target, timeout time.Duration, what string, ok func(status int, e *echoResponse) bool) *echoResponse {
	t.Helper()
	var last string
	var resp *echoResponse
	err := e2eutil.Poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		status, e, body, err := s.get(ctx, tg)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("status %d: %.300s", status, body)
		resp = e
		return ok(status, e), nil
	})
	if err != nil {
		t.Fatalf("%s: %s not seen within %s; last answer: %s", tg, what, timeout, last)
	}
	return resp
}

// sample is one successful request of a load run.
type sample struct {
	at     time.Duration // since the load started
	pod    string
	marker string // the x-e2e-version request header the backend saw, if any
}

type loadResult struct {
	ok, failed int
	errs       []string // the first failures, with their time
	samples    []sample
	took       time.Duration
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d ok, %d failed in %s (%.0f req/s)", r.ok, r.failed, r.took.Round(time.Millisecond),
		float64(r.ok+r.failed)/r.took.Seconds())
}

// pods counts successful answers per pod from time from on.
func (r loadResult) pods(from time.Duration) map[string]int {
	m := map[string]int{}
	for _, s := range r.samples {
		if s.at >= from {
			m[s.pod]++
		}
	}
	return m
}

// load is a bounded load generator: workers share a fixed request rate and all stop
// at stop(), after maxDuration, or after maxDuration*rate requests, whichever is first.
type load struct {
	tg    target
	start time.Time
	stopC chan struct{}
	done  chan struct{}
	once  sync.Once

	mu  sync.Mutex
	res loadResult
}

// maxSamples bounds the memory a run keeps.
const maxSamples = 200_000

func (s *suite) startLoad(t *testing.T, tg target, workers, rate int, maxDuration time.Duration) *load {
	t.Helper()
	return s.startLoadOn(t, s.transport(workers), tg, workers, rate, maxDuration)
}

// startLoadOn is startLoad over tr (HTTP/2 without TLS, say); the run closes its
// idle connections at the end.
func (s *suite) startLoadOn(t *testing.T, tr *http.Transport, tg target, workers, rate int, maxDuration time.Duration) *load {
	t.Helper()
	l := &load{tg: tg, start: time.Now(), stopC: make(chan struct{}), done: make(chan struct{})}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	tokens := make(chan struct{}, workers)
	budget := int(maxDuration.Seconds()) * rate
	ctx, cancel := context.WithTimeout(context.Background(), maxDuration)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // pacer
		defer wg.Done()
		defer close(tokens)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; i < budget; i++ {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			case <-l.stopC:
				return
			}
			select {
			case tokens <- struct{}{}:
			default: // workers are behind; the rate is a ceiling
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range tokens {
				status, e, body, err := do(ctx, hc, tg)
				at := time.Since(l.start)
				l.mu.Lock()
				switch {
				case err != nil && ctx.Err() != nil:
					// the run's own deadline, not a failure of the system under test
				case err != nil:
					l.fail(at, err.Error())
				case status != http.StatusOK || e == nil:
					l.fail(at, fmt.Sprintf("status %d: %.200s", status, body))
				default:
					l.res.ok++
					if len(l.res.samples) < maxSamples {
						l.res.samples = append(l.res.samples, sample{at: at, pod: e.Pod, marker: e.header("x-e2e-version")})
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		tr.CloseIdleConnections()
		l.mu.Lock()
		l.res.took = time.Since(l.start)
		l.mu.Unlock()
		close(l.done)
	}()
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *load) fail(at time.Duration, msg string) {
	l.res.failed++
	if len(l.res.errs) < 20 {
		l.res.errs = append(l.res.errs, fmt.Sprintf("+%s %s", at.Round(time.Millisecond), msg))
	}
}

// snapshot is the result so far (the load keeps running).
func (l *load) snapshot() loadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.res
	r.samples = append([]sample(nil), l.res.samples...)
	r.took = time.Since(l.start)
	return r
}

func (l *load) elapsed() time.Duration { return time.Since(l.start) }

// stop ends the run and returns its result.
func (l *load) stop() loadResult {
	l.once.Do(func() { close(l.stopC) })
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

// requireNoFailures fails the test when any request of the run failed, and when the
// run was too thin to mean anything.
func requireNoFailures(t *testing.T, what string, r loadResult, minOK int) {
	t.Helper()
	t.Logf("%s: %s", what, r)
	if r.failed > 0 {
		t.Errorf("%s: %d failed requests; first ones:\n  %s", what, r.failed, strings.Join(r.errs, "\n  "))
	}
	if r.ok < minOK {
		t.Errorf("%s: only %d successful requests, want at least %d", what, r.ok, minOK)
	}
}

// proxyStatus is the data-plane agent's GET /status on its admin port.
type proxyStatus struct {
	ModelHash    string `json:"modelHash"`
	Applied      *bool  `json:"applied"`
	Reloads      *int64 `json:"reloads"`
	BackendPosts *int64 `json:"backendPosts"`
	RouteWrites  *int64 `json:"routeWrites"`
	// Restarts counts nghttpx processes that died and were started again (optional).
	Restarts *int64 `json:"restarts"`
}

func (p proxyStatus) String() string {
	v := func(n *int64) string {
		if n == nil {
			return "?"
		}
		return fmt.Sprint(*n)
	}
	return fmt.Sprintf("hash=%.12s applied=%v reloads=%s backendPosts=%s routeWrites=%s restarts=%s", p.ModelHash,
		p.Applied != nil && *p.Applied, v(p.Reloads), v(p.BackendPosts), v(p.RouteWrites), v(p.Restarts))
}

// adminPort is the proxy role's admin port (--admin-port default).
const adminPort = "9901"

// proxyStatuses reads /status of every ready data-plane pod of a Gateway through the
// API server's pod proxy (which works the same on the local cluster and on kind).
func (s *suite) proxyStatuses(ctx context.Context, t *testing.T, ns, gateway string) map[string]proxyStatus {
	t.Helper()
	pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, gateway))
	if err != nil {
		t.Fatalf("data-plane pods of %s/%s: %v", ns, gateway, err)
	}
	out := map[string]proxyStatus{}
	for i := range pods {
		p := &pods[i]
		if !e2eutil.PodReady(p) {
			continue
		}
		st, err := s.proxyStatus(ctx, p)
		if err != nil {
			t.Fatalf("data-plane pod %s: %v", p.Name, err)
		}
		out[p.Name] = st
	}
	if len(out) == 0 {
		t.Fatalf("Gateway %s/%s has no ready data-plane pod (selector %s, %d pods)", ns, gateway, dataPlaneSelector(ns, gateway), len(pods))
	}
	return out
}

func (s *suite) proxyStatus(ctx context.Context, p *corev1.Pod) (proxyStatus, error) {
	var st proxyStatus
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := e2eutil.ProxyStatus(rctx, s.cs, p, adminPort)
	if err != nil {
		return st, fmt.Errorf("GET /status on :%s: %w (%.200s)", adminPort, err, b)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("/status is not JSON: %w: %.300s", err, b)
	}
	if st.Reloads == nil || st.BackendPosts == nil || st.RouteWrites == nil || st.Applied == nil || st.ModelHash == "" {
		return st, fmt.Errorf("/status lacks modelHash/applied/reloads/backendPosts/routeWrites: %.300s", b)
	}
	return st, nil
}

// restarts is Restarts, 0 when the proxy does not report it.
func (p proxyStatus) restarts() int64 {
	if p.Restarts == nil {
		return 0
	}
	return *p.Restarts
}

// counterDelta sums a counter over pods, keyed the same in before and after; pods that
// are in only one of them are reported, since a replaced pod resets its counters.
func counterDelta(t *testing.T, what string, before, after map[string]proxyStatus, get func(proxyStatus) int64) int64 {
	t.Helper()
	var names []string
	for n := range after {
		names = append(names, n)
	}
	sort.Strings(names)
	var d int64
	for _, n := range names {
		b, ok := before[n]
		if !ok {
			t.Errorf("%s: data-plane pod %s appeared during the run (pods before: %d)", what, n, len(before))
			continue
		}
		d += get(after[n]) - get(b)
	}
	for n := range before {
		if _, ok := after[n]; !ok {
			t.Errorf("%s: data-plane pod %s disappeared during the run", what, n)
		}
	}
	return d
}
