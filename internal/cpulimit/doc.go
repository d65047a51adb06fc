// Package cpulimit says how many CPUs this process is given: the cgroup's CPU
// quota rounded up (cgroup v2 cpu.max, else v1 cpu.cfs_quota_us over
// cpu.cfs_period_us), capped by the CPUs it may run on (runtime.NumCPU, which
// follows the affinity mask), or that count when there is no quota. Data planes
// size nghttpx's workers with it.
//
// Contract: CPUs reads the cgroup files as a container sees them (the root of its
// cgroup namespace under /sys/fs/cgroup); a missing or unreadable file means no
// quota. Always at least 1. No state.
package cpulimit
