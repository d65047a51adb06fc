package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// ErrStopped is returned by Apply after Stop.
var ErrStopped = errors.New("applier stopped")

// errNotRunning is transient: the supervisor is restarting nghttpx.
var errNotRunning = errors.New("nghttpx is not running")

// Applier runs one nghttpx and applies configurations to it. Its methods are safe
// for concurrent use; applies, restarts and Stop are serialised.
type Applier struct {
	opts  Options
	log   logr.Logger
	api   *apiClient
	stats Stats

	stopping  atomic.Bool
	stopOnce  sync.Once
	stopCh    chan struct{}
	superDone chan struct{}

	mu      sync.Mutex
	started bool
	cur     *render.Config        // last good config; on disk whenever mu is free
	prev    *render.Config        // the one before cur, whose route shards stay on disk
	live    []render.BackendGroup // what the running workers last accepted (= backends.conf)
	p       *process              // nil while restarting or after Stop
	rev     uint64                // configrevision of p
}

// New checks opts; nothing runs until Start.
func New(opts Options) (*Applier, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Applier{
		opts:      o,
		log:       o.Log,
		api:       newAPIClient(),
		stopCh:    make(chan struct{}),
		superDone: make(chan struct{}),
	}, nil
}

// Stats returns the live counters.
func (a *Applier) Stats() *Stats { return &a.stats }

// PID is the main nghttpx process, or 0 when none runs.
func (a *Applier) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p == nil || a.p.exited() {
		return 0
	}
	return a.p.pid
}

// ConfigRevision is the configrevision the applier last confirmed.
func (a *Applier) ConfigRevision() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rev
}

// Start writes cfg, starts nghttpx and waits until its API answers. ctx bounds the
// start only; nghttpx runs until Stop.
func (a *Applier) Start(ctx context.Context, cfg render.Config) error {
	if err := validate(&cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return errors.New("apply: already started")
	}
	if a.stopping.Load() {
		return ErrStopped
	}
	if err := os.MkdirAll(a.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	a.killLeftover(ctx)
	c := clone(&cfg)
	p, rev, err := a.launch(ctx, c, c.Backends)
	if err != nil {
		return err
	}
	a.started, a.cur, a.live, a.p, a.rev = true, c, c.Backends, p, rev
	go a.supervise(p)
	return nil
}

// launch writes cfg with backends and starts nghttpx; mu is held.
func (a *Applier) launch(ctx context.Context, cfg *render.Config, backends []render.BackendGroup) (*process, uint64, error) {
	if err := writeAll(a.opts.StateDir, cfg, backends); err != nil {
		return nil, 0, err
	}
	// No worker runs yet: only cfg's shards are needed.
	if err := removeShards(a.opts.StateDir, cfg); err != nil {
		a.log.Error(err, "cannot remove stale route shards")
	}
	addr, err := apiAddr(cfg.Main)
	if err != nil {
		return nil, 0, err
	}
	p, err := startProcess(a.opts.Binary, a.opts.StateDir, a.log)
	if err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(a.opts.StateDir, pidFile), []byte(strconv.Itoa(p.pid)+"\n"), 0o644); err != nil {
		a.log.Error(err, "cannot record the nghttpx pid")
	}
	rev, err := a.waitReady(ctx, p, addr)
	if err != nil {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if kerr := p.kill(kctx); kerr != nil {
			a.log.Error(kerr, "cleaning up nghttpx that failed to start")
		}
		return nil, 0, err
	}
	a.log.Info("nghttpx running", "pid", p.pid, "api", addr, "took", time.Since(p.started).Round(time.Millisecond))
	return p, rev, nil
}

