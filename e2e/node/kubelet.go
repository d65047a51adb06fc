package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeletPort is kubelet's HTTPS port on the node address (logs, exec).
const kubeletPort = 10250

func (n *Node) kubeletDir(p ...string) string {
	return filepath.Join(append([]string{n.cfg.StateDir, "kubelet"}, p...)...)
}

// kubeletConfig is a KubeletConfiguration for cgroup v1 with containerd.
func (n *Node) kubeletConfig() string {
	lines := []string{
		"apiVersion: kubelet.config.k8s.io/v1beta1",
		"kind: KubeletConfiguration",
		// cgroup v1 is all this machine has; kubelet 1.35+ refuses it without this.
		"failCgroupV1: false",
		"cgroupDriver: cgroupfs",
		"cgroupRoot: /" + n.cgroups.name,
		"containerRuntimeEndpoint: unix://" + n.sock,
		"address: " + n.cfg.NodeIP.String(),
		fmt.Sprintf("port: %d", kubeletPort),
		"readOnlyPort: 0",
		"healthzBindAddress: 127.0.0.1",
		"healthzPort: 10248",
		"tlsCertFile: " + n.cfg.KubeletServingCert,
		"tlsPrivateKeyFile: " + n.cfg.KubeletServingKey,
		// Only clients with a certificate from the cluster CA (the API server) get in.
		"authentication:",
		"  anonymous: {enabled: false}",
		"  webhook: {enabled: false}",
		"  x509: {clientCAFile: " + n.cfg.CAFile + "}",
		"authorization: {mode: AlwaysAllow}",
		"clusterDomain: cluster.local",
		"clusterDNS: [" + n.cfg.DNSServiceIP.String() + "]",
		// The namespace has no upstream resolver: pods get cluster DNS only.
		`resolvConf: ""`,
		"failSwapOn: false",
		"podLogsDir: " + n.kubeletDir("pod-logs"),
		// Images cannot be pulled again: never garbage-collect them.
		"imageGCHighThresholdPercent: 100",
		"imageGCLowThresholdPercent: 99",
		// A busy shared disk must not evict test pods.
		"evictionHard: {memory.available: 20Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%, imagefs.inodesFree: 1%}",
		"serializeImagePulls: false",
		"enforceNodeAllocatable: [pods]",
		"maxPods: 250",
		"nodeStatusUpdateFrequency: 5s",
		"syncFrequency: 10s",
		"fileCheckFrequency: 10s",
		"",
	}
	return strings.Join(lines, "\n")
}

func writeCertKubeconfig(path, server, caFile, cert, key string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ngxgw"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["node"] = &clientcmdapi.AuthInfo{ClientCertificate: cert, ClientKey: key}
	cfg.Contexts["ngxgw"] = &clientcmdapi.Context{Cluster: "ngxgw", AuthInfo: "node"}
	cfg.CurrentContext = "ngxgw"
	return clientcmd.WriteToFile(*cfg, path)
}

func (n *Node) startKubelet(_ context.Context) error {
	if err := os.MkdirAll(n.kubeletDir("pod-logs"), 0o755); err != nil {
		return err
	}
	conf := n.kubeletDir("config.yaml")
	if err := os.WriteFile(conf, []byte(n.kubeletConfig()), 0o644); err != nil {
		return err
	}
	kc := n.kubeletDir("kubeconfig")
	if err := writeCertKubeconfig(kc, n.cfg.APIServer, n.cfg.CAFile, n.cfg.KubeletClientCert, n.cfg.KubeletClientKey); err != nil {
		return err
	}
	p, err := n.start("kubelet", filepath.Join(n.cfg.BinDir, "kubelet"),
		"--config="+conf, "--kubeconfig="+kc, "--root-dir="+n.kubeletDir("root"),
		"--cert-dir="+n.kubeletDir("pki"), "--hostname-override="+n.cfg.Name,
		"--node-ip="+n.cfg.NodeIP.String(), "--v=1")
	if err != nil {
		return err
	}
	n.kubelet = p
	return nil
}

func (n *Node) startScheduler() error {
	p, err := n.start("kube-scheduler", filepath.Join(n.cfg.BinDir, "kube-scheduler"),
		"--kubeconfig="+n.cfg.AdminKubeconfig, "--authentication-kubeconfig="+n.cfg.AdminKubeconfig,
		"--authorization-kubeconfig="+n.cfg.AdminKubeconfig, "--bind-address=127.0.0.1", "--secure-port=10259",
		"--leader-elect=false", "--profiling=false")
	if err != nil {
		return err
	}
	n.scheduler = p
	return nil
}

// kubeProxyConfig: iptables mode on the pod range; conntrack limits left as the
// kernel has them (they are host-global).
func (n *Node) kubeProxyConfig() string {
	ones, _ := n.cfg.PodCIDR.Mask.Size()
	return strings.Join([]string{
		"apiVersion: kubeproxy.config.k8s.io/v1alpha1",
		"kind: KubeProxyConfiguration",
		"mode: iptables",
		fmt.Sprintf("clusterCIDR: %s/%d", n.cfg.PodCIDR.IP, ones),
		"hostnameOverride: " + n.cfg.Name,
		"clientConnection: {kubeconfig: " + n.cfg.AdminKubeconfig + "}",
		"healthzBindAddress: 127.0.0.1:10256",
		"metricsBindAddress: 127.0.0.1:10249",
		"conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}",
		"iptables: {syncPeriod: 10s, minSyncPeriod: 0s}",
		"",
	}, "\n")
}

func (n *Node) startProxy() error {
	conf := filepath.Join(n.cfg.StateDir, "kube-proxy.yaml")
	if err := os.WriteFile(conf, []byte(n.kubeProxyConfig()), 0o644); err != nil {
		return err
	}
	p, err := n.start("kube-proxy", filepath.Join(n.cfg.BinDir, "kube-proxy"), "--config="+conf, "--v=1")
	if err != nil {
		return err
	}
	n.proxy = p
	return nil
}
