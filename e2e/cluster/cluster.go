package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/proc"
)

// APIServerPort is the API server's port on the node address. 6443 is also a
// Gateway listener port in the conformance suite; that is fine because Gateways get
// load-balancer addresses, never the node address.
const APIServerPort = 6443

// Cluster is a running local cluster (or an attached existing one).
type Cluster struct {
	// Kubeconfig is a kubeconfig file (admin token) whose server is reachable from
	// inside Netns; for an attached cluster it is the given file.
	Kubeconfig string
	// RESTConfig reaches the API server from this process (it dials inside Netns).
	RESTConfig *rest.Config
	Client     kubernetes.Interface
	// Netns is the cluster network namespace; empty for an attached cluster.
	Netns string
	// APIServer is host:port of the API server as seen inside Netns.
	APIServer string
	// HostKubeconfig reaches the same API server from the host network namespace
	// through a forwarder on 127.0.0.1 (HostAPIServer) that lives as long as the
	// Cluster: for kubectl and controllers that need only the API, not pod traffic.
	HostKubeconfig string
	HostAPIServer  string
	// NodeIP is the bridge, node and API server address.
	NodeIP                                 net.IP
	PodCIDR, LoadBalancerCIDR, ServiceCIDR *net.IPNet
	StateDir                               string
	BinDir                                 string
	AdminToken                             string
	// StartupDuration is how long Start took.
	StartupDuration time.Duration
	// Node is the real node (Options.Node == NodeReal), else nil.
	Node *node.Node

	opts Options
	log  logr.Logger
	// procs are the control-plane programs by name (etcd, kube-apiserver,
	// kube-controller-manager), for Pause and Resume.
	procs    map[string]*proc.Logged
	ns       *podrunner.NetNS
	cleanups []func()
	stopOnce sync.Once
}

// Start brings up a local cluster in a new network namespace (or attaches to
// opts.Kubeconfig). On error everything already created is removed again, also
// when Start panics.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	t0 := time.Now()
	opts.defaults()
	if opts.Kubeconfig != "" {
		return attach(ctx, opts)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: a local cluster needs root (network namespaces, bridges, routes)")
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, b)); err != nil {
			return nil, fmt.Errorf("cluster: %s missing in %s; run hack/build-k8s.sh (make k8s-bins): %w", b, opts.BinDir, err)
		}
	}
	if err := Reap(ctx, opts.Log); err != nil {
		opts.Log.Error(err, "removing leftovers of earlier clusters")
	}

	c = &Cluster{
		opts: opts, log: opts.Log, BinDir: opts.BinDir,
		PodCIDR: opts.PodCIDR, LoadBalancerCIDR: opts.LoadBalancerCIDR, ServiceCIDR: opts.ServiceCIDR,
		NodeIP: firstIP(opts.PodCIDR),
	}
	defer func() {
		if p := recover(); p != nil {
			c.Stop()
			panic(p)
		}
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	c.APIServer = net.JoinHostPort(c.NodeIP.String(), strconv.Itoa(APIServerPort))
	idb := make([]byte, 3)
	_, _ = rand.Read(idb)
	c.Netns = NetnsPrefix + hex.EncodeToString(idb)

	cleanState, err := c.prepareStateDir()
	if err != nil {
		cleanState()
		return c, err
	}
	rec := record{Netns: c.Netns, OwnerPID: os.Getpid(), StateDir: c.StateDir, TempState: opts.StateDir == "",
		Routes: []string{opts.PodCIDR.String(), opts.LoadBalancerCIDR.String(), opts.ServiceCIDR.String()}}
	if opts.Node == NodeReal {
		rec.NodeID = c.Netns
	}
	rec.OwnerStart, _ = procStart(rec.OwnerPID)
	// The record comes first so a crash at any later point is cleaned up by Reap.
	if err := writeRecord(rec); err != nil {
		cleanState()
		return c, fmt.Errorf("cluster record: %w", err)
	}
	// Undone in reverse: the state goes before the record that would let Reap find it.
	c.push(func() { _ = os.Remove(recordPath(c.Netns)) })
	c.push(cleanState)

	if err := c.setupNetwork(ctx, rec.Routes); err != nil {
		return c, err
	}
	if err := c.startControlPlane(ctx); err != nil {
		return c, err
	}
	c.StartupDuration = time.Since(t0)
	c.log.Info("local cluster ready", "netns", c.Netns, "kubeconfig", c.Kubeconfig, "took", c.StartupDuration.Round(time.Millisecond))
	return c, nil
}

// push registers an undo step; Stop runs them in reverse.
func (c *Cluster) push(f func()) { c.cleanups = append(c.cleanups, f) }

