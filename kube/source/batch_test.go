package source

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

type batchRun struct {
	at time.Duration // fake time since start
}

func startBatcher(t *testing.T, block <-chan struct{}) (*Batcher, *clocktesting.FakeClock, time.Time, <-chan batchRun) {
	t.Helper()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := clocktesting.NewFakeClock(start)
	b := &Batcher{Delay: 100 * time.Millisecond, MaxDelay: 500 * time.Millisecond, Clock: fc}
	runs := make(chan batchRun, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx, func(context.Context) {
			runs <- batchRun{at: fc.Since(start)}
			if block != nil {
				<-block
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return b, fc, start, runs
}

// settle gives the loop goroutine time to react to the last step or notification.
func settle(t *testing.T, fc *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !fc.HasWaiters() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
}

func expectNoRun(t *testing.T, runs <-chan batchRun, when string) {
	t.Helper()
	select {
	case r := <-runs:
		t.Fatalf("%s: unexpected batch at %s", when, r.at)
	case <-time.After(20 * time.Millisecond):
	}
}

func expectRun(t *testing.T, runs <-chan batchRun, at time.Duration) {
	t.Helper()
	select {
	case r := <-runs:
		if r.at != at {
			t.Fatalf("batch ran at %s, want %s", r.at, at)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no batch (want one at %s)", at)
	}
}

func TestBatcherQuietPeriod(t *testing.T) {
	b, fc, _, runs := startBatcher(t, nil)
	b.Notify()
	settle(t, fc)
	fc.Step(60 * time.Millisecond)
	b.Notify() // moves the deadline to 160ms
	settle(t, fc)
	fc.Step(60 * time.Millisecond) // 120ms: the first deadline has passed, the new one not
	settle(t, fc)
	expectNoRun(t, runs, "120ms")
	fc.Step(40 * time.Millisecond)
	expectRun(t, runs, 160*time.Millisecond)
	expectNoRun(t, runs, "after the batch")
}

func TestBatcherMaxDelayCoalesces(t *testing.T) {
	b, fc, _, runs := startBatcher(t, nil)
	// An event every 50ms never leaves a 100ms quiet period: the batch must still
	// run 500ms after the first event, once for all of them.
	for i := 0; i < 10; i++ {
		b.Notify()
		settle(t, fc)
		fc.Step(50 * time.Millisecond)
		if i < 9 {
			settle(t, fc)
			expectNoRun(t, runs, "during the burst")
		}
	}
	expectRun(t, runs, 500*time.Millisecond)
	expectNoRun(t, runs, "after the burst")
	if n := b.Pending(); n != 0 {
		t.Errorf("%d events pending after the batch ran, want 0", n)
	}
}

// Pending counts the notifications the next batch will coalesce.
func TestBatcherPending(t *testing.T) {
	b, fc, _, runs := startBatcher(t, nil)
	for range 3 {
		b.Notify()
	}
	if n := b.Pending(); n != 3 {
		t.Errorf("pending %d, want 3", n)
	}
	settle(t, fc)
	fc.Step(100 * time.Millisecond)
	expectRun(t, runs, 100*time.Millisecond)
	if n := b.Pending(); n != 0 {
		t.Errorf("pending %d after the batch, want 0", n)
	}
}

func TestBatcherOneInFlight(t *testing.T) {
	block := make(chan struct{})
	b, fc, _, runs := startBatcher(t, block)
	b.Notify()
	settle(t, fc)
	fc.Step(100 * time.Millisecond)
	expectRun(t, runs, 100*time.Millisecond)
	// The build is blocked; events now form the next batch.
	for range 3 {
		fc.Step(10 * time.Millisecond)
		b.Notify()
	}
	time.Sleep(10 * time.Millisecond)
	block <- struct{}{} // first build finishes at 130ms; last event was at 130ms
	settle(t, fc)
	expectNoRun(t, runs, "right after the first build")
	fc.Step(100 * time.Millisecond)
	expectRun(t, runs, 230*time.Millisecond)
	block <- struct{}{}
	expectNoRun(t, runs, "after the second build")
}

func TestBatcherOverdueBatchRunsAtOnce(t *testing.T) {
	block := make(chan struct{})
	b, fc, _, runs := startBatcher(t, block)
	b.Notify()
	settle(t, fc)
	fc.Step(100 * time.Millisecond)
	expectRun(t, runs, 100*time.Millisecond)
	b.Notify() // at 100ms, while the build runs
	fc.Step(600 * time.Millisecond)
	block <- struct{}{} // the build took 600ms: the next batch is overdue
	expectRun(t, runs, 700*time.Millisecond)
	block <- struct{}{}
}