// waitReady polls the API until it answers, nghttpx exits or ReadyTimeout passes.
func (a *Applier) waitReady(ctx context.Context, p *process, addr string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.ReadyTimeout)
	defer cancel()
	var lastErr error
	for {
		rev, err := a.api.revision(ctx, addr)
		if err == nil {
			return rev, nil
		}
		lastErr = err
		select {
		case <-p.done:
			p.waitLogs(time.Second)
			return 0, fmt.Errorf("%w: nghttpx exited during start (%v): %s", ErrRejected, p.waitErr, strings.Join(p.lastProblems(), "; "))
		case <-ctx.Done():
			return 0, fmt.Errorf("nghttpx API %s did not answer within %s: %w", addr, a.opts.ReadyTimeout, lastErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// killLeftover ends an nghttpx that an earlier supervisor of this state directory
// left running (it would hold the ports); mu is held.
func (a *Applier) killLeftover(ctx context.Context) {
	b, err := os.ReadFile(filepath.Join(a.opts.StateDir, pidFile))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	conf := "--conf=" + filepath.Join(a.opts.StateDir, render.MainFile)
	if !slices.Contains(proc.Cmdline(pid), conf) {
		return // another process reuses the pid
	}
	a.log.Info("ending nghttpx left over from an earlier run", "pid", pid)
	kctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := proc.KillGroup(kctx, pid); err != nil {
		a.log.Error(err, "cannot end leftover nghttpx", "pid", pid)
	}
}

// Apply brings nghttpx to cfg. It retries transient failures with backoff; a
// configuration nghttpx refuses is reported at once as ErrRejected and the last
// good one keeps serving (and stays on disk for restarts). ctx ends the waiting
// between attempts; an attempt that started changing nghttpx runs to completion,
// bounded by APITimeout and ReloadTimeout.
func (a *Applier) Apply(ctx context.Context, cfg render.Config) error {
	if err := validate(&cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	c := clone(&cfg)
	var delay time.Duration
	for attempt := 1; ; attempt++ {
		err := a.applyOnce(ctx, c)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrStopped) {
			return err
		}
		a.stats.ApplyErrors.Add(1)
		if errors.Is(err, ErrRejected) || ctx.Err() != nil || attempt >= a.opts.Retry.Attempts {
			return err
		}
		delay = a.opts.Retry.next(delay)
		a.log.Info("apply failed; retrying", "attempt", attempt, "in", delay, "err", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %w)", ctx.Err(), err)
		case <-a.stopCh:
			return ErrStopped
		case <-time.After(delay):
		}
	}
}

func (a *Applier) applyOnce(ctx context.Context, next *render.Config) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.stopping.Load():
		return ErrStopped
	case !a.started:
		return errors.New("apply: not started")
	case a.p == nil || a.p.exited():
		return errNotRunning
	}
	// Diff backends against what runs: after a failed apply that can be a superset
	// of the last good config's groups.
	running := *a.cur
	running.Backends = a.live
	pl := makePlan(&running, next, a.opts.StateDir)
	if pl.empty() {
		return nil
	}
	// From here on nghttpx changes: finish (bounded by the API and reload timeouts)
	// even if ctx ends, so that what runs and what is on disk stay known.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	defer func() {
		if err != nil {
			a.restoreFiles(pl)
		}
	}()
	if err := writeFiles(a.opts.StateDir, next, pl.writeFiles); err != nil {
		return err
	}
	if err := removeFiles(a.opts.StateDir, pl.removeFirst); err != nil {
		return err
	}
	if pl.reload {
		err = a.reload(ctx, next, pl)
	} else {
		err = a.update(ctx, next, pl)
	}
	if err != nil {
		return err
	}
	if pl.routes {
		a.prev = a.cur
	}
	a.cur = next
	if err := removeFiles(a.opts.StateDir, pl.staleFiles); err != nil {
		a.log.Error(err, "cannot remove stale files")
	}
	if pl.routes {
		// A worker that read the previous head may still load its shards.
		if err := removeShards(a.opts.StateDir, a.cur, a.prev); err != nil {
			a.log.Error(err, "cannot remove stale route shards")
		}
	}
	a.stats.Applies.Add(1)
	a.log.Info("applied", "plan", pl.String(), "took", time.Since(start).Round(time.Microsecond))
	return nil
}

// restoreFiles puts back the Files of the last good config after a failed apply,
// so that a restart runs it; mu is held.
func (a *Applier) restoreFiles(pl plan) {
	var added []string
	var changed []string
	for _, n := range pl.writeFiles {
		if _, ok := a.cur.Files[n]; ok {
			changed = append(changed, n)
		} else {
			added = append(added, n)
		}
	}
	changed = append(changed, pl.removeFirst...)
	if err := writeFiles(a.opts.StateDir, a.cur, changed); err != nil {
		a.log.Error(err, "cannot restore files of the last good configuration")
	}
	if err := removeFiles(a.opts.StateDir, added); err != nil {
		a.log.Error(err, "cannot remove files of a failed configuration")
	}
}

