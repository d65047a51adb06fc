package proc

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestKillGroupKillsChildren(t *testing.T) {
	// A shell in its own group that forks a child, like nghttpx forks workers.
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & sleep 30; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	go cmd.Wait() // reap the shell; the children are reaped by init
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := GroupMembers(pgid)
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d has %v, want the shell and two sleeps", pgid, pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := KillGroup(ctx, pgid); err != nil {
		t.Fatal(err)
	}
	if pids, _ := GroupMembers(pgid); len(pids) != 0 {
		t.Fatalf("members left after KillGroup: %v", pids)
	}
	// A gone group is not an error.
	if err := SignalGroup(pgid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

func TestSignalGroupRefusesLowPgid(t *testing.T) {
	for _, pg := range []int{0, 1, -5} {
		if err := SignalGroup(pg, syscall.SIGKILL); err == nil {
			t.Errorf("SignalGroup(%d) succeeded, want refusal", pg)
		}
	}
}

func TestCmdline(t *testing.T) {
	got := Cmdline(os.Getpid())
	if len(got) == 0 || got[0] != os.Args[0] {
		t.Fatalf("Cmdline(self) = %q, want it to start with %q", got, os.Args[0])
	}
}

func TestFreePorts(t *testing.T) {
	for name, f := range map[string]func() (int, error){"tcp": func() (int, error) { return FreeTCPPort() }, "udp": FreeUDPPort, "both": FreeTCPUDPPort} {
		p, err := f()
		if err != nil || p <= 0 || p > 65535 {
			t.Errorf("%s: port %d err %v", name, p, err)
		}
	}
}
