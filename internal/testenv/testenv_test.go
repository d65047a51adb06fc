package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

func TestFreePortsDistinct(t *testing.T) {
	ports := FreePorts(t, 20)
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || p > 65535 || seen[p] {
			t.Fatalf("ports %v: %d out of range or repeated", ports, p)
		}
		seen[p] = true
	}
}

func TestStartCapturesOutputAndExit(t *testing.T) {
	p := Start(t, "sh", exec.Command("/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"))
	deadline := time.Now().Add(5 * time.Second)
	for !p.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("sh did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The output reaches the buffer shortly after the exit.
	for !strings.Contains(p.Logs(), "to-stderr") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := p.Logs(); !strings.Contains(got, "to-stdout\n") || !strings.Contains(got, "to-stderr\n") {
		t.Fatalf("logs %q miss stdout or stderr", got)
	}
}

func TestStartedGroupIsKilledAtCleanup(t *testing.T) {
	var pid int
	t.Run("inner", func(t *testing.T) {
		// A child outside the shell's own wait keeps the group alive, like a worker.
		p := Start(t, "sh", exec.Command("/bin/sh", "-c", "sleep 60 & sleep 60"))
		pid = p.PID
		if p.Exited() {
			t.Fatal("exited at once")
		}
	})
	if members, err := proc.GroupMembers(pid); err != nil || len(members) != 0 {
		t.Fatalf("group %d after the cleanup of its test: members %v, err %v", pid, members, err)
	}
}

func TestLoadCountsFailures(t *testing.T) {
	var n atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "want.example" || r.Header.Get("X-Test") != "yes" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		// Every fifth answer fails; the others name a pod by parity.
		i := n.Add(1)
		if i%5 == 0 {
			http.Error(w, "failing on purpose", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"pod": fmt.Sprintf("p%d", i%2)})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	load := StartLoad(t, Target{URL: "http://" + l.Addr().String() + "/", Host: "want.example",
		Header: http.Header{"X-Test": {"yes"}}}, 3)
	for load.Requests.Load() < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	res := load.Stop()
	if res.Requests < 50 || res.Failures == 0 || res.Failures > res.Requests/4+3 {
		t.Fatalf("%v: want about a fifth failed", res)
	}
	if res.Pods["p0"] == 0 || res.Pods["p1"] == 0 || int64(res.Pods["p0"]+res.Pods["p1"]) != res.Requests-res.Failures {
		t.Fatalf("%v: pods do not add up to the successes", res)
	}
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0], "status 503") {
		t.Fatalf("errors %q do not name the status", res.Errors)
	}
	if again := load.Stop(); again.Requests != res.Requests {
		t.Fatalf("second Stop %v differs from the first %v", again, res)
	}
}

func TestRSS(t *testing.T) {
	if rss := RSS(t, os.Getpid()); rss < 1<<20 || rss > 64<<30 {
		t.Fatalf("RSS of the test binary %d bytes: implausible", rss)
	}
}