// post sends groups to the backend API at addr and records them as live.
func (a *Applier) post(ctx context.Context, addr string, groups []render.BackendGroup) error {
	a.stats.BackendPosts.Add(1)
	mark := 0
	if a.p != nil {
		mark = a.p.errorMark()
	}
	t := time.Now()
	if err := a.api.postBackends(ctx, addr, groups, a.opts.APITimeout); err != nil {
		if errors.Is(err, ErrRejected) && a.p != nil {
			// The worker logs why (e.g. "backend: x: unknown keyword") before it answers.
			if why := a.p.errorsSince(mark, 200*time.Millisecond); len(why) > 0 {
				err = fmt.Errorf("%w: %s", err, strings.Join(why, "; "))
			}
		}
		return fmt.Errorf("backend API: %w", err)
	}
	took := time.Since(t)
	a.stats.LastBackendPostNanos.Store(int64(took))
	a.log.V(1).Info("backend API accepted", "groups", len(groups), "took", took.Round(time.Microsecond))
	a.live = groups
	if err := writeBackends(a.opts.StateDir, groups); err != nil {
		return fmt.Errorf("backends accepted but not recorded: %w", err)
	}
	return nil
}

func (a *Applier) routes(cfg *render.Config) error {
	a.stats.RouteWrites.Add(1)
	return writeRoutes(a.opts.StateDir, cfg)
}

// update applies a change without reloading: add groups, switch routes, remove groups.
func (a *Applier) update(ctx context.Context, next *render.Config, pl plan) (err error) {
	addr, err := apiAddr(a.cur.Main)
	if err != nil {
		return err
	}
	if pl.pre {
		if err := a.post(ctx, addr, pl.union); err != nil {
			return err
		}
	}
	if pl.routes {
		if err := a.routes(next); err != nil {
			return err
		}
		defer func() {
			if err != nil { // the live groups are a superset of the old ones: old routes work
				if rerr := writeRoutes(a.opts.StateDir, a.cur); rerr != nil {
					a.log.Error(rerr, "cannot restore the route table")
				}
			}
		}()
	}
	if pl.post {
		return a.post(ctx, addr, next.Backends)
	}
	if pl.backends && !pl.pre {
		return errors.New("apply: backend change without a post (plan bug)")
	}
	return nil
}

// reload applies a change of the main configuration with SIGHUP.
func (a *Applier) reload(ctx context.Context, next *render.Config, pl plan) (err error) {
	p := a.p
	oldAddr, err := apiAddr(a.cur.Main)
	if err != nil {
		return err
	}
	newAddr, err := apiAddr(next.Main)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	// Old workers keep serving open connections while they drain; give them the new
	// groups too, so the new route table works for them as well.
	prePosted := false
	if pl.pre {
		if err := a.post(ctx, oldAddr, pl.union); err != nil {
			return err
		}
		prePosted = true
	}
	defer func() {
		if err == nil {
			return
		}
		if rerr := writeRoutes(a.opts.StateDir, a.cur); rerr != nil {
			a.log.Error(rerr, "cannot restore the route table")
		}
		if rerr := writeAtomic(a.opts.StateDir, render.MainFile, a.cur.Main, 0o644); rerr != nil {
			a.log.Error(rerr, "cannot restore the main configuration")
		}
		if prePosted && !p.exited() {
			if perr := a.post(ctx, oldAddr, a.cur.Backends); perr != nil {
				a.log.Error(perr, "cannot restore the backends of the last good configuration")
			}
		}
		if rerr := writeBackends(a.opts.StateDir, a.live); rerr != nil {
			a.log.Error(rerr, "cannot restore backends.conf")
		}
	}()
	if err := writeBackends(a.opts.StateDir, next.Backends); err != nil {
		return err
	}
	if pl.routes {
		if err := a.routes(next); err != nil {
			return err
		}
	}
	if err := writeAtomic(a.opts.StateDir, render.MainFile, next.Main, 0o644); err != nil {
		return err
	}
	p.drainRejected()
	if err := p.signal(syscall.SIGHUP); err != nil {
		return err
	}
	a.stats.Reloads.Add(1)
	t := time.Now()
	rev, err := a.waitRevision(ctx, p, newAddr, a.rev)
	if err != nil {
		return err
	}
	took := time.Since(t)
	a.stats.LastReloadNanos.Store(int64(took))
	a.log.Info("nghttpx reloaded", "revision", rev, "took", took.Round(time.Microsecond), "why", strings.Join(pl.reasons, "; "))
	a.rev = rev
	a.live = next.Backends
	return nil
}

