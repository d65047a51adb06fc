package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// Config describes the node. Every field without a default is required.
type Config struct {
	// Netns is the cluster's named network namespace (`ip netns`).
	Netns string
	// Name is the Node name; the kubelet client certificate must be for
	// system:node:<Name> in group system:nodes.
	Name string
	// NodeIP is the node's address inside Netns (the bridge address of the pod range).
	NodeIP net.IP
	// Bridge is the bridge in Netns that holds NodeIP (the CNI bridge plugin joins pods to it).
	Bridge string
	// PodCIDR, ServiceCIDR and LoadBalancerCIDR are the cluster's ranges.
	PodCIDR, ServiceCIDR, LoadBalancerCIDR *net.IPNet
	// DNSServiceIP is the kube-dns Service address (default: the tenth address of ServiceCIDR).
	DNSServiceIP net.IP
	// StateDir receives the node's files (containerd root, kubelet root, configs);
	// LogDir its logs (default StateDir/logs).
	StateDir, LogDir string
	// BinDir holds kubelet, kube-proxy, kube-scheduler (hack/build-k8s.sh).
	BinDir string
	// APIServer is the API server URL as seen inside Netns.
	APIServer string
	// CAFile signs the API server's certificate and the clients the kubelet accepts.
	CAFile string
	// KubeletClientCert/Key authenticate kubelet to the API server;
	// KubeletServingCert/Key are kubelet's own serving certificate for NodeIP.
	KubeletClientCert, KubeletClientKey   string
	KubeletServingCert, KubeletServingKey string
	// AdminKubeconfig is used by kube-proxy and kube-scheduler.
	AdminKubeconfig string
	// Client talks to the API server (CoreDNS objects, load-balancer controller, Node wait).
	Client kubernetes.Interface
	// Images are image archives to import; each entry lists extra names to tag it with.
	Images []Image
	// SandboxImage is the pause image reference (it must be among Images).
	SandboxImage string
	// CoreDNSImage is the CoreDNS image reference (among Images); empty skips CoreDNS.
	CoreDNSImage string
	// ID makes host-global names unique (cgroup root); default: Netns.
	ID  string
	Log logr.Logger
}

// Image is an archive for `ctr images import` and the extra references to tag it with.
type Image struct {
	Archive string
	// Ref is the reference stored in the archive (needed only for Aliases, which
	// are tagged from it).
	Ref     string
	Aliases []string
}

// Node is a running node.
type Node struct {
	cfg    Config
	log    logr.Logger
	holder *proc.Logged
	// The long-running components, for liveness checks and error messages.
	containerd, kubelet, proxy, scheduler *proc.Logged
	cgroups                               *cgroupRoot
	sock                                  string
	cleanups                              []func()
	stopOnce                              sync.Once
	// StartupDuration is how long Start took (until the Node was Ready and CoreDNS available).
	StartupDuration time.Duration
}

// Start brings the node up and waits until the Node is Ready and CoreDNS answers.
// On error everything already started is stopped again.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	t0 := time.Now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := Preflight(cfg.BinDir); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: cfg.Log}
	defer func() {
		if p := recover(); p != nil {
			n.Stop()
			panic(p)
		}
		if err != nil {
			n.Stop()
			n = nil
		}
	}()
	for _, d := range []string{cfg.StateDir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return n, err
		}
	}
	if n.cgroups, err = newCgroupRoot(CgroupName(cfg.ID)); err != nil {
		return n, err
	}
	n.push(func() {
		if err := n.cgroups.remove(); err != nil {
			n.log.Error(err, "removing the node's cgroups")
		}
	})
	if err := n.startHolder(ctx); err != nil {
		return n, err
	}
	if err := n.startContainerd(ctx); err != nil {
		return n, err
	}
	if err := n.importImages(ctx); err != nil {
		return n, err
	}
	if err := n.startKubelet(ctx); err != nil {
		return n, err
	}
	if err := n.startScheduler(); err != nil {
		return n, err
	}
	if err := n.startProxy(); err != nil {
		return n, err
	}
	netns, err := podrunner.OpenNetNS(cfg.Netns)
	if err != nil {
		return n, err
	}
	n.push(func() { _ = netns.Close() })
	lbctx, cancel := context.WithCancel(context.Background())
	lbDone := make(chan struct{})
	go func() {
		defer close(lbDone)
		newLBController(cfg.Client, cfg.LoadBalancerCIDR, netns, cfg.Log.WithName("loadbalancer")).run(lbctx)
	}()
	n.push(func() { cancel(); <-lbDone })

	if err := n.waitNodeReady(ctx, 3*time.Minute); err != nil {
		return n, err
	}
	if cfg.CoreDNSImage != "" {
		if err := n.deployCoreDNS(ctx); err != nil {
			return n, err
		}
	}
	n.StartupDuration = time.Since(t0)
	n.log.Info("node ready", "node", cfg.Name, "took", n.StartupDuration.Round(time.Millisecond))
	return n, nil
}