// prepareStateDir creates the state directory and returns how to clean it up.
func (c *Cluster) prepareStateDir() (func(), error) {
	if c.opts.StateDir == "" {
		d, err := os.MkdirTemp("", "ngxgw-cluster-")
		if err != nil {
			return func() {}, err
		}
		c.StateDir = d
		return func() { _ = os.RemoveAll(d) }, os.MkdirAll(filepath.Join(d, "logs"), 0o755)
	}
	d, err := filepath.Abs(c.opts.StateDir)
	if err != nil {
		return func() {}, err
	}
	c.StateDir = d
	// A given directory keeps its logs; everything else is per run.
	generated := []string{"etcd", "pods", "pki", "kcm", "tokens.csv", "kubeconfig", "kubeconfig-host", "node"}
	clean := func() {
		for _, sub := range generated {
			_ = os.RemoveAll(filepath.Join(d, sub))
		}
	}
	clean()
	return clean, os.MkdirAll(filepath.Join(d, "logs"), 0o755)
}

// setupNetwork creates the cluster namespace: lo (with the load-balancer and
// service ranges, so every address in them is local), br0 with the node address,
// and host blackhole routes for all ranges.
func (c *Cluster) setupNetwork(ctx context.Context, routes []string) error {
	ns, err := podrunner.CreateNetNS(ctx, c.Netns)
	if err != nil {
		return err
	}
	c.ns = ns
	c.push(func() {
		_ = ns.Close()
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeNetnsTree(dctx, c.Netns); err != nil {
			c.log.Error(err, "removing network namespaces")
		}
	})
	ones, _ := c.PodCIDR.Mask.Size()
	lbOnes, _ := c.LoadBalancerCIDR.Mask.Size()
	svcOnes, _ := c.ServiceCIDR.Mask.Size()
	if err := podrunner.RunIPBatch(ctx, c.Netns, []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/%d dev lo", firstIP(c.LoadBalancerCIDR), lbOnes),
		fmt.Sprintf("addr add %s/%d dev lo", firstIP(c.ServiceCIDR), svcOnes),
		"link add br0 type bridge",
		fmt.Sprintf("addr add %s/%d dev br0", c.NodeIP, ones),
		"link set br0 up",
	}); err != nil {
		return err
	}

	unlock, err := lockRecords()
	if err != nil {
		return err
	}
	defer unlock()
	c.push(func() {
		if unlock, err := lockRecords(); err == nil {
			_ = removeUnusedRoutes(context.Background(), routes, c.Netns)
			unlock()
		}
	})
	for _, r := range routes {
		if hasBlackhole(ctx, r) {
			continue
		}
		if _, err := podrunner.RunIP(ctx, "route", "add", "blackhole", r); err != nil {
			// A real host route for the range exists: keep it, cluster traffic never uses it.
			c.log.Info("cannot add host blackhole route", "range", r, "err", err.Error())
		}
	}
	return nil
}

