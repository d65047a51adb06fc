package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// GroupMembers lists the live (not zombie) processes of process group pgid. A
// zombie is not counted: it holds no socket and its parent may never reap it.
func GroupMembers(pgid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pg, ok := statOf(pid)
		if !ok || pg != pgid || state == 'Z' || state == 'X' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// statOf reads the state and process group of pid from /proc/pid/stat.
func statOf(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain spaces: parse after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// Fields after comm: state(0) ppid(1) pgrp(2).
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pg, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pg, true
}

// SignalGroup sends sig to every process of group pgid. A group that no longer
// exists is not an error.
func SignalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s to process group %d: %w", sig, pgid, err)
	}
	return nil
}

// KillGroup SIGKILLs group pgid and waits until no live member is left, so that
// sockets the group held are free again when it returns.
func KillGroup(ctx context.Context, pgid int) error {
	if err := SignalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	return WaitGroupGone(ctx, pgid)
}

// WaitGroupGone polls until group pgid has no live member.
func WaitGroupGone(ctx context.Context, pgid int) error {
	for {
		pids, err := GroupMembers(pgid)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process group %d still has members %v: %w", pgid, pids, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Cmdline returns the NUL-separated command line of pid, or nil when pid is gone.
func Cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	parts := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}