func (c *Config) defaults() error {
	var missing []string
	for k, v := range map[string]string{"Netns": c.Netns, "Name": c.Name, "Bridge": c.Bridge, "StateDir": c.StateDir,
		"BinDir": c.BinDir, "APIServer": c.APIServer, "CAFile": c.CAFile, "KubeletClientCert": c.KubeletClientCert,
		"KubeletClientKey": c.KubeletClientKey, "KubeletServingCert": c.KubeletServingCert,
		"KubeletServingKey": c.KubeletServingKey, "AdminKubeconfig": c.AdminKubeconfig, "SandboxImage": c.SandboxImage} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if c.NodeIP == nil || c.PodCIDR == nil || c.ServiceCIDR == nil || c.LoadBalancerCIDR == nil || c.Client == nil {
		missing = append(missing, "NodeIP/PodCIDR/ServiceCIDR/LoadBalancerCIDR/Client")
	}
	if len(missing) > 0 {
		return fmt.Errorf("node: config lacks %v", missing)
	}
	if c.DNSServiceIP == nil {
		ip := make(net.IP, 4)
		copy(ip, c.ServiceCIDR.IP.To4())
		ip[3] += 10
		c.DNSServiceIP = ip
	}
	if c.LogDir == "" {
		c.LogDir = filepath.Join(c.StateDir, "logs")
	}
	if c.ID == "" {
		c.ID = c.Netns
	}
	if c.Log.GetSink() == nil {
		c.Log = logr.Discard()
	}
	return nil
}

func (n *Node) push(f func()) { n.cleanups = append(n.cleanups, f) }

// Stop stops every component, kills what is left in the node's cgroups and removes
// them. Idempotent; safe after a failed Start.
func (n *Node) Stop() {
	if n == nil {
		return
	}
	n.stopOnce.Do(func() {
		for i := len(n.cleanups) - 1; i >= 0; i-- {
			n.cleanups[i]()
		}
		n.cleanups = nil
	})
}

// Name is the Node's name.
func (n *Node) Name() string { return n.cfg.Name }

// start runs argv inside the holder's mount namespace and the cluster's network
// namespace, logging to LogDir/<name>.log, and registers its stop.
func (n *Node) start(name string, argv ...string) (*proc.Logged, error) {
	p, err := startProcess(n.cfg.LogDir, name, n.cfg.StateDir,
		append([]string{"nsenter", "--target", strconv.Itoa(n.holder.PID()), "--mount", "--net", "--"}, argv...))
	if err != nil {
		return nil, err
	}
	n.push(func() { p.Stop(15 * time.Second) })
	return p, nil
}

// waitNodeReady waits for the Node object to report Ready.
func (n *Node) waitNodeReady(ctx context.Context, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range n.procs() {
			if p.Exited() {
				return false, fmt.Errorf("%s exited: %v; last log lines:\n%s", p.Name, p.Err(), p.Tail(15))
			}
		}
		nd, err := n.cfg.Client.CoreV1().Nodes().Get(ctx, n.cfg.Name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, c := range nd.Status.Conditions {
			if c.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not Ready (%s): %w; kubelet log:\n%s", n.cfg.Name, last, err, n.kubelet.Tail(20))
	}
	return nil
}

// procs lists the long-running components for liveness checks.
func (n *Node) procs() []*proc.Logged {
	var ps []*proc.Logged
	for _, p := range []*proc.Logged{n.holder, n.containerd, n.kubelet, n.proxy, n.scheduler} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}