func (c *Cluster) startControlPlane(ctx context.Context) error {
	p, err := newPKI(filepath.Join(c.StateDir, "pki"), []net.IP{c.NodeIP, firstIP(c.ServiceCIDR)}, c.NodeIP)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	c.AdminToken = hex.EncodeToString(tok)
	tokens := filepath.Join(c.StateDir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.AdminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.StateDir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, "https://"+c.APIServer, p.caPEM, c.AdminToken); err != nil {
		return err
	}
	c.RESTConfig = &rest.Config{
		Host:            "https://" + c.APIServer,
		BearerToken:     c.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		Dial:            c.ns.DialContext,
		QPS:             100,
		Burst:           200,
	}
	if c.Client, err = kubernetes.NewForConfig(c.RESTConfig); err != nil {
		return err
	}
	logs := filepath.Join(c.StateDir, "logs")
	bin := func(n string) string { return filepath.Join(c.BinDir, n) }

	etcd, err := c.start(logs, ProcEtcd, bin("etcd"),
		"--name=default", "--data-dir="+filepath.Join(c.StateDir, "etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=default=http://127.0.0.1:2380", "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	plain := &http.Client{Transport: &http.Transport{DialContext: c.ns.DialContext}, Timeout: 2 * time.Second}
	if err := waitHealthy(ctx, etcd, time.Minute, func(ctx context.Context) bool {
		return httpOK(ctx, plain, "http://127.0.0.1:2379/health", "")
	}); err != nil {
		return err
	}
	c.log.Info("etcd ready")

	api, err := c.start(logs, ProcAPIServer, bin("kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address="+c.NodeIP.String(), "--advertise-address="+c.NodeIP.String(),
		"--secure-port="+strconv.Itoa(APIServerPort),
		"--service-cluster-ip-range="+c.ServiceCIDR.String(),
		"--tls-cert-file="+p.apiserverCert, "--tls-private-key-file="+p.apiserKey,
		"--client-ca-file="+p.caFile, "--cert-dir="+filepath.Join(c.StateDir, "pki"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.saPub, "--service-account-signing-key-file="+p.saKey,
		// Node: a real kubelet (system:node:<name>) may touch only its own Node and pods.
		"--token-auth-file="+tokens, "--authorization-mode=Node,RBAC", "--allow-privileged=true",
		"--kubelet-client-certificate="+p.kubeletClientCert, "--kubelet-client-key="+p.kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP",
		"--enable-priority-and-fairness=false", "--profiling=false", "--v=1")
	if err != nil {
		return err
	}
	secure := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext:     c.ns.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: p.caPool(), MinVersion: tls.VersionTLS12},
	}}
	if err := waitHealthy(ctx, api, 2*time.Minute, func(ctx context.Context) bool {
		return httpOK(ctx, secure, "https://"+c.APIServer+"/readyz", c.AdminToken)
	}); err != nil {
		return err
	}
	c.log.Info("kube-apiserver ready")
	if err := c.forwardAPIServer(p.caPEM); err != nil {
		return err
	}

	kcm, err := c.start(logs, "kube-controller-manager", bin("kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=10257", "--cert-dir="+filepath.Join(c.StateDir, "kcm"),
		"--leader-elect=false", "--service-account-private-key-file="+p.saKey, "--root-ca-file="+p.caFile,
		"--controllers="+c.controllers(), "--profiling=false")
	if err != nil {
		return err
	}

	if c.opts.Node == NodeReal {
		if err := c.startNode(ctx, p); err != nil {
			return err
		}
	} else if err := c.startRunner(ctx, p); err != nil {
		return err
	}
	if !c.opts.SkipCRDs {
		if err := InstallCRDs(ctx, c.RESTConfig, c.opts.CRDDir); err != nil {
			return err
		}
		c.log.Info("CRDs installed", "dir", c.opts.CRDDir)
	}
	insecure := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext:     c.ns.DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed health endpoint in the private namespace
	}}
	// The default ServiceAccount proves the controllers run (pods need it for tokens).
	return waitHealthy(ctx, kcm, 2*time.Minute, func(ctx context.Context) bool {
		if !httpOK(ctx, insecure, "https://127.0.0.1:10257/healthz", "") {
			return false
		}
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
}

// controllers are kube-controller-manager's controllers. The pod runner keeps its
// Node Ready itself, so node lifecycle (taints, evictions) stays off; a real node
// needs it to lift the not-ready taint the API server puts on every new Node.
func (c *Cluster) controllers() string {
	if c.opts.Node == NodeReal {
		return "*,-nodeipam,-cloud-node-lifecycle"
	}
	return "*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle"
}

// forwardAPIServer serves the API server on a free 127.0.0.1 port of the host
// namespace (the serving certificate lists 127.0.0.1) and writes HostKubeconfig.
func (c *Cluster) forwardAPIServer(ca []byte) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("API server forwarder: %w", err)
	}
	c.push(func() { _ = l.Close() })
	c.HostAPIServer = l.Addr().String()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				up, err := c.ns.DialContext(ctx, "tcp", c.APIServer)
				cancel()
				if err != nil {
					return
				}
				defer up.Close()
				podrunner.Pipe(conn, up)
			}()
		}
	}()
	c.HostKubeconfig = filepath.Join(c.StateDir, "kubeconfig-host")
	return writeKubeconfig(c.HostKubeconfig, "https://"+c.HostAPIServer, ca, c.AdminToken)
}

// start runs a control-plane program and registers its stop.
func (c *Cluster) start(logDir, name string, argv ...string) (*proc.Logged, error) {
	p, err := startProcess(c.Netns, c.StateDir, logDir, name, argv)
	if err != nil {
		return nil, err
	}
	c.push(func() {
		_ = proc.SignalGroup(p.PID(), syscall.SIGCONT) // a paused program cannot stop
		p.Stop(10 * time.Second)
	})
	if c.procs == nil {
		c.procs = map[string]*proc.Logged{}
	}
	c.procs[name] = p
	return p, nil
}

// Control-plane programs Pause and Resume know.
const (
	ProcEtcd      = "etcd"
	ProcAPIServer = "kube-apiserver"
)

// Pause freezes a control-plane program (SIGSTOP to its process group): its
// sockets stay open and connections to it hang, as with a hung or partitioned
// server; nothing restarts it. Resume (SIGCONT) lets it carry on where it was.
func (c *Cluster) Pause(name string) error { return c.signal(name, syscall.SIGSTOP) }

// Resume undoes Pause.
func (c *Cluster) Resume(name string) error { return c.signal(name, syscall.SIGCONT) }

