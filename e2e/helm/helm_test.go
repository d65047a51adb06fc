//go:build e2e

package helm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

const (
	release   = "nghttpx-gateway"
	releaseNS = "nghttpx-gateway-system"
	// The quickstart's objects (docs/examples/quickstart-cluster.yaml).
	quickNS   = "quickstart"
	quickHost = "echo.example.com"
)

// repo is the repository root (this package is e2e/helm).
func repo(t *testing.T) string {
	t.Helper()
	return filepath.Dir(config.Dir())
}

func helm(ctx context.Context, t *testing.T, c *cluster.Cluster, args ...string) string {
	t.Helper()
	bin := os.Getenv("HELM_BIN")
	if bin == "" {
		t.Fatal("HELM_BIN is not set: make e2e builds helm from the charts module")
	}
	// Inside the cluster's network namespace, where its API server address is.
	cmd := c.Command(ctx, bin, append(args, "--kubeconfig", c.Kubeconfig)...)
	cmd.Env = append(cmd.Env, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHelmInstallQuickstartUninstall: helm install with default values, the
// cluster quickstart verbatim (HTTP and HTTPS 200), helm upgrade of a data-plane
// setting under load (0 failed requests), helm uninstall; nothing of ours is
// left but what the docs say.
func TestHelmInstallQuickstartUninstall(t *testing.T) {
	ctx := context.Background()
	v, _ := strconv.Atoi(os.Getenv("E2E_V"))
	log := e2eutil.StderrLogger(v).WithName("e2e")
	// A fresh cluster has no Gateway API CRDs: the chart installs them.
	c, cleanup, err := e2eutil.StartClusterWith(ctx, log, func(o *cluster.Options) { o.SkipCRDs = true })
	t.Cleanup(cleanup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	scheme, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.RESTConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	failed := true
	defer func() {
		if failed {
			e2eutil.DumpPodLogs(ctx, log, c.Client, releaseNS, "")
			e2eutil.DumpPodLogs(ctx, log, c.Client, quickNS, "")
		}
	}()

	// 1. helm install, the docs' command (docs/install.md), default values.
	t0 := time.Now()
	helm(ctx, t, c, "install", release, filepath.Join(repo(t), "charts", release), "-n", releaseNS, "--create-namespace", "--wait", "--timeout", "5m")
	t.Logf("helm install --wait took %s", time.Since(t0).Round(time.Millisecond))
	before := ours(ctx, t, c)

	// 2. The quickstart as docs/quickstart.md has it.
	data, err := os.ReadFile(filepath.Join(repo(t), "docs", "examples", "quickstart-cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	t1 := time.Now()
	if err := e2eutil.Apply(ctx, c.RESTConfig, "kubectl", objs); err != nil {
		t.Fatalf("apply the quickstart: %v", err)
	}
	// Step 2 of the quickstart makes the certificate with openssl; the same, in Go.
	pair, err := selfsigned.New(quickHost)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: quickNS, Name: "echo-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM}}); err != nil {
		t.Fatal(err)
	}
	// Step 3: kubectl wait gateway/web --for=condition=Programmed --timeout=2m.
	var gw gatewayv1.Gateway
	if err := e2eutil.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKey{Namespace: quickNS, Name: "web"}, &gw); err != nil {
			return false, nil
		}
		return e2eutil.CondIs(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed), gw.Generation) && len(gw.Status.Addresses) > 0, nil
	}); err != nil {
		t.Fatalf("Gateway web not Programmed with an address: %s", e2eutil.CondSummary(gw.Status.Conditions))
	}
	addr := gw.Status.Addresses[0].Value
	t.Logf("Gateway web Programmed at %s %s after the quickstart was applied", addr, time.Since(t1).Round(time.Millisecond))

	// Step 4: the two curl commands, from inside the cluster's network namespace.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pair.CertPEM)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: c.DialContext,
		TLSClientConfig: &tls.Config{ServerName: quickHost, RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	for _, url := range []string{"http://" + net.JoinHostPort(addr, "80") + "/hello", "https://" + net.JoinHostPort(addr, "443") + "/hello"} {
		var last string
		if err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
			pod, code, err := echo(ctx, hc, url)
			last = fmt.Sprintf("%d %s %v", code, pod, err)
			return code == http.StatusOK && pod != "", nil
		}); err != nil {
			t.Fatalf("%s (Host %s): no 200 from an echo pod; last %s", url, quickHost, last)
		}
		t.Logf("%s: 200 from an echo pod %s after the quickstart was applied", url, time.Since(t1).Round(time.Millisecond))
	}

	// 3. helm upgrade changing a data-plane setting rolls the data plane; no
	// request through the Gateway fails meanwhile.
	upgradeUnderLoad(ctx, t, c, cl, hc, "http://"+net.JoinHostPort(addr, "80")+"/hello")

	// 4. Uninstall as docs/install.md says: the Gateways first, then the release.
	if err := cl.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: quickNS}}); err != nil {
		t.Fatal(err)
	}
	if err := e2eutil.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		err := cl.Get(ctx, client.ObjectKey{Name: quickNS}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		t.Fatalf("namespace %s not gone", quickNS)
	}
	helm(ctx, t, c, "uninstall", release, "-n", releaseNS, "--wait", "--timeout", "3m")
	left := ours(ctx, t, c)
	t.Logf("objects of ours after install: %d; after uninstall: %v", len(before), left)
	for _, o := range left {
		// The leader election Lease is the controller's, not the chart's: it
		// goes with the namespace (docs/install.md says so).
		if strings.HasPrefix(o, "Lease "+releaseNS+"/") {
			continue
		}
		t.Errorf("left behind by helm uninstall: %s", o)
	}
	failed = t.Failed()
}

