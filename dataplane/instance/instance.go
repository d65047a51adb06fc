package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/mirror"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// Process is an Instance's nghttpx: an *apply.Applier (Nghttpx), or a fake in
// tests.
type Process interface {
	Start(ctx context.Context, cfg render.Config) error
	Apply(ctx context.Context, cfg render.Config) error
	Stop(ctx context.Context) error
	Stats() *apply.Stats
}

// NewProcess makes the nghttpx of a state directory; it does not start it.
type NewProcess func(stateDir string) (Process, error)

// Nghttpx makes appliers of binary, logging to log with the state directory
// (opts' Binary, StateDir and Log are set per state directory; its other fields
// are kept).
func Nghttpx(binary string, log logr.Logger, opts apply.Options) NewProcess {
	return func(dir string) (Process, error) {
		o := opts
		o.Binary, o.StateDir, o.Log = binary, dir, log.WithValues("stateDir", dir)
		return apply.New(o)
	}
}

// Options configure an Instance.
type Options struct {
	// StateDir is the Gateway's state directory (pipeline.StateDirFor); it is
	// created before nghttpx starts.
	StateDir string
	// APIPort is nghttpx's backend API port on 127.0.0.1; 0 picks a free one.
	APIPort int
	// NewProcess makes nghttpx (required).
	NewProcess NewProcess
	Log        logr.Logger
	// AccessLog receives nghttpx's access log when the configuration renders
	// one into the state directory's FIFO (accesslog.go); nil: a sink of its
	// own, writing to stdout, whose metrics nobody serves.
	AccessLog *accesslog.Sink
	// Stats, when set, exports the applier's counters under Gateway (its
	// namespace/name) from the first start until Close.
	Stats   *apply.StatsSet
	Gateway string
}

// Instance is one Gateway's data plane. Its methods are safe for concurrent use.
type Instance struct {
	opts Options
	// api and internal are fixed by New; tee is 0 until StartMirror.
	api, internal int

	mu      sync.Mutex
	tee     int
	stopTee context.CancelFunc
	p       Process // nil until the first successful start
	closed  bool
	// fifo is the access log FIFO being read, nil until a configuration
	// renders one; stream reads it.
	fifo   *fifoReader
	stream *accesslog.Stream
}

// New picks the instance's ports; nothing runs yet.
func New(opts Options) (*Instance, error) {
	if opts.NewProcess == nil {
		return nil, errors.New("instance: no NewProcess")
	}
	if opts.StateDir == "" {
		return nil, errors.New("instance: no state directory")
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	i := &Instance{opts: opts, api: opts.APIPort}
	var err error
	if i.api == 0 {
		// The backend API listens on 127.0.0.1 only; any free port does.
		if i.api, err = proc.FreeTCPPort(); err != nil {
			return nil, fmt.Errorf("backend API port: %w", err)
		}
	}
	// Each port picked avoids the ones before it: none is bound until nghttpx starts.
	if i.internal, err = proc.FreeTCPPort(i.api); err != nil {
		return nil, fmt.Errorf("mirror internal frontend port: %w", err)
	}
	return i, nil
}

// StateDir is the Gateway's state directory.
func (i *Instance) StateDir() string { return i.opts.StateDir }

// Ports are what the renderer needs: the API port, and the tee's ports once
// StartMirror has run (zero before: rules are served without their mirrors).
func (i *Instance) Ports() pipeline.Ports {
	i.mu.Lock()
	defer i.mu.Unlock()
	p := pipeline.Ports{API: i.api}
	if i.tee != 0 {
		p.MirrorTee, p.MirrorInternal = i.tee, i.internal
	}
	return p
}

// ReservedPorts are the instance's ports besides the listeners, with what uses
// each, for the translator (translate.Options.ReservedPorts).
// A port already in r keeps its entry; r is returned (a new map when nil).
func (i *Instance) ReservedPorts(r map[int32]string) map[int32]string {
	if r == nil {
		r = map[int32]string{}
	}
	p := i.Ports()
	for _, e := range []struct {
		port int
		what string
	}{{p.API, "nghttpx's backend API"}, {i.internal, "the request mirror's internal frontend"}, {p.MirrorTee, "the request mirror tee"}} {
		if e.port > 0 && r[int32(e.port)] == "" {
			r[int32(e.port)] = e.what
		}
	}
	return r
}

// StartMirror serves the RequestMirror tee on 127.0.0.1 until Close. A second
// call does nothing.
func (i *Instance) StartMirror(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return errors.New("instance: closed")
	}
	if i.tee != 0 {
		return nil
	}
	ln, err := proc.ListenTCP(i.api, i.internal)
	if err != nil {
		return fmt.Errorf("mirror tee port: %w", err)
	}
	log := i.opts.Log.WithName("mirror")
	tee, err := mirror.New(mirror.Options{Internal: net.JoinHostPort("127.0.0.1", strconv.Itoa(i.internal)), Log: log})
	if err != nil {
		ln.Close()
		return err
	}
	// The tee outlives ctx and nghttpx's graceful stop: Close ends it.
	tctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		if err := tee.Serve(tctx, ln); err != nil {
			log.Error(err, "mirror tee stopped")
		}
	}()
	i.tee, i.stopTee = ln.Addr().(*net.TCPAddr).Port, stop
	return nil
}

// Running reports whether nghttpx was started and not closed (it may be
// restarting).
func (i *Instance) Running() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.p != nil && !i.closed
}

// Stats are the applier's counters, nil before nghttpx started (kept after
// Close).
func (i *Instance) Stats() *apply.Stats {
	i.mu.Lock()
	p := i.p
	i.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Stats()
}

// Apply brings nghttpx to cfg, starting it on the first call (and again after a
// start that failed). Rendered with other ports than Ports, cfg would not reach
// this instance's tee or API.
func (i *Instance) Apply(ctx context.Context, cfg render.Config) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return apply.ErrStopped
	}
	if err := i.readAccessLog(cfg.AccessLog); err != nil {
		i.mu.Unlock()
		return err
	}
	p := i.p
	if p != nil {
		i.mu.Unlock()
		return p.Apply(ctx, cfg)
	}
	// Starting holds mu: Close waits for it, then stops what started.
	defer i.mu.Unlock()
	p, err := i.opts.NewProcess(i.opts.StateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(i.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := p.Start(ctx, cfg); err != nil {
		return err
	}
	i.p = p
	if i.opts.Stats != nil {
		i.opts.Stats.Put(i.opts.Gateway, p.Stats())
	}
	return nil
}

// Close stops nghttpx gracefully (bounded by ctx), then the tee. Later Applies
// return apply.ErrStopped.
func (i *Instance) Close(ctx context.Context) error {
	i.mu.Lock()
	p, stop, was, fifo := i.p, i.stopTee, i.closed, i.fifo
	i.closed, i.stopTee, i.fifo = true, nil, nil
	i.mu.Unlock()
	var err error
	if p != nil && !was {
		err = p.Stop(ctx)
		if i.opts.Stats != nil {
			i.opts.Stats.Delete(i.opts.Gateway)
		}
	}
	if stop != nil {
		stop()
	}
	if fifo != nil {
		// After nghttpx: its last lines are read before the FIFO closes.
		fifo.Close()
	}
	return err
}