func (c *Cluster) signal(name string, sig syscall.Signal) error {
	p, ok := c.procs[name]
	if !ok {
		return fmt.Errorf("cluster: no local %s (attached cluster, or not started)", name)
	}
	if p.Exited() {
		return fmt.Errorf("cluster: %s exited: %v", name, p.Err())
	}
	return proc.SignalGroup(p.PID(), sig)
}

func (c *Cluster) startRunner(ctx context.Context, p *pki) error {
	images := podrunner.DefaultImages(c.opts.EchoBin)
	for k, v := range c.opts.Images {
		images[k] = v
	}
	r, err := podrunner.New(podrunner.Config{
		Client:           c.Client,
		Netns:            c.ns,
		PodCIDR:          c.PodCIDR,
		NodeIP:           c.NodeIP,
		KubeletCert:      p.kubelet,
		ClientCA:         p.caPool(),
		LoadBalancerCIDR: c.LoadBalancerCIDR,
		ServiceCIDR:      c.ServiceCIDR,
		APIServerHost:    c.NodeIP.String(),
		APIServerPort:    APIServerPort,
		StateDir:         c.StateDir,
		Images:           images,
		Log:              c.log.WithName("podrunner"),
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx, ready) }()
	c.push(func() {
		cancel()
		if err := <-done; err != nil {
			c.log.Error(err, "pod runner")
		}
	})
	select {
	case <-ready:
		c.log.Info("pod runner ready", "node", r.NodeName())
		return nil
	case err := <-done:
		done <- err // for the cleanup above
		return fmt.Errorf("pod runner: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitHealthy polls check until it passes, the process exits, or timeout.
func waitHealthy(ctx context.Context, p *proc.Logged, timeout time.Duration, check func(context.Context) bool) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("%s exited: %v", p.Name, p.Err())
		}
		return check(ctx), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w; last log lines:\n%s", p.Name, err, p.Tail(20))
	}
	return nil
}

func httpOK(ctx context.Context, hc *http.Client, url, token string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func writeKubeconfig(path, server string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ngxgw"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["ngxgw"] = &clientcmdapi.Context{Cluster: "ngxgw", AuthInfo: "admin"}
	cfg.CurrentContext = "ngxgw"
	return clientcmd.WriteToFile(*cfg, path)
}

// attach uses an existing cluster: nothing local is started or torn down.
func attach(ctx context.Context, opts Options) (*Cluster, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("cluster: kubeconfig %s: %w", opts.Kubeconfig, err)
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200 // client-go's default of 5 makes CRD installs crawl
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Kubeconfig: opts.Kubeconfig, RESTConfig: cfg, Client: cs, APIServer: strings.TrimPrefix(cfg.Host, "https://"),
		BinDir: opts.BinDir, opts: opts, log: opts.Log}
	if !opts.SkipCRDs {
		if err := InstallCRDs(ctx, cfg, opts.CRDDir); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Stop tears the cluster down: pods, control plane, namespaces, veths, bridge,
// blackhole routes, temporary files. It is idempotent and safe after a failed Start.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	c.stopOnce.Do(func() {
		for i := len(c.cleanups) - 1; i >= 0; i-- {
			c.cleanups[i]()
		}
		c.cleanups = nil
	})
}

// Command returns a command that runs inside the cluster network namespace with
// KUBECONFIG set and the control-plane bin dir (kubectl) first on PATH.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if c.ns == nil {
		cmd = exec.CommandContext(ctx, name, args...)
	} else {
		cmd = c.ns.Command(ctx, name, args...)
	}
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PATH="+c.BinDir+":"+os.Getenv("PATH"))
	return cmd
}

// Exec runs argv inside the cluster network namespace and returns its combined output.
func (c *Cluster) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("cluster: Exec needs a command")
	}
	out, err := c.Command(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// InNamespace runs fn on a locked OS thread inside the cluster network namespace.
// Sockets fn creates on its own goroutine stay in the namespace for their lifetime;
// goroutines fn starts do not run inside.
func (c *Cluster) InNamespace(fn func() error) error {
	if c.ns == nil {
		return fn()
	}
	return c.ns.Do(fn)
}

// DialContext dials from inside the cluster network namespace (literal IPs only);
// it fits net.Dialer.DialContext and http.Transport.DialContext.
func (c *Cluster) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.ns == nil {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return c.ns.DialContext(ctx, network, addr)
}

// HTTPClient returns a client whose connections start inside the cluster network namespace.
func (c *Cluster) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: c.DialContext, ForceAttemptHTTP2: true}, Timeout: 30 * time.Second}
}

// ServiceAccountToken issues a token for namespace/name (the ServiceAccount must exist).
func (c *Cluster) ServiceAccountToken(ctx context.Context, namespace, name string, ttl time.Duration) (string, error) {
	secs := int64(ttl / time.Second)
	tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}
