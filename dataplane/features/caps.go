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
	CapSysAdmin = 21
	CapPerfmon  = 38
	CapBPF      = 39
)

// Caps is a capability set as a bit mask.
type Caps uint64

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
