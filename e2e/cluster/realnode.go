package cluster

import (
	"context"
	"path/filepath"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
)

// Images the real node imports (see DefaultNodeImages). The echo and CoreDNS
// aliases are the references the Gateway API v1.6.3 conformance manifests use.
const (
	PauseImage     = "registry.k8s.io/pause:ngxgw"
	CoreDNSImage   = "registry.k8s.io/coredns/coredns:v1.15.0"
	EchoBasicImage = "registry.k8s.io/gateway-api/echo-basic:v1.6.3"
	// BusyboxImage holds Debian's static busybox (sh, nslookup, wget) for looking
	// around inside the cluster: command [/bin/busybox, APPLET, ...].
	BusyboxImage = "ngxgw.local/busybox:1.35"
)

// EchoBasicAliases are the other names echo-basic is tagged with on a real node.
var EchoBasicAliases = []string{
	"registry.k8s.io/gateway-api/echo-basic:v1.5.1",
	"registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.2",
	"registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.3",
}

// CoreDNSAliases are the other names the CoreDNS image is tagged with.
var CoreDNSAliases = []string{"registry.k8s.io/coredns/coredns:v1.12.2"}

// startNode starts a real node (package node) in the cluster namespace.
func (c *Cluster) startNode(ctx context.Context, p *pki) error {
	images := c.opts.NodeImages
	if len(images) == 0 {
		var err error
		if images, err = DefaultNodeImages(c.BinDir, filepath.Join(cacheDir(), "images", "node")); err != nil {
			return err
		}
	}
	images = append(images, c.opts.NodeExtraImages...)
	n, err := node.Start(ctx, node.Config{
		Netns:              c.Netns,
		Name:               NodeName,
		NodeIP:             c.NodeIP,
		Bridge:             "br0",
		PodCIDR:            c.PodCIDR,
		ServiceCIDR:        c.ServiceCIDR,
		LoadBalancerCIDR:   c.LoadBalancerCIDR,
		StateDir:           filepath.Join(c.StateDir, "node"),
		LogDir:             filepath.Join(c.StateDir, "logs"),
		BinDir:             c.BinDir,
		APIServer:          "https://" + c.APIServer,
		CAFile:             p.caFile,
		KubeletClientCert:  p.nodeClientCert,
		KubeletClientKey:   p.nodeClientKey,
		KubeletServingCert: p.kubeletCert,
		KubeletServingKey:  p.kubeletKey,
		AdminKubeconfig:    c.Kubeconfig,
		Client:             c.Client,
		Images:             images,
		SandboxImage:       PauseImage,
		CoreDNSImage:       CoreDNSImage,
		ID:                 c.Netns,
		Log:                c.log.WithName("node"),
	})
	if err != nil {
		return err
	}
	c.Node = n
	c.push(n.Stop)
	return nil
}
