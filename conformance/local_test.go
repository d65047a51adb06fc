//go:build conformance

package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/node"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// Static addresses for GatewayStaticAddresses on the local cluster: the pod
// runner's load balancer grants a requested spec.loadBalancerIP inside its range
// (10.245.0.0/16; it allocates from the bottom, so the top is free) and nothing
// outside it. 192.0.2.1 (TEST-NET-1) has no route inside the namespace.
const (
	localUsableAddress   = "10.245.255.200"
	localUnusableAddress = "192.0.2.1"
)

// fieldManager owns what the conformance harness applies.
const fieldManager = "nghttpx-gateway-conformance"

// nodeOptions chooses what runs the pods: with E2E_NODE=real (make conformance's
// default) a real kubelet and containerd run the project image E2E_IMAGE_ARCHIVE
// (from make image), as on a user's cluster; otherwise the pod runner maps our image
// to bin and NGHTTPX_BIN.
func nodeOptions(bin string) (cluster.Options, error) {
	mode, err := cluster.ParseNodeMode(os.Getenv("E2E_NODE"))
	if err != nil {
		return cluster.Options{}, fmt.Errorf("E2E_NODE: %w", err)
	}
	if mode == cluster.NodeReal {
		archive := os.Getenv("E2E_IMAGE_ARCHIVE")
		if archive == "" {
			return cluster.Options{}, fmt.Errorf("E2E_NODE=real needs E2E_IMAGE_ARCHIVE (the archive make image prints)")
		}
		return cluster.Options{Node: mode, NodeExtraImages: []node.Image{{Archive: archive}}}, nil
	}
	nghttpx := os.Getenv("NGHTTPX_BIN")
	if nghttpx == "" {
		return cluster.Options{}, fmt.Errorf("NGHTTPX_BIN is unset: the data-plane pods need nghttpx (make nghttpx prints its path)")
	}
	if _, err := os.Stat(nghttpx); err != nil {
		return cluster.Options{}, fmt.Errorf("NGHTTPX_BIN: %w", err)
	}
	run := podrunner.Binary(bin)
	return cluster.Options{Images: podrunner.ImageMap{
		image: func(c corev1.Container) (podrunner.Process, error) {
			p, err := run(c)
			p.Env = append(p.Env, "NGHTTPX_BIN="+nghttpx)
			return p, err
		},
		// The base manifests' UDP backend; no HTTP test talks to it, it only has to be Ready.
		"registry.k8s.io/coredns/coredns": podrunner.Sleeper(),
	}}, nil
}

