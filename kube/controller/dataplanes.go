package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
)

// target is what the poller checks for one Gateway.
type target struct {
	hash string
	// generation of the Gateway the model was built from.
	generation int64
	// pods are the addresses of the Gateway's ready data-plane pods.
	pods []string
}

// progress is what the poller found for one Gateway.
type progress struct {
	ready, current int
	// confirmed: some pod ran the model of the current Gateway generation at
	// some point (a later model, from a route or endpoint change, may still be
	// on its way).
	confirmed bool
	// overdue: no pod runs the current model although it is older than the
	// catch-up grace period.
	overdue bool
	// problem is an apply error a pod reports, if any.
	problem string
	// noOCSP counts the ready pods whose nghttpx reports no OCSP stapling.
	noOCSP int
}

type podReport struct {
	hash, err string
	// noOCSP: the pod's /status features say its nghttpx cannot staple
	// (false when it does not say: older proxies).
	noOCSP bool
}

type gatewayPoll struct {
	target
	reported     map[string]podReport
	hashSince    time.Time
	confirmedGen int64 // 0: never confirmed
	fastUntil    time.Time
	lastPoll     time.Time
	// lastSeen is the progress last reported through onChange (or seen by set).
	lastSeen progress
}

// poller asks data-plane pods which model they run.
type poller struct {
	port   int
	client *http.Client
	// token returns the admin token of a Gateway's proxies (nil: none sent).
	token     func(gw types.NamespacedName) string
	clock     clock.WithTicker
	fast      time.Duration // interval while waiting for pods to catch up
	slow      time.Duration // interval otherwise
	fastFor   time.Duration // how long a change keeps the fast interval
	grace     time.Duration // how long a new model may wait before it counts as overdue
	onChange  func()
	log       logr.Logger
	parallel  int
	requestTO time.Duration

	mu  sync.Mutex
	gws map[types.NamespacedName]*gatewayPoll
}

func newPoller(port int, dial func(ctx context.Context, network, addr string) (net.Conn, error), onChange func(), log logr.Logger) *poller {
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 1, IdleConnTimeout: 30 * time.Second}
	if dial == nil {
		tr.DialContext = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	}
	return &poller{
		port: port, client: &http.Client{Transport: tr}, clock: clock.RealClock{},
		fast: 500 * time.Millisecond, slow: 10 * time.Second, fastFor: 2 * time.Minute, grace: 10 * time.Second,
		onChange: onChange, log: log, parallel: 8, requestTO: 2 * time.Second,
		gws: map[types.NamespacedName]*gatewayPoll{},
	}
}

// set replaces the targets; a Gateway whose hash or pods changed is polled fast.
func (p *poller) set(targets map[types.NamespacedName]target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	for k, t := range targets {
		g := p.gws[k]
		if g == nil {
			g = &gatewayPoll{reported: map[string]podReport{}, hashSince: now}
			p.gws[k] = g
		}
		if g.hash != t.hash {
			g.hashSince = now
		}
		if g.hash != t.hash || !slices.Equal(g.pods, t.pods) {
			g.fastUntil = now.Add(p.fastFor)
			g.lastPoll = time.Time{}
		}
		g.target = t
		for ip := range g.reported {
			if !slices.Contains(t.pods, ip) {
				delete(g.reported, ip)
			}
		}
		g.noteConfirmed()
		g.lastSeen = g.progress(now, p.grace)
	}
	for k := range p.gws {
		if _, ok := targets[k]; !ok {
			delete(p.gws, k)
		}
	}
}

// progress returns what is known about the Gateway's data plane.
func (p *poller) progress(k types.NamespacedName) progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.gws[k]
	if g == nil {
		return progress{}
	}
	return g.progress(p.clock.Now(), p.grace)
}

func (g *gatewayPoll) current() int {
	n := 0
	for _, ip := range g.pods {
		if r, ok := g.reported[ip]; ok && r.hash == g.hash && g.hash != "" {
			n++
		}
	}
	return n
}

func (g *gatewayPoll) noteConfirmed() {
	if g.current() > 0 {
		g.confirmedGen = g.generation
	}
}

func (g *gatewayPoll) progress(now time.Time, grace time.Duration) progress {
	pr := progress{ready: len(g.pods), current: g.current()}
	pr.confirmed = g.confirmedGen != 0 && g.confirmedGen == g.generation
	pr.overdue = pr.current == 0 && !now.Before(g.hashSince.Add(grace))
	for _, ip := range g.pods {
		if e := g.reported[ip].err; e != "" && pr.problem == "" {
			pr.problem = e
		}
		if g.reported[ip].noOCSP {
			pr.noOCSP++
		}
	}
	return pr
}

