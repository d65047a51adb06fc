package testproc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load sends requests in a loop over keep-alive connections and counts failures
// (transport errors and non-200 answers) and the echo pods that answered.
type Load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	Requests, Failures atomic.Int64
	mu                 sync.Mutex
	errs               []string
	pods               map[string]int
}

// StartLoad runs workers loops against url until Stop.
func StartLoad(url string, workers int) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel, pods: map[string]int{}}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers}}
	for range workers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				l.once(ctx, c, url)
			}
		})
	}
	return l
}

func (l *Load) once(ctx context.Context, c *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopping: not a failure
	}
	l.Requests.Add(1)
	var e Echo
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			err = rerr
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
		default:
			err = json.Unmarshal(b, &e)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.Failures.Add(1)
		if len(l.errs) < 10 {
			l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		return
	}
	l.pods[e.Pod]++
}

// Stop ends the loops and returns the first errors and the pods seen.
func (l *Load) Stop() (errs []string, pods map[string]int) {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...), l.pods
}
