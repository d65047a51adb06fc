package source

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Default batching latencies: quiet period after the last event, and the most a
// first event waits while events keep coming.
const (
	DefaultDelay    = 100 * time.Millisecond
	DefaultMaxDelay = 500 * time.Millisecond
)

// Batcher coalesces notifications into batches: a batch runs Delay after the last
// notification, at most MaxDelay after the first one of the batch. One batch runs
// at a time; notifications that arrive while it runs form the next batch (their
// MaxDelay counts from their own first notification, so a long build is followed
// at once by the next one if that is already due).
type Batcher struct {
	Delay, MaxDelay time.Duration
	// Clock defaults to the real clock (tests use a fake one).
	Clock clock.WithTicker

	mu          sync.Mutex
	pending     bool
	events      int // notifications in the pending batch
	first, last time.Time
	wake        chan struct{}
	once        sync.Once
}

func (b *Batcher) init() {
	b.once.Do(func() {
		b.wake = make(chan struct{}, 1)
		if b.Clock == nil {
			b.Clock = clock.RealClock{}
		}
		if b.Delay <= 0 {
			b.Delay = DefaultDelay
		}
		if b.MaxDelay < b.Delay {
			b.MaxDelay = max(DefaultMaxDelay, b.Delay)
		}
	})
}

// Notify records an event. It never blocks and is safe from any goroutine.
func (b *Batcher) Notify() {
	b.init()
	now := b.Clock.Now()
	b.mu.Lock()
	if !b.pending {
		b.pending, b.first = true, now
	}
	b.last = now
	b.events++
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// due returns whether a batch is pending and when it should run.
func (b *Batcher) due() (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pending {
		return false, time.Time{}
	}
	at := b.last.Add(b.Delay)
	if limit := b.first.Add(b.MaxDelay); limit.Before(at) {
		at = limit
	}
	return true, at
}

func (b *Batcher) take() {
	b.mu.Lock()
	b.pending, b.events = false, 0
	b.mu.Unlock()
}

// Pending is the number of notifications waiting for the next batch (the
// controller's queue depth): zero while none is pending.
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.events
}

// Run calls fn for every batch until ctx is done; fn runs on Run's goroutine, so
// batches never overlap.
func (b *Batcher) Run(ctx context.Context, fn func(context.Context)) {
	b.init()
	for {
		pending, at := b.due()
		if !pending {
			select {
			case <-ctx.Done():
				return
			case <-b.wake:
				continue
			}
		}
		wait := at.Sub(b.Clock.Now())
		if wait <= 0 {
			b.take()
			fn(ctx)
			continue
		}
		t := b.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-b.wake:
			// A new event moves the deadline (never past first+MaxDelay).
			t.Stop()
		case <-t.C():
		}
	}
}
