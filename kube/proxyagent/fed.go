package proxyagent

import (
	"context"
	"errors"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Fed is an Agent run by its caller instead of by Run: the in-pod topology of
// the original nghttpx Ingress controller, where nghttpx runs inside the
// controller's pod. The controller already builds an input snapshot per batch;
// it hands each one to Sync, so the agent needs no cache or informers of its
// own, and reads its keys Secret from the controller's cache. The admin port
// is not served: the controller's health port asks Healthy and Ready.
type Fed struct {
	a *Agent

	mu   sync.Mutex // serialises Sync and Stop
	last *load.Input
}

// NewFed makes an Agent fed by its caller. opts.AdminAddr only names a port
// listeners may not use; nothing listens on it.
func NewFed(opts Options) (*Fed, error) {
	a, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Fed{a: a}, nil
}

// Agent is the fed agent (Status, Handler).
func (f *Fed) Agent() *Agent { return f.a }

// Start starts the mirror tee and, with a keys Secret, follows it in c (the
// caller's started cache, which must hold that Secret). due is called when the
// agent needs a new Sync without any input having changed.
func (f *Fed) Start(ctx context.Context, c cache.Cache, due func()) error {
	if err := f.a.inst.StartMirror(ctx); err != nil {
		return err
	}
	f.a.recheck = &recheck.Timer{Fire: due}
	if f.a.keys != nil {
		f.a.reader = c
		if err := f.a.keys.watch(ctx, c, due); err != nil {
			return err
		}
	}
	return nil
}

// Sync brings nghttpx to what in says about the agent's Gateway; in is kept
// for the shutdown rebuild. The caller retries a failed Sync.
func (f *Fed) Sync(ctx context.Context, in *load.Input) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.a.draining() {
		// Stop owns the data plane now.
		return nil
	}
	f.last = in
	return f.sync(ctx, in)
}

func (f *Fed) sync(ctx context.Context, in *load.Input) error {
	if f.a.keys != nil && f.a.reader != nil {
		f.a.keys.refresh(ctx, f.a.reader)
	}
	return f.a.Sync(ctx, in)
}

// Stop drains as Run does after its context ends: readiness fails, an Ingress
// data plane's /nghttpx-healthz answers 503 for the deferred shutdown period
// while everything else keeps being served, then nghttpx stops gracefully.
func (f *Fed) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.a
	a.st.mu.Lock()
	a.st.draining = true
	a.st.mu.Unlock()
	drain := a.drainPeriod()
	if ing := a.opts.Ingress; ing != nil {
		if ing.DeferredShutdownPeriod > 0 && f.last != nil && a.inst.Running() {
			if err := f.sync(context.Background(), f.last); err != nil {
				a.opts.Log.Error(err, "turning /nghttpx-healthz to 503")
			}
		}
	}
	if a.inst.Running() {
		a.opts.Log.Info("draining: readiness fails, nghttpx keeps serving", "period", drain)
		time.Sleep(drain)
	}
	a.recheck.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.StopTimeout)
	defer cancel()
	if err := a.inst.Close(ctx); err != nil {
		a.opts.Log.Error(err, "stopping nghttpx")
	}
}

// Healthy is liveness: nghttpx runs once it was started (its supervisor
// restarts it; a data plane that cannot is not alive).
func (f *Fed) Healthy() error {
	a := f.a
	a.st.mu.Lock()
	ready := a.st.ready
	a.st.mu.Unlock()
	if ready && !a.inst.Running() {
		return errors.New("nghttpx is not running")
	}
	return nil
}

// Ready is readiness: a configuration was applied once (the original's
// "nghttpx reloaded once") and shutdown has not begun.
func (f *Fed) Ready() error {
	s := f.a.Status()
	switch {
	case s.Draining:
		return errors.New("draining")
	case s.ModelHash == "":
		if s.Error != "" {
			return errors.New("no configuration applied yet: " + s.Error)
		}
		return errors.New("no configuration applied yet")
	}
	return nil
}
