package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CNIBinDir is where Debian's containernetworking-plugins installs the plugins.
const CNIBinDir = "/usr/lib/cni"

// Preflight checks everything the node needs and names each missing piece, with
// the script or package that provides it.
func Preflight(binDir string) error {
	var errs []error
	for _, b := range []string{"kubelet", "kube-proxy", "kube-scheduler"} {
		if st, err := os.Stat(filepath.Join(binDir, b)); err != nil || st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s missing in %s: run hack/build-k8s.sh (make k8s-bins)", b, binDir))
		}
	}
	for prog, pkg := range map[string]string{
		"containerd": "containerd", "containerd-shim-runc-v2": "containerd", "ctr": "containerd",
		"runc": "runc", "iptables": "iptables", "iptables-restore": "iptables", "conntrack": "conntrack",
		"nsenter": "util-linux", "unshare": "util-linux", "mount": "mount",
	} {
		if _, err := exec.LookPath(prog); err != nil {
			errs = append(errs, fmt.Errorf("%s not found (Debian package %s): run hack/install-node-deps.sh", prog, pkg))
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join(CNIBinDir, p)); err != nil {
			errs = append(errs, fmt.Errorf("CNI plugin %s missing in %s (Debian package containernetworking-plugins): run hack/install-node-deps.sh", p, CNIBinDir))
		}
	}
	if b, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(b), "\toverlay\n") {
		errs = append(errs, errors.New("kernel lacks the overlay filesystem (containerd's overlayfs snapshotter needs it)"))
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		errs = append(errs, errors.New("kernel lacks br_netfilter (/proc/sys/net/bridge): kube-proxy cannot see pod-to-Service traffic on the bridge"))
	}
	v1, _, err := cgroupMounts()
	if err != nil {
		errs = append(errs, fmt.Errorf("reading cgroup mounts: %w", err))
	}
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer"} {
		if v1[c] == "" {
			errs = append(errs, fmt.Errorf("cgroup v1 controller %s is not mounted (kubelet runs with cgroupfs on cgroup v1 here)", c))
		}
	}
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("a real node needs root"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("node: cannot start a real node:\n  %w", joinLines(errs))
	}
	return nil
}

func joinLines(errs []error) error {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return errors.New(strings.Join(s, "\n  "))
}
