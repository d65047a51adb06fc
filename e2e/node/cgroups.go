package node

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CgroupName is the per-node cgroup root (below every hierarchy's top) for node id.
func CgroupName(id string) string { return "ngxgw-node-" + id }

// cgroupRoot is a cgroup directory of the same name in every mounted hierarchy.
type cgroupRoot struct {
	name string
	dirs []string
}

// cgroupMounts returns the mount points of cgroup v1 hierarchies and of cgroup2.
func cgroupMounts() (v1 map[string]string, v2 []string, err error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	v1 = map[string]string{} // controller option -> mount point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		switch fields[2] {
		case "cgroup":
			for _, o := range strings.Split(fields[3], ",") {
				if o != "rw" && o != "ro" && o != "relatime" && !strings.HasPrefix(o, "no") {
					v1[o] = fields[1]
				}
			}
		case "cgroup2":
			v2 = append(v2, fields[1])
		}
	}
	return v1, v2, sc.Err()
}

// newCgroupRoot creates the root in every hierarchy (cpuset gets its parent's CPUs
// and memory nodes, or no process could join it).
func newCgroupRoot(name string) (*cgroupRoot, error) {
	v1, v2, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var mps []string
	for _, mp := range v1 {
		if !seen[mp] {
			seen[mp] = true
			mps = append(mps, mp)
		}
	}
	sort.Strings(mps)
	mps = append(mps, v2...)
	r := &cgroupRoot{name: name}
	for _, mp := range mps {
		d := filepath.Join(mp, name)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			_ = r.remove()
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		r.dirs = append(r.dirs, d)
		if mp == v1["cpuset"] {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(mp, f))
				if err == nil {
					err = os.WriteFile(filepath.Join(d, f), b, 0o644)
				}
				if err != nil {
					_ = r.remove()
					return nil, fmt.Errorf("cgroup %s: %s: %w", d, f, err)
				}
			}
		}
	}
	return r, nil
}

// remove kills every process left below the root and removes the directories.
func (r *cgroupRoot) remove() error {
	if r == nil {
		return nil
	}
	return removeCgroupTree(r.name)
}

// removeCgroupTree kills every process in cgroup name (all hierarchies) and removes
// it, children first. A missing tree is no error.
func removeCgroupTree(name string) error {
	v1, v2, err := cgroupMounts()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var tops []string
	for _, mp := range append(mapValues(v1), v2...) {
		if d := filepath.Join(mp, name); !seen[d] {
			seen[d] = true
			tops = append(tops, d)
		}
	}
	var errs []error
	for attempt := 0; attempt < 100; attempt++ {
		alive := 0
		for _, top := range tops {
			for _, d := range cgroupDirs(top) {
				for _, pid := range cgroupPids(d) {
					alive++
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if alive == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, top := range tops {
		dirs := cgroupDirs(top)
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// cgroupDirs lists top and its descendants, parents before children.
func cgroupDirs(top string) []string {
	var dirs []string
	_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	return dirs
}

func cgroupPids(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// RemoveCgroups kills and removes what a node with this id left (for Reap).
func RemoveCgroups(id string) error { return removeCgroupTree(CgroupName(id)) }
