package podrunner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
)

// ipam hands out pod addresses from a range, next-fit so a freed address is not
// reused at once (stale endpoints then point nowhere rather than at a new pod).
type ipam struct {
	mu    sync.Mutex
	base  uint32
	size  uint32
	next  uint32
	used  map[uint32]bool
	skip  uint32
	ones  int
	valid bool
}

func newIPAM(cidr *net.IPNet, reserved net.IP) *ipam {
	ones, bits := cidr.Mask.Size()
	a := &ipam{used: map[uint32]bool{}, ones: ones}
	if v4 := cidr.IP.To4(); v4 != nil && bits == 32 {
		a.base = binary.BigEndian.Uint32(v4)
		a.size = 1 << (32 - ones)
		a.valid = true
	}
	if r := reserved.To4(); r != nil {
		a.skip = binary.BigEndian.Uint32(r)
	}
	a.next = 2
	return a
}

func (a *ipam) allocate() (net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.valid {
		return nil, errors.New("pod range is not IPv4")
	}
	for range a.size {
		off := a.next
		a.next++
		if a.next >= a.size-1 {
			a.next = 2
		}
		ip := a.base + off
		if off == 0 || off >= a.size-1 || ip == a.skip || a.used[ip] {
			continue
		}
		a.used[ip] = true
		out := make(net.IP, 4)
		binary.BigEndian.PutUint32(out, ip)
		return out, nil
	}
	return nil, errors.New("pod range exhausted")
}

func (a *ipam) release(ip net.IP) {
	if v4 := ip.To4(); v4 != nil {
		a.mu.Lock()
		delete(a.used, binary.BigEndian.Uint32(v4))
		a.mu.Unlock()
	}
}

// podNetwork is one pod's namespace and veth pair.
type podNetwork struct {
	ns     *NetNS
	veth   string
	shared bool // hostNetwork pods run in the cluster namespace itself
}

// setupPodNetwork creates namespace name with eth0=ip/prefix, joined to the bridge.
func (r *Runner) setupPodNetwork(ctx context.Context, name string, ip net.IP) (*podNetwork, error) {
	ns, err := CreateNetNS(ctx, name)
	if err != nil {
		return nil, err
	}
	ones, _ := r.cfg.PodCIDR.Mask.Size()
	// Host-side veth names must be unique in the cluster namespace and <= 15 bytes.
	veth := fmt.Sprintf("vp%x", binary.BigEndian.Uint32(ip.To4())&0xffffff)
	pn := &podNetwork{ns: ns, veth: veth}
	err = RunIPBatch(ctx, r.cfg.Netns.Name, []string{
		fmt.Sprintf("link add %s type veth peer name eth0 netns %s", veth, name),
		fmt.Sprintf("link set %s master %s up", veth, r.cfg.Bridge),
	})
	if err == nil {
		err = RunIPBatch(ctx, name, []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/%d dev eth0", ip, ones),
			"link set eth0 up",
			fmt.Sprintf("route add default via %s", r.cfg.NodeIP),
		})
	}
	if err != nil {
		pn.teardown(context.Background(), r.cfg.Netns.Name)
		return nil, err
	}
	return pn, nil
}

// teardown deletes the pod namespace; its veth end goes with it, taking the peer along.
func (pn *podNetwork) teardown(ctx context.Context, clusterNS string) {
	if pn == nil || pn.shared {
		return
	}
	_ = pn.ns.Delete(ctx)
	// The peer normally vanishes with the namespace; remove it explicitly if a process
	// still holds the namespace open.
	_, _ = RunIP(ctx, "-n", clusterNS, "link", "del", pn.veth)
}