// runLocal starts the local cluster with our controller installed as a pod and
// runs the suite in a child process inside the cluster network namespace.
func runLocal(t *testing.T, s settings) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := stderrLogger().WithName("conformance")

	bin := gatewayBinary(ctx, t, log)
	if s.version == "" {
		s.version = binaryVersion(ctx, t, bin)
	}
	opts, err := nodeOptions(bin)
	if err != nil {
		t.Fatal(err)
	}
	opts.StateDir = os.Getenv("CONFORMANCE_STATE_DIR")
	opts.Log = log.WithName("cluster").V(1)
	t0 := time.Now()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	defer c.Stop()
	log.Info("cluster up", "took", time.Since(t0).Round(time.Millisecond), "netns", c.Netns, "kubeconfig", c.Kubeconfig, "node", opts.Node)

	t1 := time.Now()
	objs, err := config.Build(filepath.Join(config.Dir(), "default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e2eutil.Apply(ctx, c.RESTConfig, fieldManager, objs); err != nil {
		t.Fatalf("install config/default: %v", err)
	}
	cl, err := client.New(c.RESTConfig, client.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitController(ctx, cl, c.Client); err != nil {
		dumpControllerLogs(ctx, t, c.Client)
		t.Fatal(err)
	}
	log.Info("controller ready, GatewayClass accepted", "took", time.Since(t1).Round(time.Millisecond))

	cmd := c.Command(ctx, os.Args[0], childArgs(t)...)
	cmd.Env = append(cmd.Env,
		childKubeconfigEnv+"="+c.Kubeconfig,
		"CONFORMANCE_VERSION="+s.version,
		// The cluster goes away with us; deleting the base first only costs time.
		"CONFORMANCE_CLEANUP_BASE="+envOr("CONFORMANCE_CLEANUP_BASE", "false"),
		"CONFORMANCE_USABLE_ADDRESS="+envOr("CONFORMANCE_USABLE_ADDRESS", localUsableAddress),
		"CONFORMANCE_UNUSABLE_ADDRESS="+envOr("CONFORMANCE_UNUSABLE_ADDRESS", localUnusableAddress),
	)
	runChild(t, s, cmd)
	baseSummary(ctx, t, cl, c.Client)

	if s.hold > 0 {
		t.Logf("holding the cluster for %s: ip netns exec %s %s/kubectl --kubeconfig %s get pods -A",
			s.hold, c.Netns, c.BinDir, c.Kubeconfig)
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// gatewayBinary is $CONFORMANCE_GATEWAY_BIN (or $E2E_GATEWAY_BIN), else
// cmd/nghttpx-gateway built into a temporary directory.
func gatewayBinary(ctx context.Context, t *testing.T, log logr.Logger) string {
	for _, e := range []string{"CONFORMANCE_GATEWAY_BIN", "E2E_GATEWAY_BIN"} {
		if b := os.Getenv(e); b != "" {
			if _, err := os.Stat(b); err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			return b
		}
	}
	out := filepath.Join(t.TempDir(), "nghttpx-gateway")
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/nghttpx-gateway")
	cmd.Dir = filepath.Dir(config.Dir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/nghttpx-gateway: %v\n%s", err, b)
	}
	log.Info("built nghttpx-gateway", "path", out, "took", time.Since(t0).Round(time.Millisecond))
	return out
}

// binaryVersion asks the binary (`nghttpx-gateway version` prints "nghttpx-gateway <v>").
func binaryVersion(ctx context.Context, t *testing.T, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("%s version printed nothing", bin)
	}
	return f[len(f)-1]
}

// waitController waits until every controller replica is ready and the GatewayClass
// is Accepted for its current generation.
func waitController(ctx context.Context, cl client.Client, cs kubernetes.Interface) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(systemNS).Get(ctx, controllerApp, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		pods, err := cs.CoreV1().Pods(systemNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + controllerApp})
		if err == nil {
			for _, p := range pods.Items {
				for _, st := range p.Status.ContainerStatuses {
					if st.RestartCount >= 3 && !st.Ready {
						return false, fmt.Errorf("controller pod %s restarted %d times", p.Name, st.RestartCount)
					}
				}
			}
		}
		last = deploymentSummary(d)
		want := ptr.Deref(d.Spec.Replicas, 1)
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.ReadyReplicas == want && d.Status.Replicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("controller Deployment not ready (%s): %w", last, err)
	}
	var gc gatewayv1.GatewayClass
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKey{Name: className}, &gc); err != nil {
			return false, nil
		}
		return strings.HasPrefix(condStatus(gc.Status.Conditions, "Accepted", gc.Generation), "True("), nil
	})
	if err != nil {
		return fmt.Errorf("GatewayClass %s not Accepted (%v): %w", className, gc.Status.Conditions, err)
	}
	return nil
}

func deploymentSummary(d *appsv1.Deployment) string {
	return fmt.Sprintf("generation %d observed %d, replicas %d updated %d ready %d",
		d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas)
}

func dumpControllerLogs(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	pods, err := cs.CoreV1().Pods(systemNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + controllerApp})
	if err != nil {
		t.Logf("listing controller pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		b, err := cs.CoreV1().Pods(systemNS).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](60)}).DoRaw(ctx)
		t.Logf("controller pod %s (%s, %v), logs (err %v):\n%s", p.Name, p.Status.Phase, p.Status.ContainerStatuses, err, b)
	}
}

// baseSummary reports what the suite's setup needs from the base manifests: every
// pod Ready and every Gateway Accepted and Programmed (what the suite saw at start
// and, as it stays up, what it looks like after the run).
func baseSummary(ctx context.Context, t *testing.T, cl client.Client, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	total, ready := 0, 0
	var notReady []string
	for _, ns := range baseNamespaces() {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Logf("base pods in %s: %v", ns, err)
			continue
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Labels[gatewayNameLabel] != "" {
				continue // data planes, not base manifests
			}
			total++
			if e2eutil.PodReady(p) {
				ready++
			} else {
				notReady = append(notReady, ns+"/"+p.Name+" "+string(p.Status.Phase))
			}
		}
	}
	t.Logf("base pods Ready: %d/%d %v", ready, total, notReady)
	for _, ns := range baseNamespaces() {
		var gws gatewayv1.GatewayList
		if err := cl.List(ctx, &gws, client.InNamespace(ns)); err != nil {
			continue
		}
		for _, g := range gws.Items {
			var addrs []string
			for _, a := range g.Status.Addresses {
				addrs = append(addrs, a.Value)
			}
			t.Logf("Gateway %s/%s: Accepted=%s Programmed=%s addresses=%v", ns, g.Name,
				condStatus(g.Status.Conditions, "Accepted", g.Generation), condStatus(g.Status.Conditions, "Programmed", g.Generation), addrs)
		}
	}
}

// condStatus is the condition's status, or "<status>(stale)" when it is for an older generation.
func condStatus(conds []metav1.Condition, typ string, gen int64) string {
	for _, c := range conds {
		if c.Type == typ {
			if c.ObservedGeneration != gen {
				return string(c.Status) + "(stale " + c.Reason + ")"
			}
			return string(c.Status) + "(" + c.Reason + ")"
		}
	}
	return "missing"
}
