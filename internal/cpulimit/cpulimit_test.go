package cpulimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromRoot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		ncpu  int
		want  int
	}{
		{name: "no cgroup files", ncpu: 8, want: 8},
		{name: "v2 no quota", files: map[string]string{"cpu.max": "max 100000\n"}, ncpu: 8, want: 8},
		{name: "v2 two cpus", files: map[string]string{"cpu.max": "200000 100000\n"}, ncpu: 8, want: 2},
		{name: "v2 half a cpu rounds up", files: map[string]string{"cpu.max": "50000 100000\n"}, ncpu: 8, want: 1},
		{name: "v2 1.5 cpus rounds up", files: map[string]string{"cpu.max": "150000 100000\n"}, ncpu: 8, want: 2},
		{name: "v2 quota above the cpus", files: map[string]string{"cpu.max": "1600000 100000\n"}, ncpu: 4, want: 4},
		{name: "v2 garbage", files: map[string]string{"cpu.max": "lots\n"}, ncpu: 3, want: 3},
		{name: "v1 no quota", files: map[string]string{"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, ncpu: 6, want: 6},
		{name: "v1 three cpus", files: map[string]string{"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, ncpu: 6, want: 3},
		{name: "v1 cpu,cpuacct", files: map[string]string{"cpu,cpuacct/cpu.cfs_quota_us": "250000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, ncpu: 6, want: 3},
		{name: "v2 wins over v1", files: map[string]string{"cpu.max": "100000 100000\n", "cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, ncpu: 6, want: 1},
		{name: "never below one", ncpu: 0, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := fromRoot(root, tc.ncpu); got != tc.want {
				t.Errorf("fromRoot = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCPUsOnThisMachine(t *testing.T) {
	if n := CPUs(); n < 1 {
		t.Errorf("CPUs() = %d", n)
	}
}
