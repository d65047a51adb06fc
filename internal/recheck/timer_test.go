package recheck

import (
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func newTimer(start time.Time) (*Timer, *clocktesting.FakeClock, *atomic.Int32) {
	c := clocktesting.NewFakeClock(start)
	var fired atomic.Int32
	return &Timer{Clock: c, Fire: func() { fired.Add(1) }}, c, &fired
}

func TestTimerFiresAfterDeadline(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tm, c, fired := newTimer(start)
	tm.Set(start.Add(time.Hour))
	c.Step(time.Hour) // at the deadline: the translation could still see it current
	if n := fired.Load(); n != 0 {
		t.Fatalf("fired %d times at the deadline; want to wait Delay more", n)
	}
	c.Step(DefaultDelay)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times one Delay after the deadline, want 1", n)
	}
	if p := tm.Pending(); !p.IsZero() {
		t.Errorf("pending %v after firing", p)
	}
	c.Step(24 * time.Hour)
	if n := fired.Load(); n != 1 {
		t.Errorf("fired %d times; a deadline fires once", n)
	}
}

func TestTimerResetOnEachBuild(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tm, c, fired := newTimer(start)
	tm.Set(start.Add(time.Hour))
	// A later build names an earlier deadline (a shorter-lived response).
	tm.Set(start.Add(time.Minute))
	c.Step(time.Minute + DefaultDelay)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times at the new, earlier deadline, want 1", n)
	}
	// The old deadline was replaced, not kept.
	c.Step(time.Hour)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times; the replaced deadline must not fire", n)
	}

	// Then a build with a later deadline, then one with none.
	now := c.Now()
	tm.Set(now.Add(time.Minute))
	tm.Set(now.Add(2 * time.Minute))
	c.Step(time.Minute + DefaultDelay)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times at a deadline that was moved later", n)
	}
	tm.Set(time.Time{})
	c.Step(time.Hour)
	if n := fired.Load(); n != 1 || c.HasWaiters() {
		t.Fatalf("fired %d times (waiters %d) after the deadline was cleared", n, c.Waiters())
	}
}

func TestTimerSameDeadlineKeepsWaiting(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tm, c, fired := newTimer(start)
	at := start.Add(10 * time.Second)
	tm.Set(at)
	c.Step(5 * time.Second)
	tm.Set(at) // a rebuild for another reason: same response, same deadline
	if c.Waiters() != 1 {
		t.Fatalf("%d timers pending, want 1", c.Waiters())
	}
	c.Step(5*time.Second + DefaultDelay)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times, want 1 at the unchanged deadline", n)
	}
}

func TestTimerPastDeadlineWaitsDelay(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tm, c, fired := newTimer(start)
	tm.Delay = 3 * time.Second
	tm.Set(start.Add(-time.Hour))
	c.Step(2 * time.Second)
	if n := fired.Load(); n != 0 {
		t.Fatalf("a past deadline fired after %s; want at least Delay so rebuilds cannot spin", 2*time.Second)
	}
	c.Step(time.Second)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times after Delay, want 1", n)
	}
}

func TestNilTimer(t *testing.T) {
	var tm *Timer
	tm.Set(time.Now()) // callers without a timer (tests calling Sync) may do this
	tm.Stop()
	if !tm.Pending().IsZero() {
		t.Fatal("nil timer has a deadline")
	}
}
