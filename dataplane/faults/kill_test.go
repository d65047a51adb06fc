//go:build integration

package faults

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// recoveryBudget is how long traffic may fail after a kill (issue 19: traffic
// resumes within 1 s with the last good configuration).
const recoveryBudget = time.Second

// steady is how long traffic runs before and after each fault: FAULTS_SECONDS
// (make faults), else 2 s.
func steady(t *testing.T) time.Duration {
	if s := os.Getenv("FAULTS_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("FAULTS_SECONDS=%q: want a positive number of seconds", s)
		}
		return time.Duration(n) * time.Second
	}
	return 2 * time.Second
}

// TestKill kills nghttpx's worker, then its main process, under HTTP/1.1 and h2c
// traffic: every failure must fall within recoveryBudget of the kill, the
// supervisor counts a restart, and the restarted nghttpx serves the last good
// configuration (a route applied before the kills).
func TestKill(t *testing.T) {
	g := startGateway(t)
	// The last good configuration: /v2 goes to pod b only.
	g.write("v2.yaml", route("v2", host, "  - matches: [{path: {type: PathPrefix, value: /v2}}]\n    backendRefs: [{name: only-b, port: 80}]\n"))
	g.eventually("the /v2 route serves from b", 10*time.Second, func() error {
		p, err := g.get("/v2")
		if err == nil && p != "b" {
			err = fmt.Errorf("answered by %q", p)
		}
		return err
	})
	hold := steady(t)

	for _, tc := range []struct {
		name   string
		victim func(t *testing.T, main int) int
	}{
		{"nghttpx worker", func(t *testing.T, main int) int {
			ws := testenv.WorkerPIDs(t, main)
			if len(ws) != 1 {
				t.Fatalf("nghttpx %d has workers %v, want one", main, ws)
			}
			return ws[0]
		}},
		{"nghttpx main process", func(_ *testing.T, main int) int { return main }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := g.data()
			main := a.PID()
			restarts := a.Stats().Restarts.Load()
			loads := []*traffic{g.startTraffic("h1", 4), g.startTraffic("h2c", 4)}
			time.Sleep(hold)
			before := rssOf(t, main)
			victim := tc.victim(t, main)
			kill := time.Now()
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			rec := map[string]time.Duration{}
			for _, l := range loads {
				d, ok := l.okSince(kill, 15*time.Second)
				if !ok {
					t.Fatalf("%s traffic did not come back within 15s of the kill", l.name)
				}
				rec[l.name] = d
			}
			time.Sleep(hold)
			for _, l := range loads {
				l.stop()
			}
			after := a.PID()
			if after == main || after == 0 {
				t.Errorf("nghttpx pid %d -> %d: want a new process", main, after)
			}
			if got := a.Stats().Restarts.Load(); got != restarts+1 {
				t.Errorf("restarts %d -> %d, want one more", restarts, got)
			}
			if p, err := g.get("/v2"); err != nil || p != "b" {
				t.Errorf("after the restart /v2 answered by %q (%v): want b, the last good configuration", p, err)
			}
			memAfter := rssOf(t, after)
			for _, l := range loads {
				late := l.failuresOutside(kill.Add(-50*time.Millisecond), kill.Add(recoveryBudget))
				t.Logf("%s; back after %s", l, rec[l.name].Round(time.Millisecond))
				if len(late) > 0 {
					t.Errorf("%s: %d failures outside the %s after the kill: %s", l.name, len(late), recoveryBudget, describe(late))
				}
				if rec[l.name] > recoveryBudget {
					t.Errorf("%s: traffic back %s after the kill, want ≤ %s", l.name, rec[l.name].Round(time.Millisecond), recoveryBudget)
				}
				report(t, row{Scenario: "SIGKILL " + tc.name, Traffic: l.name, Requests: l.reqs.Load(), Failed: l.failed(),
					Allowed: "within " + recoveryBudget.String() + " of the kill", Recovery: rec[l.name].Round(time.Millisecond).String(),
					MemBefore: mib(before), MemAfter: mib(memAfter), Notes: fmt.Sprintf("restarts %d -> %d", restarts, a.Stats().Restarts.Load())})
			}
		})
	}
}
