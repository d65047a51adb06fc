package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// recordDir holds one record per running local cluster so a later Start (or
// Reap) can remove what a crashed owner left behind.
const recordDir = "/run/ngxgw-e2e"

// NetnsPrefix starts the name of every network namespace a local cluster creates.
const NetnsPrefix = "ngxgw-"

type record struct {
	Netns      string   `json:"netns"`
	OwnerPID   int      `json:"ownerPID"`
	OwnerStart uint64   `json:"ownerStart"`
	Routes     []string `json:"routes"`
	StateDir   string   `json:"stateDir,omitempty"`
	TempState  bool     `json:"tempState,omitempty"`
	// NodeID names a real node's cgroup root (node.CgroupName); empty for the pod runner.
	NodeID string `json:"nodeID,omitempty"`
}

func recordPath(netns string) string { return filepath.Join(recordDir, netns+".json") }

func writeRecord(r record) error {
	if err := os.MkdirAll(recordDir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := recordPath(r.Netns) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, recordPath(r.Netns))
}

func readRecords() []record {
	paths, _ := filepath.Glob(filepath.Join(recordDir, "*.json"))
	var out []record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) == nil && r.Netns != "" {
			out = append(out, r)
		}
	}
	return out
}

// procStart is a process's start time in clock ticks (field 22 of /proc/PID/stat),
// which tells a live owner from a recycled PID.
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

func (r record) alive() bool {
	st, ok := procStart(r.OwnerPID)
	return ok && st == r.OwnerStart
}

// lockRecords serialises route and record changes between clusters on this host.
func lockRecords() (func(), error) {
	if err := os.MkdirAll(recordDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(recordDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// Reap removes everything left by local clusters whose owning process is gone:
// their processes, pod and cluster network namespaces, blackhole routes no live
// cluster needs, temporary state and records. Start calls it; `localcluster down`
// does too.
func Reap(ctx context.Context, log logr.Logger) error {
	unlock, err := lockRecords()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	var routes []string
	for _, r := range readRecords() {
		if r.alive() {
			continue
		}
		routes = append(routes, r.Routes...)
		log.Info("removing leftovers of a dead local cluster", "netns", r.Netns, "owner", r.OwnerPID)
		errs = append(errs, removeNetnsTree(ctx, r.Netns))
		if r.NodeID != "" {
			errs = append(errs, node.RemoveCgroups(r.NodeID))
		}
		if r.TempState && r.StateDir != "" {
			errs = append(errs, os.RemoveAll(r.StateDir))
		}
		errs = append(errs, os.Remove(recordPath(r.Netns)))
	}
	errs = append(errs, removeUnusedRoutes(ctx, routes, ""))
	return errors.Join(errs...)
}

// removeNetnsTree kills every process in netns and its pod namespaces (netns-N)
// and deletes them, pods first.
func removeNetnsTree(ctx context.Context, netns string) error {
	entries, _ := os.ReadDir(podrunner.NetNSPath)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), netns+"-") {
			names = append(names, e.Name())
		}
	}
	names = append(names, netns)
	var errs []error
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(podrunner.NetNSPath, n)); err != nil {
			continue
		}
		for range 50 {
			pids := podrunner.NetNSPids(ctx, n)
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := podrunner.RunIP(ctx, "netns", "delete", n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeUnusedRoutes deletes the host blackhole routes among candidates that no
// live cluster other than exceptNetns still lists. Only blackhole routes are touched.
func removeUnusedRoutes(ctx context.Context, candidates []string, exceptNetns string) error {
	needed := map[string]bool{}
	for _, r := range readRecords() {
		if r.Netns != exceptNetns && r.alive() {
			for _, rt := range r.Routes {
				needed[rt] = true
			}
		}
	}
	var errs []error
	for _, rt := range candidates {
		if needed[rt] || !hasBlackhole(ctx, rt) {
			continue
		}
		if _, err := podrunner.RunIP(ctx, "route", "del", "blackhole", rt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func hasBlackhole(ctx context.Context, cidr string) bool {
	out, err := podrunner.RunIP(ctx, "route", "show", "exact", cidr, "type", "blackhole")
	return err == nil && strings.TrimSpace(out) != ""
}
