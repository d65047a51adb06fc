package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// K8sVersion is the Kubernetes release hack/build-k8s.sh builds.
const K8sVersion = "v1.36.3"

// NodeMode chooses what runs the cluster's pods.
type NodeMode string

const (
	// NodePodRunner runs pods as host processes (package podrunner), the default.
	NodePodRunner NodeMode = "podrunner"
	// NodeReal runs kubelet, containerd, kube-proxy, kube-scheduler and CoreDNS (package node).
	NodeReal NodeMode = "real"
)

// ParseNodeMode accepts "podrunner" (or "") and "real".
func ParseNodeMode(s string) (NodeMode, error) {
	switch NodeMode(s) {
	case "", NodePodRunner:
		return NodePodRunner, nil
	case NodeReal:
		return NodeReal, nil
	}
	return "", fmt.Errorf("node mode %q: want %q or %q", s, NodePodRunner, NodeReal)
}

// Options configures Start. Zero values get the defaults noted per field.
type Options struct {
	// Kubeconfig targets an existing cluster (kind, for example) instead of starting one;
	// then nothing runs locally and Exec/DialContext use the host network.
	Kubeconfig string

	// BinDir holds etcd, kube-apiserver, kube-controller-manager (and kubectl,
	// echo-basic). Default: $K8S_BIN_DIR, else $CACHE_DIR/k8s/<K8sVersion>/bin with
	// CACHE_DIR defaulting to $HOME/.cache/nghttpx-gateway (see hack/build-k8s.sh).
	BinDir string
	// EchoBin is the echo-basic binary for the conformance echo images.
	// Default: $ECHO_BIN, else BinDir/echo-basic, else $CACHE_DIR/bin/echo-basic.
	EchoBin string
	// Images adds to (and overrides) the pod runner's image map.
	Images podrunner.ImageMap

	// Node selects the pod runner (default) or a real node. A real node needs
	// kubelet, kube-proxy, kube-scheduler in BinDir and the Debian packages of
	// hack/install-node-deps.sh; it imports NodeImages (default: DefaultNodeImages).
	Node       NodeMode
	NodeImages []node.Image
	// NodeExtraImages are imported as well, e.g. the project's image (make image).
	NodeExtraImages []node.Image

	// StateDir keeps certificates, kubeconfig, etcd data, pod files and logs. Default:
	// a temporary directory removed by Stop. A given directory is reused (old etcd data
	// and pods are removed at start) and only its logs survive Stop.
	StateDir string

	// PodCIDR (default 10.244.0.0/16; the first address is the bridge, node and API
	// server address), LoadBalancerCIDR (default 10.245.0.0/16) and ServiceCIDR
	// (default 10.96.0.0/16) must not overlap.
	PodCIDR, LoadBalancerCIDR, ServiceCIDR *net.IPNet

	// CRDDir holds the CRD manifests to install (default: the Gateway API v1.6.3
	// experimental channel from the module cache). SkipCRDs installs none.
	CRDDir   string
	SkipCRDs bool

	// Log receives progress and pod runner messages (default: discarded).
	Log logr.Logger
}

func cacheDir() string {
	if d := os.Getenv("CACHE_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "nghttpx-gateway")
}

// DefaultBinDir is where hack/build-k8s.sh puts the control-plane binaries.
func DefaultBinDir() string {
	if d := os.Getenv("K8S_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(cacheDir(), "k8s", K8sVersion, "bin")
}

func gomodcache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	gp := os.Getenv("GOPATH")
	if gp == "" {
		home, _ := os.UserHomeDir()
		gp = filepath.Join(home, "go")
	}
	return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
}

// DefaultCRDDir is the Gateway API v1.6.3 experimental CRD directory in the module cache.
func DefaultCRDDir() string {
	return filepath.Join(gomodcache(), "sigs.k8s.io", "gateway-api@v1.6.3", "config", "crd", "experimental")
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func (o *Options) defaults() {
	if o.BinDir == "" {
		o.BinDir = DefaultBinDir()
	}
	if o.EchoBin == "" {
		o.EchoBin = os.Getenv("ECHO_BIN")
	}
	if o.EchoBin == "" {
		o.EchoBin = filepath.Join(o.BinDir, "echo-basic")
		if _, err := os.Stat(o.EchoBin); err != nil {
			o.EchoBin = filepath.Join(cacheDir(), "bin", "echo-basic")
		}
	}
	if o.PodCIDR == nil {
		o.PodCIDR = mustCIDR("10.244.0.0/16")
	}
	if o.LoadBalancerCIDR == nil {
		o.LoadBalancerCIDR = mustCIDR("10.245.0.0/16")
	}
	if o.ServiceCIDR == nil {
		o.ServiceCIDR = mustCIDR("10.96.0.0/16")
	}
	if o.CRDDir == "" {
		o.CRDDir = DefaultCRDDir()
	}
	if o.Node == "" {
		o.Node = NodePodRunner
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
}

// firstIP is network+1 (the bridge / node / API server address).
func firstIP(n *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	copy(ip, n.IP.To4())
	ip[3]++
	return ip
}
