package apply

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
)

// Options configure an Applier. Zero durations take the defaults below.
type Options struct {
	// Binary is the nghttpx executable.
	Binary string
	// StateDir holds every file nghttpx reads; it is nghttpx's working directory.
	StateDir string
	Log      logr.Logger
	// ReadyTimeout bounds the wait for the API of a starting nghttpx (default 10s).
	ReadyTimeout time.Duration
	// ReloadTimeout bounds the wait for a new configrevision after SIGHUP (default 10s).
	ReloadTimeout time.Duration
	// APITimeout bounds one backend API request (default 30s: validating 5,000 lines
	// that name mruby scripts takes about 4s).
	APITimeout time.Duration
	// StopGrace is how long Stop lets nghttpx drain after SIGQUIT (default 20s).
	StopGrace time.Duration
	// Retry paces the attempts of an Apply that failed for a transient reason
	// (default 200ms doubling to 5s, 5 attempts).
	Retry Backoff
	// Restart paces restarts of an nghttpx that exited on its own (default 100ms
	// doubling to 10s; Attempts is ignored: the supervisor never gives up).
	Restart Backoff
}

// Backoff is an exponential backoff: Initial, doubled after every failure, at most Max.
type Backoff struct {
	Initial, Max time.Duration
	Attempts     int
}

func (b Backoff) next(d time.Duration) time.Duration {
	if d <= 0 {
		return b.Initial
	}
	return min(2*d, b.Max)
}

const (
	defaultReadyTimeout  = 10 * time.Second
	defaultReloadTimeout = 10 * time.Second
	defaultAPITimeout    = 30 * time.Second
	defaultStopGrace     = 20 * time.Second
	// restartResetAfter: a process that ran this long before dying restarts without delay growth.
	restartResetAfter = 30 * time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.Binary == "" {
		return o, errors.New("apply: no nghttpx binary")
	}
	if o.StateDir == "" {
		return o, errors.New("apply: no state directory")
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, fmt.Errorf("apply: state directory: %w", err)
	}
	o.StateDir = dir
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadyTimeout, defaultReadyTimeout)
	def(&o.ReloadTimeout, defaultReloadTimeout)
	def(&o.APITimeout, defaultAPITimeout)
	def(&o.StopGrace, defaultStopGrace)
	def(&o.Retry.Initial, 200*time.Millisecond)
	def(&o.Retry.Max, 5*time.Second)
	if o.Retry.Attempts <= 0 {
		o.Retry.Attempts = 5
	}
	def(&o.Restart.Initial, 100*time.Millisecond)
	def(&o.Restart.Max, 10*time.Second)
	return o, nil
}
