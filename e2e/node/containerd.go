package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// kernelTunables are the values kubelet insists on (it writes them when they
// differ). Inside the node's mount namespace each file is masked by one that
// already holds the value, so kubelet never changes the host's kernel settings.
var kernelTunables = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

// startHolder starts the process whose mount namespace every node component
// shares, joined to the cluster network namespace, and prepares its mounts: sysfs
// of that network namespace (with the host's cgroup hierarchies), private tmpfs for
// containerd's shim sockets, pod network namespaces and CNI's cache, and the masked
// kernel tunables.
func (n *Node) startHolder(ctx context.Context) error {
	h, err := startProcess(n.cfg.LogDir, "mount-holder", n.cfg.StateDir, []string{
		"nsenter", "--net=" + filepath.Join("/run/netns", n.cfg.Netns), "--",
		"unshare", "--mount", "--propagation", "private", "--", "sleep", "infinity"})
	if err != nil {
		return err
	}
	n.holder = h
	n.push(func() { h.Stop(2 * time.Second) })
	// Runs after containerd stopped: its shims (in no pod cgroup) share the mount namespace.
	n.push(func() { killMountNS(h.PID()) })
	// unshare has to finish before the namespace can be entered.
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		if h.Exited() {
			return false, fmt.Errorf("mount namespace holder exited: %v: %s", h.Err(), h.Tail(5))
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", h.PID()))
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", h.PID()))
		return err == nil && ns != self && strings.HasSuffix(exe, "/sleep"), nil
	}); err != nil {
		return fmt.Errorf("private mount namespace (unshare --mount): %w", err)
	}

	sysctlDir := filepath.Join(n.cfg.StateDir, "sysctl")
	if err := os.MkdirAll(sysctlDir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"/run/containerd", "/var/lib/cni", "/run/netns"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	script := []string{
		"set -e",
		"cg=$(mktemp -d)",
		"mount --rbind /sys/fs/cgroup \"$cg\"",
		"mount -t sysfs sysfs /sys",
		"mount --rbind \"$cg\" /sys/fs/cgroup",
		"umount -l \"$cg\"", "rmdir \"$cg\"",
		"mount -t tmpfs -o mode=0755 tmpfs /run/containerd",
		"mount -t tmpfs -o mode=0755 tmpfs /var/lib/cni",
		// containerd's pod network namespaces: their files would outlive the node on the host's /run.
		"mount -t tmpfs -o mode=0755 tmpfs /run/netns",
	}
	for k, v := range kernelTunables {
		f := filepath.Join(sysctlDir, strings.ReplaceAll(k, "/", "."))
		if err := os.WriteFile(f, []byte(v+"\n"), 0o644); err != nil {
			return err
		}
		script = append(script, fmt.Sprintf("mount --bind %s /proc/sys/%s", f, k))
	}
	if out, err := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(h.PID()), "--mount", "--net", "--",
		"sh", "-c", strings.Join(script, "\n")).CombinedOutput(); err != nil {
		return fmt.Errorf("preparing the node's mount namespace (sysfs, tmpfs, bind mounts over /proc/sys): %w: %s", err, out)
	}
	return nil
}

func (n *Node) containerdDir(p ...string) string {
	return filepath.Join(append([]string{n.cfg.StateDir, "containerd"}, p...)...)
}

func (n *Node) cniConfDir() string { return filepath.Join(n.cfg.StateDir, "cni", "net.d") }

// containerdConfig is containerd 1.6's configuration (version 2) for the CRI plugin.
func (n *Node) containerdConfig() string {
	q := strconv.Quote
	return strings.Join([]string{
		"version = 2",
		"root = " + q(n.containerdDir("root")),
		"state = " + q(n.containerdDir("state")),
		"oom_score = 0",
		`disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]`,
		"[grpc]",
		"  address = " + q(n.sock),
		"[ttrpc]",
		"  address = " + q(n.sock+".ttrpc"),
		"[debug]",
		`  level = "info"`,
		`[plugins."io.containerd.internal.v1.opt"]`,
		"  path = " + q(n.containerdDir("opt")),
		`[plugins."io.containerd.grpc.v1.cri"]`,
		"  sandbox_image = " + q(n.cfg.SandboxImage),
		// This VM refuses negative oom_score_adj values; without this every sandbox fails.
		"  restrict_oom_score_adj = true",
		"  enable_selinux = false",
		"  disable_apparmor = true",
		`  [plugins."io.containerd.grpc.v1.cri".containerd]`,
		`    snapshotter = "overlayfs"`,
		`    default_runtime_name = "runc"`,
		`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
		`      runtime_type = "io.containerd.runc.v2"`,
		`      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
		"        SystemdCgroup = false",
		`  [plugins."io.containerd.grpc.v1.cri".cni]`,
		"    bin_dir = " + q(CNIBinDir),
		"    conf_dir = " + q(n.cniConfDir()),
		"",
	}, "\n")
}

// cniConfig is the pod network: the cluster's bridge, host-local addresses from the
// pod range (gateway = node address), hostPorts through portmap.
func (n *Node) cniConfig() ([]byte, error) {
	ones, _ := n.cfg.PodCIDR.Mask.Size()
	subnet := fmt.Sprintf("%s/%d", n.cfg.PodCIDR.IP, ones)
	return json.MarshalIndent(map[string]any{
		"cniVersion": "0.4.0",
		"name":       "ngxgw",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": n.cfg.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": subnet, "gateway": n.cfg.NodeIP.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(n.cfg.StateDir, "cni", "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
}

func (n *Node) startContainerd(ctx context.Context) error {
	n.sock = n.containerdDir("containerd.sock")
	for _, d := range []string{n.containerdDir(), n.cniConfDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	conf := n.containerdDir("config.toml")
	if err := os.WriteFile(conf, []byte(n.containerdConfig()), 0o644); err != nil {
		return err
	}
	cni, err := n.cniConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.cniConfDir(), "10-ngxgw.conflist"), cni, 0o644); err != nil {
		return err
	}
	p, err := n.start("containerd", "containerd", "--config", conf)
	if err != nil {
		return err
	}
	n.containerd = p
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("containerd exited: %v", p.Err())
		}
		return exec.CommandContext(ctx, "ctr", "--address", n.sock, "version").Run() == nil, nil
	}); err != nil {
		return fmt.Errorf("waiting for containerd: %w; last log lines:\n%s", err, p.Tail(20))
	}
	n.log.Info("containerd ready", "socket", n.sock)
	return nil
}

// ctr runs ctr against the node's containerd in the CRI namespace.
func (n *Node) ctr(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// importImages imports every archive (unpacked for the overlayfs snapshotter) and
// tags its aliases; kubelet never pulls.
func (n *Node) importImages(ctx context.Context) error {
	for _, img := range n.cfg.Images {
		t0 := time.Now()
		if err := n.ctr(ctx, "images", "import", img.Archive); err != nil {
			return fmt.Errorf("importing image %s: %w", img.Archive, err)
		}
		for _, a := range img.Aliases {
			if err := n.ctr(ctx, "images", "tag", "--force", img.Ref, a); err != nil {
				return fmt.Errorf("tagging image %s as %s: %w", img.Ref, a, err)
			}
		}
		n.log.Info("image imported", "ref", img.Ref, "aliases", img.Aliases, "took", time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// killMountNS kills every process but holder in holder's mount namespace.
func killMountNS(holder int) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder))
	if err != nil {
		return
	}
	for range 50 {
		entries, _ := os.ReadDir("/proc")
		left := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == holder {
				continue
			}
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && l == ns {
				left++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
