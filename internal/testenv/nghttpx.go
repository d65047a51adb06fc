package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// Nghttpx is a running nghttpx main process (its workers are in its group).
type Nghttpx struct {
	*Process
}

// StartNghttpx runs nghttpx --conf=conf (an absolute path: SIGHUP re-reads it) in
// the configuration's directory and waits until every waitPort on 127.0.0.1 accepts
// connections (pass the API port at least). The main process binds the listeners,
// so a test that needs the worker ready should also WaitHTTP.
func StartNghttpx(t testing.TB, conf string, waitPorts ...int) *Nghttpx {
	t.Helper()
	if !filepath.IsAbs(conf) {
		t.Fatalf("nghttpx config path %q must be absolute (SIGHUP re-reads it)", conf)
	}
	cmd := exec.Command(NghttpxBin(t), "--conf="+conf)
	cmd.Dir = filepath.Dir(conf)
	p := Start(t, "nghttpx", cmd)
	for _, port := range waitPorts {
		WaitTCP(t, p, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	}
	return &Nghttpx{Process: p}
}

// WorkerPIDs lists the live processes of nghttpx's group other than the main one.
func (n *Nghttpx) WorkerPIDs(t testing.TB) []int {
	t.Helper()
	return WorkerPIDs(t, n.PID)
}

// WorkerPIDs lists the live members of the process group led by main (an nghttpx
// started in its own group, as the applier does), main excluded.
func WorkerPIDs(t testing.TB, main int) []int {
	t.Helper()
	members, err := proc.GroupMembers(main)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, m := range members {
		if m != main {
			out = append(out, m)
		}
	}
	return out
}

// H2load runs the h2load next to the nghttpx under test and parses its summary;
// it fails the test when h2load fails or prints no summary.
func H2load(ctx context.Context, t testing.TB, args ...string) (nghttpx.H2loadResult, string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, H2loadBin(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("h2load %v: %v\n%s", args, err, tail(string(out), 2000))
	}
	r, err := nghttpx.ParseH2load(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return r, string(out)
}

// RSS returns the resident set size of pid in bytes (VmRSS in /proc/pid/status).
func RSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			t.Fatalf("pid %d: unexpected VmRSS line %q", pid, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("pid %d: VmRSS %q: %v", pid, line, err)
		}
		return kb << 10
	}
	t.Fatalf("pid %d has no VmRSS (a zombie?)", pid)
	return 0
}
