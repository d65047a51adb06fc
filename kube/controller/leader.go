package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	crleader "sigs.k8s.io/controller-runtime/pkg/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Leader election defaults (controller-runtime's).
const (
	defaultLeaseDuration = 15 * time.Second
	defaultRenewDeadline = 10 * time.Second
	defaultRetryPeriod   = 2 * time.Second
)

// elector campaigns for the Lease for as long as the controller runs. The
// manager's own leader election exits the process when a renewal misses its
// deadline (an API server or etcd outage longer than the renew deadline does
// that to the leader); a restart there brings nothing but a crash loop, since
// the data planes keep serving without the controller. So a lost Lease only
// stops the writes (leading ends, the leader-only work stops) and the replica
// campaigns again, with the same identity: if nobody else took the Lease
// meanwhile, it is still the holder and renews at once.
type elector struct {
	lock                resourcelock.Interface
	name                string
	lease, renew, retry time.Duration
	// lead runs while this replica leads and returns once ctx, which ends with
	// the leadership, is done.
	lead            func(ctx context.Context)
	campaigns       int
	releaseOnCancel bool
}

func newElector(cfg *rest.Config, rp recorder.Provider, opts Options) (*elector, error) {
	e := &elector{name: opts.LeaderElectionID, lease: opts.LeaseDuration, renew: opts.RenewDeadline, retry: opts.RetryPeriod, releaseOnCancel: true}
	if e.lease <= 0 {
		e.lease = defaultLeaseDuration
	}
	if e.renew <= 0 {
		e.renew = defaultRenewDeadline
	}
	if e.retry <= 0 {
		e.retry = defaultRetryPeriod
	}
	// controller-runtime's lock: Lease, identity "<hostname>_<uuid>" and a client
	// whose requests time out within the renew deadline.
	lock, err := crleader.NewResourceLock(rest.CopyConfig(cfg), rp, crleader.Options{
		LeaderElection: true, LeaderElectionID: opts.LeaderElectionID,
		LeaderElectionNamespace: opts.Namespace, RenewDeadline: e.renew,
	})
	if err != nil {
		return nil, fmt.Errorf("leader election lock: %w", err)
	}
	e.lock = lock
	return e, nil
}

// Identity is this replica's holder identity.
func (e *elector) Identity() string { return e.lock.Identity() }

// NeedLeaderElection is false: the elector is what elects.
func (e *elector) NeedLeaderElection() bool { return false }

// Start campaigns, leads and campaigns again after a loss, until ctx is done.
func (e *elector) Start(ctx context.Context) error {
	for ctx.Err() == nil {
		e.campaigns++
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: e.lock, LeaseDuration: e.lease, RenewDeadline: e.renew, RetryPeriod: e.retry,
			ReleaseOnCancel: e.releaseOnCancel,
			// Name makes client-go report leader_election_master_status{name=...}.
			Name: e.name,
			Callbacks: leaderelection.LeaderCallbacks{
				// Its own goroutine, ended by lctx: the leader-only work starts
				// and stops there, so a late start cannot outlive the leadership.
				OnStartedLeading: e.lead,
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		le.Run(ctx) // returns once leadership is lost (or ctx is done)
		if ctx.Err() != nil {
			return nil
		}
		// Not at once: a loss means the API server was unreachable a while.
		select {
		case <-ctx.Done():
		case <-time.After(e.retry):
		}
	}
	return nil
}
