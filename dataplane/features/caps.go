package features

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Capability bit numbers (linux/capability.h).
const (
	CapNetBindService = 10
	CapSysAdmin       = 21
	CapSysResource    = 24
	CapPerfmon        = 38
	CapBPF            = 39
)

// capName names the capabilities this package talks about; others print as numbers.
func capName(bit uint) string {
	switch bit {
	case CapNetBindService:
		return "cap_net_bind_service"
	case CapSysAdmin:
		return "cap_sys_admin"
	case CapSysResource:
		return "cap_sys_resource"
	case CapPerfmon:
		return "cap_perfmon"
	case CapBPF:
		return "cap_bpf"
	}
	return fmt.Sprintf("cap_%d", bit)
}

// Caps is a capability set as a bit mask.
type Caps uint64

// String lists the set like getcap does ("cap_bpf,cap_perfmon"), or "none".
func (c Caps) String() string {
	var names []string
	for bit := range uint(64) {
		if !c.Has(bit) {
			continue
		}
		names = append(names, capName(bit))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Has reports whether capability bit is in the set.
func (c Caps) Has(bit uint) bool { return c&(1<<bit) != 0 }

// CanLoadBPF reports whether the set allows loading the eBPF steering program.
func (c Caps) CanLoadBPF() bool {
	return c.Has(CapBPF) && c.Has(CapPerfmon) || c.Has(CapSysAdmin)
}

// EffectiveCaps reads this process's effective capabilities from /proc/self/status.
// nghttpx, started by this process without privilege changes, gets the same set.
func EffectiveCaps() (Caps, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	return parseCapEff(f)
}

func parseCapEff(r io.Reader) (Caps, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
		}
		return Caps(n), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return 0, fmt.Errorf("no CapEff line in /proc/self/status")
}
