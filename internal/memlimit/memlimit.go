package memlimit

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// CgroupFile is the cgroup v2 memory limit of this process's cgroup, as a
// container sees it.
const CgroupFile = "/sys/fs/cgroup/memory.max"

// Fraction of the hard limit given to the Go heap: the rest covers what the runtime
// does not count (stacks of cgo threads, page cache charged to the cgroup).
const Fraction = 0.9

// FromCgroup sets the soft limit to Fraction of the limit in file and returns it, or
// returns 0 and changes nothing when GOMEMLIMIT is set, the file is missing, or the
// cgroup has no limit ("max").
func FromCgroup(file string) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || limit <= 0 {
		return 0 // "max": unlimited
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return soft
}
