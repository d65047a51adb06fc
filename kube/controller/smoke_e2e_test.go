//go:build e2e

package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/controller"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/proxyagent"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

const (
	image     = "ghcr.io/nghttpx-gateway/nghttpx-gateway"
	echoImage = "registry.k8s.io/gateway-api/echo-basic:v1.6.3"
	systemNS  = "nghttpx-gateway-system"
	ns        = "smoke"
)

// gatewayBinary is $E2E_GATEWAY_BIN (what make e2e builds), $GATEWAY_BIN or a
// fresh build of cmd/nghttpx-gateway.
func gatewayBinary(ctx context.Context, t *testing.T) string {
	bin, cleanup, err := e2eutil.GatewayBinary(ctx, logger(t), "E2E_GATEWAY_BIN", "GATEWAY_BIN")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return bin
}

// logger logs through t; E2E_V=1 adds the controller's debug messages.
func logger(t *testing.T) logr.Logger {
	v, _ := strconv.Atoi(os.Getenv("E2E_V"))
	return funcr.New(func(prefix, args string) {
		t.Logf("%s %s %s", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: v})
}

// TestSmoke runs the controller in this process against the local cluster and
// checks the whole path: provisioning, status, traffic, a route change and
// garbage collection of the data plane.
func TestSmoke(t *testing.T) {
	nghttpx, err := e2eutil.NghttpxBinary()
	if err != nil {
		t.Fatal(err)
	}
	// client-go's reflectors log through controller-runtime's global logger.
	ctrllog.SetLogger(funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{}))
	// Give up before go test's own -timeout, which would skip the cleanups
	// that tear the cluster down.
	deadline := time.Now().Add(8 * time.Minute)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	bin := gatewayBinary(ctx, t)

	run := podrunner.Binary(bin)
	c, err := cluster.Start(ctx, cluster.Options{
		Log: logger(t).WithName("cluster").V(1),
		Images: podrunner.ImageMap{image: func(ct corev1.Container) (podrunner.Process, error) {
			p, err := run(ct)
			p.Env = append(p.Env, "NGHTTPX_BIN="+nghttpx)
			if v := os.Getenv("GORACE"); v != "" { // for a GATEWAY_BIN built with -race
				p.Env = append(p.Env, "GORACE="+v)
			}
			return p, err
		}},
	})
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(c.Stop)
	t.Logf("cluster up in %s", c.StartupDuration.Round(time.Millisecond))

	scheme, err := source.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.RESTConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{systemNS, ns} {
		mustCreate(ctx, t, cl, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	// The controller runs with a ServiceAccount token holding exactly the
	// permissions config/rbac grants, so a missing one fails here.
	cfg := controllerConfig(ctx, t, c)
	// Two replicas: the first one leads; the standby computes but never writes.
	ctrl, stopCtrl := startController(ctx, t, c, cfg, "leader")
	waitFor(ctx, t, "first replica leads", time.Minute, func(context.Context) (bool, error) { return ctrl.IsLeader(), nil })
	standby, stopStandby := startController(ctx, t, c, cfg, "standby")
	defer stopStandby()
	defer stopCtrl()

	createEcho(ctx, t, cl, "echo-a")
	createEcho(ctx, t, cl, "echo-b")
	mustCreate(ctx, t, cl, &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: "zlab.co.jp/nghttpx"},
	})
	mustCreate(ctx, t, cl, route("echo-a"))
	t0 := time.Now()
	mustCreate(ctx, t, cl, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "nghttpx",
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
			Infrastructure: &gatewayv1.GatewayInfrastructure{
				Labels: map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "smoke"},
			},
		},
	})

	// GatewayClass accepted with our features.
	waitFor(ctx, t, "GatewayClass Accepted", time.Minute, func(ctx context.Context) (bool, error) {
		var gc gatewayv1.GatewayClass
		if err := cl.Get(ctx, types.NamespacedName{Name: "nghttpx"}, &gc); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(gc.Status.Conditions, "Accepted") && len(gc.Status.SupportedFeatures) > 0, nil
	})

	// Gateway Accepted and Programmed, with the load balancer's address.
	var addr string
	waitFor(ctx, t, "Gateway Programmed", 3*time.Minute, func(ctx context.Context) (bool, error) {
		var gw gatewayv1.Gateway
		if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &gw); err != nil {
			return false, err
		}
		if !meta.IsStatusConditionTrue(gw.Status.Conditions, "Accepted") ||
			!meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed") || len(gw.Status.Addresses) == 0 {
			return false, nil
		}
		addr = gw.Status.Addresses[0].Value
		return true, nil
	})
	programmedAfter := time.Since(t0)
	if !c.LoadBalancerCIDR.Contains(net.ParseIP(addr)) {
		t.Fatalf("Gateway address %s is not a load-balancer address (%s)", addr, c.LoadBalancerCIDR)
	}
	t.Logf("TIMING Gateway created -> Accepted+Programmed with address %s: %s", addr, programmedAfter.Round(time.Millisecond))

	// The provisioned objects carry the infrastructure labels and the owner reference.
	dep := &appsv1.Deployment{}
	if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web-nghttpx"}, dep); err != nil {
		t.Fatal(err)
	}
	if dep.Labels["team"] != "smoke" || len(dep.OwnerReferences) != 1 || dep.OwnerReferences[0].Name != "web" {
		t.Errorf("deployment metadata: labels %v owners %+v", dep.Labels, dep.OwnerReferences)
	}

	// Traffic from inside the cluster network namespace reaches echo-a.
	hc := c.HTTPClient()
	hc.Timeout = 5 * time.Second
	body := mustEcho(ctx, t, hc, "http://"+addr+"/hello")
	if body.Path != "/hello" || body.Namespace != ns || !strings.HasPrefix(body.Pod, "echo-a-") {
		t.Fatalf("answer %+v", body)
	}
	waitRouteAccepted(ctx, t, cl)
	proxy := proxyStatus(ctx, t, cl, hc)
	t.Logf("proxy status after first apply: %+v", proxy)

	// Change the route: traffic moves to echo-b without a reload.
	var r gatewayv1.HTTPRoute
	if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "route"}, &r); err != nil {
		t.Fatal(err)
	}
	r.Spec = route("echo-b").Spec
	t1 := time.Now()
	if err := cl.Update(ctx, &r); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "traffic on echo-b", time.Minute, func(ctx context.Context) (bool, error) {
		b, err := echo(ctx, hc, "http://"+addr+"/after-change")
		return err == nil && strings.HasPrefix(b.Pod, "echo-b-"), nil
	})
	t.Logf("TIMING route updated -> traffic on the new backend: %s", time.Since(t1).Round(time.Millisecond))
	waitFor(ctx, t, "Programmed for the new model", time.Minute, func(ctx context.Context) (bool, error) {
		var gw gatewayv1.Gateway
		if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &gw); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gw.Generation, nil
	})
	after := proxyStatus(ctx, t, cl, hc)
	if after.Reloads != proxy.Reloads || after.ModelHash == proxy.ModelHash || !after.Applied {
		t.Errorf("route change: proxy status before %+v after %+v (want a new hash and no reload)", proxy, after)
	}
	t.Logf("proxy status after the route change: %+v", after)

	// Settled: no status writes, applies or rebuilds while nothing changes (our
	// own status writes trigger nothing).
	w0, a0, b0 := ctrl.Writer().Counters().Writes.Load(), ctrl.Provisioner().Counters().Applies.Load(), ctrl.Stats().Builds.Load()
	time.Sleep(3 * time.Second)
	if w, a, b := ctrl.Writer().Counters().Writes.Load(), ctrl.Provisioner().Counters().Applies.Load(), ctrl.Stats().Builds.Load(); w != w0 || a != a0 || b != b0 {
		t.Errorf("idle controller worked: status writes %d -> %d, applies %d -> %d, builds %d -> %d", w0, w, a0, a, b0, b)
	}
	if !ctrl.IsLeader() || standby.IsLeader() || standby.Stats().Builds.Load() == 0 ||
		standby.Writer().Counters().Writes.Load() != 0 || standby.Provisioner().Counters().Applies.Load() != 0 {
		t.Errorf("standby: leader %v, builds %d, writes %d, applies %d (want a computing, non-writing standby)",
			standby.IsLeader(), standby.Stats().Builds.Load(), standby.Writer().Counters().Writes.Load(),
			standby.Provisioner().Counters().Applies.Load())
	}
	t.Logf("controller counters: status writes %d skipped %d conflicts %d; applies %d; builds %d; events %d (relevant %d)",
		ctrl.Writer().Counters().Writes.Load(), ctrl.Writer().Counters().Skipped.Load(), ctrl.Writer().Counters().Conflicts.Load(),
		ctrl.Provisioner().Counters().Applies.Load(), ctrl.Stats().Builds.Load(),
		ctrl.Source().Stats().Events.Load(), ctrl.Source().Stats().Relevant.Load())

	// The leader goes away; the standby takes over and, since nothing changed,
	// finds nothing to write.
	t3 := time.Now()
	stopCtrl()
	waitFor(ctx, t, "standby takes over", time.Minute, func(context.Context) (bool, error) { return standby.IsLeader(), nil })
	t.Logf("TIMING leader stopped -> standby leads: %s", time.Since(t3).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	if w := standby.Writer().Counters().Writes.Load(); w != 0 {
		t.Errorf("new leader rewrote %d unchanged statuses", w)
	}
	if !gatewayProgrammed(ctx, t, cl) {
		t.Error("Gateway not Programmed after the takeover")
	}
	ctrl = standby

	// Deleting the Gateway drains and removes its data plane.
	pod := dataPlanePod(ctx, t, cl)
	podIP := pod.Status.PodIP
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.RestartCount != 0 {
			t.Errorf("proxy container restarted %d times", cs.RestartCount)
		}
	}
	// Its logs go away with it; keep them for a failure report.
	logs, logErr := c.Client.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	defer func() {
		if t.Failed() {
			t.Logf("proxy pod %s logs before the deletion (%v):\n%s", pod.Name, logErr, logs)
		}
	}()
	var gw gatewayv1.Gateway
	if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &gw); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	if err := cl.Delete(ctx, &gw); err != nil {
		t.Fatal(err)
	}
	// While it drains, the proxy fails readiness but nghttpx still serves.
	waitFor(ctx, t, "proxy draining", 30*time.Second, func(ctx context.Context) (bool, error) {
		resp, err := hc.Get("http://" + net.JoinHostPort(podIP, "9901") + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, nil
	})
	if b, err := echo(ctx, hc, "http://"+net.JoinHostPort(podIP, "80")+"/while-draining"); err != nil || !strings.HasPrefix(b.Pod, "echo-b-") {
		t.Errorf("draining proxy did not serve: %+v %v", b, err)
	}
	// nghttpx's graceful stop waits for idle HTTP/1.1 keep-alive connections
	// (until the proxy's stop grace); close ours so the timing shows the drain.
	hc.CloseIdleConnections()
	waitFor(ctx, t, "data plane removed", 2*time.Minute, func(ctx context.Context) (bool, error) {
		for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.ServiceAccount{}} {
			if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web-nghttpx"}, o); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		var pods corev1.PodList
		if err := cl.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{provision.LabelGatewayName: "web"}); err != nil {
			return false, err
		}
		return len(pods.Items) == 0, nil
	})
	t.Logf("TIMING Gateway deleted -> Deployment, Service, ServiceAccount and pods gone: %s", time.Since(t2).Round(time.Millisecond))
	waitFor(ctx, t, "proxy binding emptied", 30*time.Second, func(ctx context.Context) (bool, error) {
		var crb rbacv1.ClusterRoleBinding
		if err := cl.Get(ctx, types.NamespacedName{Name: provision.ProxyClusterRole}, &crb); err != nil {
			return false, err
		}
		return len(crb.Subjects) == 0, nil
	})
}

