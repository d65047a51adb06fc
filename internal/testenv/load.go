package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Target is what a load loop requests: GET URL with Host (empty: from URL) and
// Header. It must answer with echo-basic JSON.
type Target struct {
	URL    string
	Host   string
	Header http.Header
}

// Load sends GET requests to one target in concurrent loops over keep-alive
// HTTP/1.1 connections (the client reconnects when the proxy closes one) and
// counts the requests and the failures among them: transport errors, answers other
// than 200, and bodies that are not an echo answer.
type Load struct {
	Requests, Failures atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
	tr     *http.Transport
	once   sync.Once
	res    LoadResult

	mu   sync.Mutex
	errs []string
	pods map[string]int
}

// LoadResult is what a stopped Load saw.
type LoadResult struct {
	Requests, Failures int64
	// Errors holds the first failures, each with its time.
	Errors []string
	// Pods counts the answers per echo pod.
	Pods map[string]int
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d requests, %d failures, pods %v", r.Requests, r.Failures, r.Pods)
}

const maxLoadErrors = 10

// StartLoad runs workers loops against target until Stop (or the end of the test).
func StartLoad(t testing.TB, target Target, workers int) *Load {
	t.Helper()
	if _, err := http.NewRequest(http.MethodGet, target.URL, nil); err != nil {
		t.Fatalf("load target: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel, pods: map[string]int{},
		tr: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, DisableCompression: true}}
	c := &http.Client{Timeout: 5 * time.Second, Transport: l.tr}
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				l.one(ctx, c, target)
			}
		})
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

func (l *Load) one(ctx context.Context, c *http.Client, target Target) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.URL, nil)
	req.Host = target.Host
	for k, vs := range target.Header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		if err == nil {
			resp.Body.Close()
		}
		return // stopping: not a failure
	}
	l.Requests.Add(1)
	var e EchoResponse
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			err = rerr
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %d: %s", resp.StatusCode, tail(string(b), 200))
		default:
			err = json.Unmarshal(b, &e)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.Failures.Add(1)
		if len(l.errs) < maxLoadErrors {
			l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		return
	}
	l.pods[e.Pod]++
}

// Pods returns the answers per echo pod so far.
func (l *Load) Pods() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.pods)
}

// Stop ends the loops, closes their connections and returns what they saw. Later
// calls return the same result.
func (l *Load) Stop() LoadResult {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
		l.tr.CloseIdleConnections()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.res = LoadResult{Requests: l.Requests.Load(), Failures: l.Failures.Load(),
			Errors: append([]string(nil), l.errs...), Pods: maps.Clone(l.pods)}
	})
	return l.res
}