// waitRevision waits for a configrevision above old, a logged rejection, the exit
// of nghttpx or ReloadTimeout.
func (a *Applier) waitRevision(ctx context.Context, p *process, addr string, old uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.ReloadTimeout)
	defer cancel()
	for {
		rev, err := a.api.revision(ctx, addr)
		if err == nil && rev > old {
			return rev, nil
		}
		select {
		case probs := <-p.rejected:
			return 0, fmt.Errorf("%w: %s", ErrRejected, strings.Join(probs, "; "))
		case <-p.done:
			p.waitLogs(time.Second)
			return 0, fmt.Errorf("%w: nghttpx exited during the reload (%v): %s", ErrRejected, p.waitErr, strings.Join(p.lastProblems(), "; "))
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: configrevision still %d %s after SIGHUP", ErrRejected, old, a.opts.ReloadTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// supervise restarts nghttpx from the last good config whenever it exits on its own.
func (a *Applier) supervise(p *process) {
	defer close(a.superDone)
	var delay time.Duration
	for {
		select {
		case <-p.done:
		case <-a.stopCh:
			return
		}
		if a.stopping.Load() {
			return
		}
		p.waitLogs(time.Second)
		a.log.Error(fmt.Errorf("nghttpx exited: %v", p.waitErr), "nghttpx exited unexpectedly; restarting",
			"pid", p.pid, "ran", time.Since(p.started).Round(time.Millisecond), "problems", p.lastProblems())
		if time.Since(p.started) > restartResetAfter {
			delay = 0
		}
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := proc.KillGroup(kctx, p.pid); err != nil { // orphaned workers hold the ports
			a.log.Error(err, "cannot end the workers of the exited nghttpx")
		}
		cancel()
		for {
			delay = a.opts.Restart.next(delay)
			select {
			case <-a.stopCh:
				return
			case <-time.After(delay):
			}
			np, err := a.restart()
			if errors.Is(err, ErrStopped) {
				return
			}
			if err != nil {
				a.log.Error(err, "restart failed", "retryIn", a.opts.Restart.next(delay))
				continue
			}
			p = np
			break
		}
	}
}

func (a *Applier) restart() (*process, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping.Load() {
		return nil, ErrStopped
	}
	a.p = nil
	// Restarts run the last good config with every backend it names.
	p, rev, err := a.launch(context.Background(), a.cur, a.cur.Backends)
	if err != nil {
		return nil, err
	}
	a.p, a.rev, a.live = p, rev, a.cur.Backends
	a.stats.Restarts.Add(1)
	return p, nil
}

// Stop drains nghttpx with SIGQUIT, waits up to StopGrace (or ctx), then SIGKILLs
// its process group. The Applier cannot be started again.
func (a *Applier) Stop(ctx context.Context) error {
	a.stopping.Store(true)
	a.stopOnce.Do(func() { close(a.stopCh) })
	a.mu.Lock()
	p := a.p
	a.p = nil
	started := a.started
	a.mu.Unlock()
	if started {
		<-a.superDone
	}
	if p == nil {
		return nil
	}
	var errs []error
	if !p.exited() {
		if err := p.signal(syscall.SIGQUIT); err != nil && !p.exited() {
			errs = append(errs, err)
		}
		grace := time.NewTimer(a.opts.StopGrace)
		select {
		case <-p.done:
		case <-grace.C:
			a.log.Info("nghttpx did not drain in time; killing it", "grace", a.opts.StopGrace)
		case <-ctx.Done():
			a.log.Info("stop deadline reached; killing nghttpx")
		}
		grace.Stop()
	}
	kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.kill(kctx); err != nil {
		errs = append(errs, err)
	}
	p.waitLogs(time.Second)
	if err := os.Remove(filepath.Join(a.opts.StateDir, pidFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	a.log.Info("nghttpx stopped", "pid", p.pid, "exit", fmt.Sprint(p.waitErr))
	return errors.Join(errs...)
}