func (g *gatewayPoll) hasUnknown() bool {
	for _, ip := range g.pods {
		if _, ok := g.reported[ip]; !ok {
			return true
		}
	}
	return false
}

// run polls until ctx is done.
func (p *poller) run(ctx context.Context) {
	t := p.clock.NewTicker(p.fast)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		p.pollDue(ctx, false)
	}
}

type podPoll struct {
	gw types.NamespacedName
	ip string
}

// pollDue polls the pods of every Gateway that is due and calls onChange once
// if any Gateway's progress changed (including becoming overdue). With
// unknownOnly it polls only Gateways with a pod never asked yet: a new leader
// must know what runs before it writes status.
func (p *poller) pollDue(ctx context.Context, unknownOnly bool) {
	p.mu.Lock()
	now := p.clock.Now()
	var due []podPoll
	changed := false
	for k, g := range p.gws {
		pr := g.progress(now, p.grace)
		catchingUp := now.Before(g.fastUntil) && pr.current < pr.ready
		switch {
		case unknownOnly:
			if !g.hasUnknown() {
				continue
			}
		case !catchingUp && now.Sub(g.lastPoll) < p.slow:
			continue
		}
		g.lastPoll = now
		for _, ip := range g.pods {
			due = append(due, podPoll{k, ip})
		}
	}
	p.mu.Unlock()
	results := make([]podReport, len(due))
	sem := make(chan struct{}, p.parallel)
	var wg sync.WaitGroup
	for i, d := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = p.ask(ctx, d.gw, d.ip)
		}()
	}
	wg.Wait()
	p.mu.Lock()
	for i, d := range due {
		if g := p.gws[d.gw]; g != nil && slices.Contains(g.pods, d.ip) {
			g.reported[d.ip] = results[i]
		}
	}
	// Every Gateway counts, polled or not: becoming overdue is a change too.
	now = p.clock.Now()
	for _, g := range p.gws {
		g.noteConfirmed()
		if pr := g.progress(now, p.grace); pr != g.lastSeen {
			g.lastSeen, changed = pr, true
		}
	}
	p.mu.Unlock()
	if changed && p.onChange != nil {
		p.onChange()
	}
}

// maxStatusBytes caps the /status body the controller reads from a pod; the
// proxy's is well under 4 KiB.
const maxStatusBytes = 64 << 10

// ask returns what a pod reports; an empty hash when it cannot tell.
func (p *poller) ask(ctx context.Context, gw types.NamespacedName, ip string) podReport {
	ctx, cancel := context.WithTimeout(ctx, p.requestTO)
	defer cancel()
	url := fmt.Sprintf("http://%s/status", net.JoinHostPort(ip, strconv.Itoa(p.port)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return podReport{}
	}
	if p.token != nil {
		req.Header.Set(keys.AdminTokenHeader, p.token(gw))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.log.V(1).Info("data-plane pod did not answer", "pod", ip, "error", err.Error())
		return podReport{}
	}
	defer resp.Body.Close()
	var st struct {
		ModelHash string `json:"modelHash"`
		Error     string `json:"error"`
		// Features are the data plane's detected features (proxyagent.Status).
		Features *struct {
			OCSP bool `json:"ocsp"`
		} `json:"features"`
	}
	if resp.StatusCode != http.StatusOK {
		return podReport{}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes+1))
	switch {
	case err != nil:
		p.log.V(1).Info("data-plane pod's /status unreadable", "pod", ip, "error", err.Error())
		return podReport{}
	case len(body) > maxStatusBytes:
		// Whoever answers on a pod IP must not make the controller buffer without end.
		p.log.Error(nil, "data-plane pod's /status is larger than the limit; ignoring it (is something else listening on the admin port?)",
			"pod", ip, "limitBytes", maxStatusBytes)
		return podReport{}
	}
	if json.Unmarshal(body, &st) != nil {
		return podReport{}
	}
	return podReport{hash: st.ModelHash, err: st.Error, noOCSP: st.Features != nil && !st.Features.OCSP}
}

// snapshot returns every Gateway's progress (for tests and logs).
func (p *poller) snapshot() map[types.NamespacedName]progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[types.NamespacedName]progress{}
	now := p.clock.Now()
	for k, g := range p.gws {
		out[k] = g.progress(now, p.grace)
	}
	return out
}