// startController runs a controller replica in this process; stop cancels it and
// waits (idempotent).
func startController(ctx context.Context, t *testing.T, c *cluster.Cluster, cfg *rest.Config, name string) (*controller.Controller, func()) {
	t.Helper()
	ctrl, err := controller.New(cfg, controller.Options{
		Namespace:   systemNS,
		LeaderElect: true,
		MetricsAddr: "0",
		HealthAddr:  "0",
		DialContext: c.DialContext, // pod IPs exist only inside the cluster namespace
		Provision:   provision.Options{Image: image + ":smoke", ProxyArgs: []string{"-v"}},
		Log:         logger(t).WithName(name),
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Manager().Start(cctx) }()
	var once sync.Once
	return ctrl, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("controller %s: %v", name, err)
			}
		})
	}
}

// controllerConfig installs config/rbac as shipped (the controller's
// ServiceAccount, its roles and bindings, the proxies' role and their empty
// binding) and returns a rest.Config holding that ServiceAccount's token. Using
// the real manifests keeps this test from drifting from them.
func controllerConfig(ctx context.Context, t *testing.T, c *cluster.Cluster) *rest.Config {
	t.Helper()
	objs, err := config.Build(filepath.Join(config.Dir(), "rbac"))
	if err != nil {
		t.Fatal(err)
	}
	sa := ""
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" && o.GetNamespace() == systemNS {
			sa = o.GetName()
		}
	}
	if sa == "" {
		t.Fatalf("config/rbac has no ServiceAccount in %s", systemNS)
	}
	if err := e2eutil.Apply(ctx, c.RESTConfig, "smoke", objs); err != nil {
		t.Fatalf("install config/rbac: %v", err)
	}
	token, err := c.ServiceAccountToken(ctx, systemNS, sa, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.BearerToken, cfg.BearerTokenFile = token, ""
	return cfg
}