// echo sends one GET with the quickstart's host and returns the answering
// echo pod.
func echo(ctx context.Context, hc *http.Client, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	req.Host = quickHost
	res, err := hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var e struct {
		Pod string `json:"pod"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Pod, res.StatusCode, nil
}

// ours lists the objects of ours in the cluster: everything labelled
// app.kubernetes.io/name=nghttpx-gateway or managed by Helm, and whatever is
// in the release namespace but its defaults (CRDs are left by Helm on purpose
// and not listed).
func ours(ctx context.Context, t *testing.T, c *cluster.Cluster) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range []struct {
		gvr        schema.GroupVersionResource
		kind       string
		namespaced bool
	}{
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "ServiceAccount", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap", true},
		{schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "Secret", true},
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}, "Role", true},
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, "RoleBinding", true},
		{schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "PodDisruptionBudget", true},
		{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, "Lease", true},
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, "ClusterRole", false},
		{schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, "ClusterRoleBinding", false},
		{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}, "ValidatingAdmissionPolicy", false},
		{schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}, "ValidatingAdmissionPolicyBinding", false},
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}, "GatewayClass", false},
		{schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}, "IngressClass", false},
	} {
		list, err := dyn.Resource(r.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue // e.g. GatewayClasses once their CRD is gone
			}
			t.Fatalf("list %s: %v", r.gvr.Resource, err)
		}
		for _, o := range list.Items {
			l := o.GetLabels()
			mine := l["app.kubernetes.io/name"] == "nghttpx-gateway" || l["app.kubernetes.io/managed-by"] == "Helm" ||
				strings.HasPrefix(l["app.kubernetes.io/managed-by"], "nghttpx-gateway")
			if r.namespaced && o.GetNamespace() == releaseNS && !defaultObject(r.kind, o.GetName()) {
				mine = true
			}
			if mine {
				out = append(out, r.kind+" "+strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/"))
			}
		}
	}
	slices.Sort(out)
	return out
}

// defaultObject is what Kubernetes puts in every namespace.
func defaultObject(kind, name string) bool {
	return (kind == "ServiceAccount" && name == "default") || (kind == "ConfigMap" && name == "kube-root-ca.crt")
}

// upgradeUnderLoad runs helm upgrade --set dataPlane.quicRequireToken=true
// (a new proxy argument: the data plane's Deployment rolls) while 4 clients
// send requests to url, and fails on any failed request.
func upgradeUnderLoad(ctx context.Context, t *testing.T, c *cluster.Cluster, cl client.Client, hc *http.Client, url string) {
	t.Helper()
	dp := client.ObjectKey{Namespace: quickNS, Name: provision.Name("web")}
	var d appsv1.Deployment
	if err := cl.Get(ctx, dp, &d); err != nil {
		t.Fatalf("data-plane Deployment: %v", err)
	}
	gen := d.Generation
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var errs []string
	loadCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				pod, code, err := echo(loadCtx, hc, url)
				switch {
				case loadCtx.Err() != nil:
				case err != nil || code != http.StatusOK || pod == "":
					failed.Add(1)
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %d %v", time.Now().Format("15:04:05.000"), code, err))
					mu.Unlock()
				default:
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Second) // load before the change
	t0 := time.Now()
	helm(ctx, t, c, "upgrade", release, filepath.Join(repo(t), "charts", release), "-n", releaseNS, "--reuse-values",
		"--set", "dataPlane.quicRequireToken=true", "--wait", "--timeout", "5m")
	if err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		return cl.Get(ctx, dp, &d) == nil && d.Generation > gen, nil
	}); err != nil {
		t.Fatalf("the data plane was not changed by the upgrade (generation %d)", d.Generation)
	}
	if err := e2eutil.WaitRollout(ctx, c.Client, quickNS, dp.Name, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Args, func(a string) bool { return a == "--quic-require-token" }) {
		t.Errorf("data-plane args %v, want --quic-require-token", d.Spec.Template.Spec.Containers[0].Args)
	}
	time.Sleep(2 * time.Second) // load after the rollout
	stop()
	wg.Wait()
	t.Logf("helm upgrade: data plane rolled in %s; %d requests, %d failed", time.Since(t0).Round(time.Millisecond), ok.Load()+failed.Load(), failed.Load())
	if failed.Load() > 0 || ok.Load() == 0 {
		t.Errorf("%d of %d requests failed during helm upgrade: %v", failed.Load(), ok.Load()+failed.Load(), errs[:min(len(errs), 10)])
	}
}
