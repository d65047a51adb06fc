package recheck

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// DefaultDelay is how long after the deadline Fire runs: translations truncate
// their clock to the second, so a rebuild exactly at the deadline could still
// see the response as current.
const DefaultDelay = time.Second

// Timer calls Fire once at the deadline last Set, plus Delay.
type Timer struct {
	// Fire runs on its own goroutine; it should only request a rebuild
	// (a batcher's Notify).
	Fire func()
	// Delay is added to the deadline (default DefaultDelay); it is also the
	// least wait, so a deadline in the past cannot make rebuilds spin.
	Delay time.Duration
	// Clock defaults to the real clock.
	Clock clock.WithDelayedExecution

	mu sync.Mutex
	at time.Time
	t  clock.Timer
}

// Set schedules Fire for at (plus Delay), replacing any earlier deadline; a
// zero at cancels it. Setting the pending deadline again changes nothing.
func (t *Timer) Set(at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if at.Equal(t.at) && (t.t != nil || at.IsZero()) {
		return
	}
	if t.t != nil {
		t.t.Stop()
		t.t = nil
	}
	t.at = at
	if at.IsZero() {
		return
	}
	c := t.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	delay := t.Delay
	if delay <= 0 {
		delay = DefaultDelay
	}
	wait := max(at.Sub(c.Now())+delay, delay)
	var timer clock.Timer
	timer = c.AfterFunc(wait, func() {
		t.mu.Lock()
		current := t.t == timer
		if current {
			t.t, t.at = nil, time.Time{}
		}
		t.mu.Unlock()
		if current && t.Fire != nil {
			t.Fire()
		}
	})
	t.t = timer
}

// Pending returns the deadline Fire waits for (zero when none).
func (t *Timer) Pending() time.Time {
	if t == nil {
		return time.Time{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.at
}

// Stop cancels the pending deadline.
func (t *Timer) Stop() { t.Set(time.Time{}) }
