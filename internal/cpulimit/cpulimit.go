package cpulimit

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Root is where a container sees its cgroup files.
const Root = "/sys/fs/cgroup"

// CPUs is the number of CPUs this process is given (see the package doc).
func CPUs() int { return fromRoot(Root, runtime.NumCPU()) }

// fromRoot applies the quota found under root to ncpu.
func fromRoot(root string, ncpu int) int {
	if ncpu < 1 {
		ncpu = 1
	}
	q, p, ok := quotaV2(root)
	if !ok {
		q, p, ok = quotaV1(root)
	}
	if !ok || q <= 0 || p <= 0 {
		return ncpu
	}
	n := int((q + p - 1) / p)
	if n < 1 {
		n = 1
	}
	return min(n, ncpu)
}

// quotaV2 reads cpu.max: "QUOTA PERIOD" in microseconds, QUOTA "max" for none.
func quotaV2(root string) (quota, period int64, ok bool) {
	b, err := os.ReadFile(filepath.Join(root, "cpu.max"))
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] == "max" {
		return 0, 0, false
	}
	q, err1 := strconv.ParseInt(f[0], 10, 64)
	p, err2 := strconv.ParseInt(f[1], 10, 64)
	return q, p, err1 == nil && err2 == nil
}

// quotaV1 reads cpu.cfs_quota_us (-1 for none) and cpu.cfs_period_us of the cpu
// controller, mounted as cpu or as cpu,cpuacct.
func quotaV1(root string) (quota, period int64, ok bool) {
	for _, dir := range []string{"cpu", "cpu,cpuacct"} {
		q, err1 := readInt(filepath.Join(root, dir, "cpu.cfs_quota_us"))
		p, err2 := readInt(filepath.Join(root, dir, "cpu.cfs_period_us"))
		if err1 == nil && err2 == nil {
			return q, p, true
		}
	}
	return 0, 0, false
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