func gatewayProgrammed(ctx context.Context, t *testing.T, cl client.Client) bool {
	t.Helper()
	var gw gatewayv1.Gateway
	if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &gw); err != nil {
		t.Fatal(err)
	}
	return meta.IsStatusConditionTrue(gw.Status.Conditions, "Programmed")
}

func dataPlanePod(ctx context.Context, t *testing.T, cl client.Client) corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := cl.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{provision.LabelGatewayName: "web"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		t.Fatalf("data-plane pods: %d", len(pods.Items))
	}
	return pods.Items[0]
}

func mustCreate(ctx context.Context, t *testing.T, cl client.Client, o client.Object) {
	t.Helper()
	if err := cl.Create(ctx, o); err != nil {
		t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, timeout time.Duration, f func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := f(ctx)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}

func createEcho(ctx context.Context, t *testing.T, cl client.Client, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	replicas := int32(1)
	mustCreate(ctx, t, cl, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: echoImage,
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	})
	mustCreate(ctx, t, cl, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(3000)}},
		},
	})
}

func route(backend string) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "route", Namespace: ns},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backend), Port: new(gatewayv1.PortNumber(8080))},
			}}}}},
		},
	}
}

func waitRouteAccepted(ctx context.Context, t *testing.T, cl client.Client) {
	t.Helper()
	waitFor(ctx, t, "HTTPRoute Accepted and ResolvedRefs", time.Minute, func(ctx context.Context) (bool, error) {
		var r gatewayv1.HTTPRoute
		if err := cl.Get(ctx, types.NamespacedName{Namespace: ns, Name: "route"}, &r); err != nil {
			return false, err
		}
		for _, p := range r.Status.Parents {
			if p.ControllerName == "zlab.co.jp/nghttpx" && meta.IsStatusConditionTrue(p.Conditions, "Accepted") &&
				meta.IsStatusConditionTrue(p.Conditions, "ResolvedRefs") {
				return true, nil
			}
		}
		return false, nil
	})
}

type echoBody struct {
	Path      string `json:"path"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

func echo(ctx context.Context, hc *http.Client, url string) (echoBody, error) {
	var b echoBody
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return b, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return b, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s: %s: %s", url, resp.Status, raw)
	}
	return b, json.Unmarshal(raw, &b)
}

func mustEcho(ctx context.Context, t *testing.T, hc *http.Client, url string) echoBody {
	t.Helper()
	b, err := echo(ctx, hc, url)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// proxyStatus reads /status from the Gateway's (only) data-plane pod.
func proxyStatus(ctx context.Context, t *testing.T, cl client.Client, hc *http.Client) proxyagent.Status {
	t.Helper()
	pod := dataPlanePod(ctx, t, cl)
	var ks corev1.Secret
	if err := cl.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: pod.Spec.ServiceAccountName + "-keys"}, &ks); err != nil {
		t.Fatalf("keys Secret (admin token): %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/status", net.JoinHostPort(pod.Status.PodIP, "9901")), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(keys.AdminTokenHeader, string(ks.Data[keys.DataAdminToken]))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s proxyagent.Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
