//go:build e2e

package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	dpfeatures "github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// The TestRealPods* tests prove on real pods (kubelet, containerd, runc) what the
// pod runner cannot: Pod Security admission of the data plane, its read-only root
// filesystem, its probes, eBPF QUIC steering and draining on a rolling restart.

const (
	psEnforce = "pod-security.kubernetes.io/enforce"
	proxyName = "proxy" // the data-plane container
	stateDir  = provision.StateDir
)

// requireRealNode skips on the pod runner: it starts containers as host processes,
// so there is no kubelet probing, no exec, no securityContext to prove anything on.
func requireRealNode(t *testing.T) {
	t.Helper()
	if m := os.Getenv("E2E_NODE"); m != string(cluster.NodeReal) {
		t.Skipf("needs a real node: E2E_NODE=%q runs pods on the pod runner (host processes: no kubelet probes, exec, "+
			"securityContext or file capabilities); run with E2E_NODE=real E2E_IMAGE_ARCHIVE=<make image>", m)
	}
}

// restricted makes a pod spec fit the "restricted" Pod Security Standard.
func restricted(spec *corev1.PodSpec) {
	spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	for i := range spec.Containers {
		spec.Containers[i].SecurityContext = &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	}
}

// restrictedGateway is oneGateway in a namespace labeled to enforce the
// "restricted" Pod Security Standard before anything is created in it.
func restrictedGateway(prefix string, echoReplicas int32) features.Func {
	return func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		s := suiteFrom(ctx)
		ns := s.labeledNamespace(ctx, t, "e2e-"+prefix, map[string]string{psEnforce: "restricted"})
		d, svc := echoApp(ns, "echo", echoReplicas)
		restricted(&d.Spec.Template.Spec)
		host := prefix + ".example"
		s.create(ctx, t, d, svc, newGateway(ns, "gw"), newRoute(ns, "route", "gw", host, rule("/", "echo")))
		s.waitDeployment(ctx, t, ns, "echo", echoReplicas, 2*time.Minute)
		gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
		sc := &scenario{ns: ns, gw: gw, tg: target{addr: gatewayAddr(t, gw, 80), host: host, path: "/" + prefix}}
		s.waitServes(ctx, t, sc.tg, trafficTimeout, "200 from echo", func(status int, e *echoResponse) bool {
			return status == http.StatusOK && e != nil && strings.HasPrefix(e.Pod, "echo-")
		})
		return context.WithValue(ctx, scenarioKey{}, sc)
	}
}

// dataPlanePods are the Gateway's data-plane pods that are not terminating.
func (s *suite) dataPlanePods(ctx context.Context, t *testing.T, ns, gw string) []corev1.Pod {
	t.Helper()
	pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, gw))
	if err != nil {
		t.Fatalf("data-plane pods of %s/%s: %v", ns, gw, err)
	}
	return slices.DeleteFunc(pods, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
}

func proxyContainer(t *testing.T, spec *corev1.PodSpec) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == proxyName {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q in the data-plane pod spec", proxyName)
	return nil
}

func proxyContainerStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == proxyName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// kubectlExec runs argv in the pod's proxy container through the API server and
// kubelet (kubectl exec, from inside the cluster network namespace).
func (s *suite) kubectlExec(ctx context.Context, ns, pod string, argv ...string) (string, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := append([]string{"exec", "-n", ns, pod, "-c", proxyName, "--"}, argv...)
	out, err := s.c.Command(rctx, "kubectl", args...).CombinedOutput()
	return string(out), err
}

// hostProcs are the host's processes of a container (pid -> comm): the test runs
// as root in the node's PID namespace, and a container's processes carry its ID
// in their cgroup paths.
func hostProcs(t *testing.T, containerID string) map[int]string {
	t.Helper()
	_, id, ok := strings.Cut(containerID, "://")
	if !ok || id == "" {
		t.Fatalf("container ID %q is not runtime://id", containerID)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		out[pid] = strings.TrimSpace(string(comm))
	}
	if len(out) == 0 {
		t.Fatalf("no host process has container %s in its cgroup: the node's processes are not visible here", id)
	}
	return out
}

// imageUID is the image's USER, which nghttpx runs as in every data-plane pod.
const imageUID = 65532

// nghttpxSteering are the live eBPF steering programs loaded by nghttpx in a
// pod of our image (program select_reuseport, the kernel keeps 15 bytes of
// the name), by ID.
func nghttpxSteering(t *testing.T) map[uint32]steeringProg {
	t.Helper()
	progs, err := steeringProgs()
	if err != nil {
		t.Fatalf("listing eBPF programs (needs root with CAP_SYS_ADMIN on the node's host): %v", err)
	}
	out := map[uint32]steeringProg{}
	for _, p := range progs {
		if strings.HasPrefix(p.name, "select_reuse") && p.uid == imageUID {
			out[p.id] = p
		}
	}
	return out
}

// newSince are the programs of now that before did not have.
func newSince(before, now map[uint32]steeringProg) []steeringProg {
	var out []steeringProg
	for id, p := range now {
		if _, ok := before[id]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// proxyFeatures reads the nghttpx features a data-plane pod reports in /status.
func (s *suite) proxyFeatures(ctx context.Context, t *testing.T, p *corev1.Pod) dpfeatures.Features {
	t.Helper()
	b, err := e2eutil.ProxyStatus(ctx, s.cs, p, adminPort)
	if err != nil {
		t.Fatalf("%s: /status: %v (%.200s)", p.Name, err, b)
	}
	var st struct {
		Features *dpfeatures.Features `json:"features"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Features == nil {
		t.Fatalf("%s: /status has no features: %v %.300s", p.Name, err, b)
	}
	return *st.Features
}

// rejectedByPodSecurity: a server-side dry run of a pod without any
// securityContext, which "restricted" (and only it, of the three levels, for
// this spec) refuses. It proves the namespace's label is enforced.
func (s *suite) rejectedByPodSecurity(ctx context.Context, t *testing.T, ns string) string {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pss-probe"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: echoImage}}},
	}
	_, err := s.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		t.Fatalf("namespace %s admitted a pod without securityContext: the restricted Pod Security Standard is not enforced, so nothing here proves the data plane fits it", ns)
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("dry-run pod in %s: %v, want Forbidden by PodSecurity", ns, err)
	}
	return err.Error()
}

// TestRealPodsRestrictedReadOnly: the data plane runs in a namespace enforcing
// the restricted Pod Security Standard (so does the controller), and its
// container's root filesystem is read-only.
func TestRealPodsRestrictedReadOnly(t *testing.T) {
	requireRealNode(t)
	f := features.New("restricted PSS and read-only root").
		Setup(restrictedGateway("pss", 1)).
		Assess("restricted Pod Security Standard enforced", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			for _, ns := range []string{sc.ns, systemNS} {
				var n corev1.Namespace
				if err := s.cl.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
					t.Fatal(err)
				}
				if n.Labels[psEnforce] != "restricted" {
					t.Errorf("namespace %s: %s=%q, want restricted", ns, psEnforce, n.Labels[psEnforce])
				}
				t.Logf("namespace %s: a pod without securityContext is refused: %.160s", ns, s.rejectedByPodSecurity(ctx, t, ns))
			}
			check := func(ns, selector, what string) {
				pods, err := e2eutil.Pods(ctx, s.cs, ns, selector)
				if err != nil || len(pods) == 0 {
					t.Fatalf("%s pods in %s: %v (%d)", what, ns, err, len(pods))
				}
				for i := range pods {
					p := &pods[i]
					cs := p.Status.ContainerStatuses
					if !e2eutil.PodReady(p) || len(cs) == 0 || !strings.HasPrefix(cs[0].ContainerID, "containerd://") {
						t.Errorf("%s pod %s/%s: ready %v, containers %+v; want Ready with a containerd container", what, ns, p.Name, e2eutil.PodReady(p), cs)
						continue
					}
					t.Logf("%s pod %s/%s admitted under restricted, Ready, %s, image %s", what, ns, p.Name, cs[0].ContainerID[:25], cs[0].Image)
				}
			}
			check(sc.ns, dataPlaneSelector(sc.ns, "gw"), "data-plane")
			check(systemNS, "app.kubernetes.io/name="+controllerApp, "controller")
			for i := range 10 {
				tg := sc.tg
				tg.path = fmt.Sprintf("/pss/%d", i)
				if status, e, body, err := s.get(ctx, tg); err != nil || status != http.StatusOK || e == nil {
					t.Fatalf("GET %s: %d %v %.200s", tg, status, err, body)
				}
			}
			t.Logf("10 of 10 requests through the restricted data plane answered 200")
			return ctx
		}).
		Assess("read-only root filesystem", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			pods := s.dataPlanePods(ctx, t, sc.ns, "gw")
			if len(pods) == 0 {
				t.Fatal("no data-plane pod")
			}
			p := &pods[0]
			c := proxyContainer(t, &p.Spec)
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("container %s of %s: securityContext %+v, want readOnlyRootFilesystem true", proxyName, p.Name, c.SecurityContext)
			}
			// Control first: exec works and the state volume is writable.
			probe := stateDir + "/e2e-write-probe"
			out, err := s.kubectlExec(ctx, sc.ns, p.Name, "sh", "-c", "echo ok >"+probe+" && cat "+probe+" && rm "+probe)
			if err != nil || strings.TrimSpace(out) != "ok" {
				t.Fatalf("exec: write to the state volume %s: %v: %s (want ok: without it the root check proves nothing)", stateDir, err, out)
			}
			out, err = s.kubectlExec(ctx, sc.ns, p.Name, "sh", "-c", "echo x >/e2e-write-probe")
			if err == nil {
				t.Errorf("a write to / inside %s succeeded: the root filesystem is writable (%s)", p.Name, out)
			} else if !strings.Contains(out, "Read-only file system") {
				t.Errorf("write to / failed with %v: %s; want Read-only file system", err, out)
			} else {
				t.Logf("write to / inside %s: %s", p.Name, strings.TrimSpace(out))
			}
			// The kernel's view: the container's / is mounted ro.
			out, err = s.kubectlExec(ctx, sc.ns, p.Name, "cat", "/proc/1/mountinfo")
			if err != nil {
				t.Fatalf("mountinfo: %v: %s", err, out)
			}
			var rootOpts string
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) > 5 && f[4] == "/" {
					rootOpts = f[5]
				}
			}
			if !slices.Contains(strings.Split(rootOpts, ","), "ro") {
				t.Errorf("/ of %s mounted with %q, want ro", p.Name, rootOpts)
			}
			uid, err := s.kubectlExec(ctx, sc.ns, p.Name, "id", "-u")
			if err != nil || strings.TrimSpace(uid) == "0" {
				t.Errorf("id -u in %s: %q %v, want a non-root uid", p.Name, uid, err)
			}
			t.Logf("%s: / mounted %s, uid %s", p.Name, rootOpts, strings.TrimSpace(uid))
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestRealPodsProbes: a data-plane pod is Ready only once its first
// configuration is applied, and a hung proxy (SIGSTOP, so /healthz stops
// answering) is restarted by its liveness probe.
func TestRealPodsProbes(t *testing.T) {
	requireRealNode(t)
	var ns string
	f := features.New("readiness and liveness").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			ns = s.labeledNamespace(ctx, t, "e2e-probes", map[string]string{psEnforce: "restricted"})
			d, svc := echoApp(ns, "echo", 1)
			restricted(&d.Spec.Template.Spec)
			// The only listener needs Secret "cert", created later: until then the
			// proxy has nothing to serve and applies nothing.
			gw := newGateway(ns, "gw")
			gw.Spec.Listeners = []gatewayv1.Listener{httpsListener("cert")}
			s.create(ctx, t, d, svc, gw, newRoute(ns, "route", "gw", h3Host, rule("/", "echo")))
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			return ctx
		}).
		Assess("Ready only after the first apply", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var p corev1.Pod
			err := e2eutil.Poll(ctx, gatewayTimeout, func(ctx context.Context) (bool, error) {
				pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, "gw"))
				if err != nil || len(pods) != 1 {
					return false, nil
				}
				p = pods[0]
				st := proxyContainerStatus(&p)
				return st != nil && st.State.Running != nil, nil
			})
			if err != nil {
				t.Fatalf("no running data-plane container for Gateway gw (status %+v)", p.Status)
			}
			c := proxyContainer(t, &p.Spec)
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Fatalf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
			}
			// Running, nothing to serve: never Ready.
			until := time.Now().Add(15 * time.Second)
			polls := 0
			for time.Now().Before(until) {
				cur, err := s.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if e2eutil.PodReady(cur) {
					t.Fatalf("pod %s is Ready with nothing applied (the only listener's Secret does not exist)", p.Name)
				}
				polls++
				time.Sleep(500 * time.Millisecond)
			}
			body, err := s.cs.CoreV1().Pods(ns).ProxyGet("http", p.Name, adminPort, "/readyz", nil).DoRaw(ctx)
			t.Logf("%s running, not Ready over %d polls in 15 s; /readyz: %v %s", p.Name, polls, err, strings.TrimSpace(string(body)))
			if err == nil {
				t.Errorf("/readyz answered 200 before any configuration was applied")
			}
			logs := s.podLog(ctx, t, ns, p.Name)
			if strings.Contains(logs, "nghttpx started") {
				t.Fatalf("nghttpx started before the Secret existed; the test cannot tell readiness from apply:\n%s", e2eutil.Tail(logs, 20))
			}

			sec := selfSigned(t, ns, "cert", h3Host)
			s.create(ctx, t, sec)
			created := time.Now()
			err = e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
				cur, err := s.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					return false, nil
				}
				p = *cur
				return e2eutil.PodReady(cur), nil
			})
			if err != nil {
				t.Fatalf("pod %s not Ready 2 minutes after the Secret was created: %+v", p.Name, p.Status.Conditions)
			}
			var readyAt time.Time
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady {
					readyAt = c.LastTransitionTime.Time
				}
			}
			started := s.logTime(ctx, t, ns, p.Name, "nghttpx started")
			t.Logf("Secret created %s; nghttpx started (first apply) %s; pod Ready since %s (second precision); Ready seen %s after the Secret",
				created.UTC().Format(time.RFC3339Nano), started.UTC().Format(time.RFC3339Nano), readyAt.UTC().Format(time.RFC3339), time.Since(created).Round(time.Millisecond))
			if readyAt.Before(started.Truncate(time.Second)) {
				t.Errorf("pod Ready at %s, before its first apply at %s", readyAt, started)
			}
			gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			if proto, _ := s.altSvc(ctx, t, gatewayAddr(t, gw, 443), false); proto == "" {
				t.Error("no HTTPS answer")
			}
			return ctx
		}).
		Assess("a hung proxy is restarted by the liveness probe", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			pods := s.dataPlanePods(ctx, t, ns, "gw")
			if len(pods) != 1 {
				t.Fatalf("%d data-plane pods, want 1", len(pods))
			}
			p := &pods[0]
			c := proxyContainer(t, &p.Spec)
			lp := c.LivenessProbe
			if lp == nil || lp.HTTPGet == nil || lp.HTTPGet.Path != "/healthz" {
				t.Fatalf("liveness probe %+v, want GET /healthz", lp)
			}
			st := proxyContainerStatus(p)
			before := st.RestartCount
			var agent int
			for pid, comm := range hostProcs(t, st.ContainerID) {
				if comm == "nghttpx-gateway" {
					agent = pid
				}
			}
			if agent == 0 {
				t.Fatalf("no nghttpx-gateway process in container %s", st.ContainerID)
			}
			// Stopped, not killed: the process stays, /healthz just hangs.
			if err := syscall.Kill(agent, syscall.SIGSTOP); err != nil {
				t.Fatalf("SIGSTOP %d: %v", agent, err)
			}
			stopped := time.Now()
			t.Cleanup(func() { _ = syscall.Kill(agent, syscall.SIGCONT) })
			// kubelet kills a container that failed liveness with the grace period
			// (the probe's, else the pod's): a stopped process ignores SIGTERM, so
			// SIGKILL comes only at its end.
			grace := ptr.Deref(p.Spec.TerminationGracePeriodSeconds, 30)
			if lp.TerminationGracePeriodSeconds != nil {
				grace = *lp.TerminationGracePeriodSeconds
			}
			budget := time.Duration(int64(lp.PeriodSeconds*(lp.FailureThreshold+1)+lp.TimeoutSeconds)+grace+30) * time.Second
			var cur *corev1.Pod
			err := e2eutil.Poll(ctx, budget, func(ctx context.Context) (bool, error) {
				var err error
				if cur, err = s.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
					return false, nil
				}
				st := proxyContainerStatus(cur)
				return st != nil && st.RestartCount > before, nil
			})
			if err != nil {
				t.Fatalf("the proxy of %s hung (SIGSTOP) for %s and was not restarted (restartCount %d)", p.Name, budget, before)
			}
			restarted := time.Since(stopped)
			// kubelet says why it killed the container (its Unhealthy events may be
			// throttled: readiness fails every second meanwhile).
			var unhealthy []string
			evs, err := s.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatalf("events: %v", err)
			}
			killed := false
			for _, e := range evs.Items {
				if e.Regarding.Name != p.Name || !strings.Contains(strings.ToLower(e.Note), "liveness") {
					continue
				}
				unhealthy = append(unhealthy, e.Reason+": "+e.Note)
				killed = killed || (e.Reason == "Killing" && strings.Contains(e.Note, "failed liveness probe"))
			}
			if !killed {
				t.Errorf("no Killing event for a failed liveness probe of %s (the restart had another cause): %v", p.Name, unhealthy)
			}
			t.Logf("restartCount %d -> %d, %s after SIGSTOP (probe period %ds, timeout %ds, threshold %d, kill grace %ds); events: %v",
				before, proxyContainerStatus(cur).RestartCount, restarted.Round(time.Millisecond), lp.PeriodSeconds, lp.TimeoutSeconds, lp.FailureThreshold, grace, unhealthy)
			err = e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
				cur, err := s.cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
				return err == nil && e2eutil.PodReady(cur), nil
			})
			if err != nil {
				t.Fatalf("pod %s not Ready again after the restart", p.Name)
			}
			gw := s.waitGateway(ctx, t, ns, "gw", gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
			if proto, _ := s.altSvc(ctx, t, gatewayAddr(t, gw, 443), false); proto == "" {
				t.Error("no HTTPS answer after the restart")
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// podLog is the proxy container's log.
func (s *suite) podLog(ctx context.Context, t *testing.T, ns, pod string) string {
	t.Helper()
	b, err := s.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: proxyName}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod, err)
	}
	return string(b)
}

// logTime is kubelet's timestamp of the first proxy log line containing msg.
func (s *suite) logTime(ctx context.Context, t *testing.T, ns, pod, msg string) time.Time {
	t.Helper()
	b, err := s.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: proxyName, Timestamps: true}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		ts, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.Contains(rest, msg) {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("log timestamp %q: %v", ts, err)
		}
		return at
	}
	t.Fatalf("no %q in the log of %s:\n%s", msg, pod, e2eutil.Tail(string(b), 20))
	return time.Time{}
}

// TestRealPodsQUICBPF: a class with quicBPF gets pods running nghttpx-bpf whose
// nghttpx holds the eBPF QUIC steering program (the kernel's view, /proc fds),
// serving HTTP/3 through the UDP Service; a default-class Gateway next to it is
// the negative control.
func TestRealPodsQUICBPF(t *testing.T) {
	requireRealNode(t)
	var (
		ns        string
		h2loadBin string
		gws       = map[string]*gatewayv1.Gateway{}
		loaded    = map[string][]steeringProg{} // new steering programs while each Gateway came up
	)
	f := features.New("quicBPF").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			bin, err := e2eutil.NghttpxBinary()
			if err != nil {
				t.Fatal(err)
			}
			h2loadBin = nghttpx.H2load(bin)
			// BPF and PERFMON are outside even the baseline standard.
			ns = s.labeledNamespace(ctx, t, "e2e-bpf", map[string]string{psEnforce: "privileged"})
			class := "e2e-bpf-" + ns[len("e2e-bpf-"):]
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: class},
				Data: map[string]string{translate.ParamHTTP3: "true", translate.ParamQUICBPF: "true"}}
			gc := paramsClassObj(class, s.controllerName, class)
			t.Cleanup(func() {
				dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				for _, o := range []client.Object{gc, cm} {
					if err := s.cl.Delete(dctx, o); client.IgnoreNotFound(err) != nil {
						t.Errorf("delete %T %s: %v", o, o.GetName(), err)
					}
				}
			})
			s.create(ctx, t, cm, gc)
			d, svc := echoApp(ns, "echo", 1)
			s.create(ctx, t, d, svc, selfSigned(t, ns, "cert", h3Host))
			s.waitDeployment(ctx, t, ns, "echo", 1, 2*time.Minute)
			// The default class first: it must load no program (the control),
			// then the quicBPF class: it must load one.
			for _, g := range []struct{ name, class string }{{"plain", className}, {"bpf", class}} {
				before := nghttpxSteering(t)
				gw := newGateway(ns, g.name)
				gw.Spec.GatewayClassName = gatewayv1.ObjectName(g.class)
				gw.Spec.Listeners = append(gw.Spec.Listeners, httpsListener("cert"))
				s.create(ctx, t, gw, newRoute(ns, g.name, g.name, h3Host, rule("/", "echo")))
				gws[g.name] = s.waitGateway(ctx, t, ns, g.name, gatewayTimeout, "Accepted+Programmed with an address", gatewayReady)
				s.waitServes(ctx, t, target{addr: gatewayAddr(t, gws[g.name], 80), host: h3Host, path: "/ready"}, trafficTimeout, "200 from echo",
					func(status int, e *echoResponse) bool { return status == http.StatusOK && e != nil })
				loaded[g.name] = newSince(before, nghttpxSteering(t))
			}
			return ctx
		}).
		Assess("nghttpx-bpf holds the eBPF steering program", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var d appsv1.Deployment
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataPlaneName("bpf")}, &d); err != nil {
				t.Fatal(err)
			}
			c := proxyContainer(t, &d.Spec.Template.Spec)
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env[nghttpx.EnvBinary] != provision.NghttpxBPFBinary {
				t.Errorf("bpf data plane %s=%q, want %s", nghttpx.EnvBinary, env[nghttpx.EnvBinary], provision.NghttpxBPFBinary)
			}
			if sc := c.SecurityContext; sc == nil || sc.Capabilities == nil ||
				!slices.Contains(sc.Capabilities.Add, provision.CapBPF) || !slices.Contains(sc.Capabilities.Add, provision.CapPerfmon) {
				t.Errorf("bpf data plane securityContext %+v, want BPF and PERFMON added", c.SecurityContext)
			}
			for _, g := range []struct {
				name, comm string
				bpf        bool
			}{{"bpf", "nghttpx-bpf", true}, {"plain", "nghttpx", false}} {
				pods := s.dataPlanePods(ctx, t, ns, g.name)
				if len(pods) != 1 {
					t.Fatalf("%s: %d data-plane pods, want 1", g.name, len(pods))
				}
				p := &pods[0]
				ft := s.proxyFeatures(ctx, t, p)
				t.Logf("%s: proxy feature report: http3 %v bpf %v program %q reasons %q", g.name, ft.HTTP3, ft.BPF, ft.BPFProgram, ft.Reasons)
				if ft.BPF != g.bpf || !ft.HTTP3 {
					t.Errorf("%s: features http3 %v bpf %v, want http3 and bpf %v", g.name, ft.HTTP3, ft.BPF, g.bpf)
				}
				st := proxyContainerStatus(p)
				if st == nil {
					t.Fatalf("%s: no proxy container status", p.Name)
				}
				var procs []int
				for pid, comm := range hostProcs(t, st.ContainerID) {
					if comm == g.comm {
						procs = append(procs, pid)
					}
				}
				if len(procs) == 0 {
					t.Errorf("%s: no %s process in the container", p.Name, g.comm)
				}
				t.Logf("%s: %s processes %v; eBPF steering programs loaded while it came up: %v", p.Name, g.comm, procs, loaded[g.name])
				if got := len(loaded[g.name]) > 0; got != g.bpf {
					t.Errorf("%s: nghttpx loaded an SK_REUSEPORT steering program: %v, want %v (%v)", p.Name, got, g.bpf, loaded[g.name])
				}
			}
			return ctx
		}).
		Assess("HTTP/3 through the UDP Service", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var svc corev1.Service
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: dataPlaneName("bpf")}, &svc); err != nil {
				t.Fatal(err)
			}
			udp := false
			for _, p := range svc.Spec.Ports {
				udp = udp || (p.Protocol == corev1.ProtocolUDP && p.Port == 443)
			}
			if !udp {
				t.Fatalf("Service %s has no UDP 443 port: %+v", svc.Name, svc.Spec.Ports)
			}
			for _, addr := range []string{gatewayAddr(t, gws["bpf"], 443), net.JoinHostPort(svc.Spec.ClusterIP, "443")} {
				r, out := s.h2load(ctx, t, h2loadBin, addr, "-n", "200", "-c", "4")
				t.Logf("h2load h3 to %s: %+v", addr, r)
				if r.Total != 200 || r.Succeeded != 200 || r.Failed != 0 || r.Errored != 0 || r.Timeout != 0 || !allTwoXX(out, 200) {
					t.Errorf("HTTP/3 to %s: %+v, want 200 of 200 answered 2xx\n%s", addr, r, e2eutil.Tail(out, 30))
				}
				if !strings.Contains(out, "Application protocol: h3") {
					t.Errorf("h2load to %s did not speak h3:\n%s", addr, e2eutil.Tail(out, 30))
				}
			}
			return ctx
		}).
		Assess("the program goes with the pod", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			if len(loaded["bpf"]) == 0 {
				t.Skip("no program was loaded (reported above)")
			}
			s.scaleDataPlane(ctx, t, ns, "bpf", 0)
			var left []steeringProg
			err := e2eutil.Poll(ctx, 30*time.Second, func(context.Context) (bool, error) {
				now := nghttpxSteering(t)
				left = left[:0]
				for _, p := range loaded["bpf"] {
					if _, ok := now[p.id]; ok {
						left = append(left, p)
					}
				}
				return len(left) == 0, nil
			})
			if err != nil {
				t.Errorf("programs %v still loaded 30 s after the bpf data plane was scaled to 0: not that pod's", left)
			} else {
				t.Logf("programs %v unloaded with the bpf data-plane pod", loaded["bpf"])
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// TestRealPodsRollingRestart: a rolling restart of a data plane (2 replicas)
// under steady HTTP/1.1 and h2c keep-alive load loses no request: each old pod
// fails readiness on SIGTERM, keeps serving for the drain period and stops
// nghttpx gracefully.
func TestRealPodsRollingRestart(t *testing.T) {
	requireRealNode(t)
	f := features.New("rolling restart under load").
		Setup(restrictedGateway("roll", 2)).
		Assess("0 requests lost", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			s.scaleDataPlane(ctx, t, sc.ns, "gw", 2)
			old := map[string]bool{}
			for _, p := range s.dataPlanePods(ctx, t, sc.ns, "gw") {
				old[p.Name] = true
			}
			h2tr := s.transport(4)
			h2tr.Protocols = new(http.Protocols)
			h2tr.Protocols.SetUnencryptedHTTP2(true)
			// The h2c load must really be HTTP/2.
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+sc.tg.addr+"/roll/h2check", nil)
			req.Host = sc.tg.host
			res, err := (&http.Client{Transport: h2tr, Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatalf("h2c request: %v", err)
			}
			res.Body.Close()
			if res.ProtoMajor != 2 || res.StatusCode != http.StatusOK {
				t.Fatalf("h2c request answered %s %d, want HTTP/2.0 200", res.Proto, res.StatusCode)
			}
			h2tg := sc.tg
			h2tg.path = "/roll/h2"
			h1 := s.startLoad(t, sc.tg, 4, 100, 4*time.Minute)
			h2 := s.startLoadOn(t, h2tr, h2tg, 4, 100, 4*time.Minute)
			time.Sleep(3 * time.Second)

			// kubectl rollout restart: a new pod template annotation.
			patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339))
			if _, err := s.cs.AppsV1().Deployments(sc.ns).Patch(ctx, dataPlaneName("gw"), types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Fatalf("restart the data plane: %v", err)
			}
			t0 := time.Now()
			names, err := s.waitDataPlaneReplaced(ctx, sc.ns, old)
			if err != nil {
				t.Fatalf("rollout not done in 3 minutes: pods %v (old %v)", names, old)
			}
			took := time.Since(t0)
			time.Sleep(3 * time.Second)
			r1, r2 := h1.stop(), h2.stop()
			t.Logf("rolling restart %v -> %v took %s", sortedNames(old), names, took.Round(time.Millisecond))
			requireNoFailures(t, "HTTP/1.1 keep-alive load across the rolling restart", r1, 500)
			requireNoFailures(t, "h2c load across the rolling restart", r2, 500)
			return ctx
		}).
		Assess("a deleted data-plane pod loses no request", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// kubectl delete pod: the pod is terminated gracefully (as in a node drain)
			// and its ReplicaSet makes a new one; the other replica serves meanwhile.
			s, sc := suiteFrom(ctx), scenarioFrom(ctx)
			pods := s.dataPlanePods(ctx, t, sc.ns, "gw")
			if len(pods) != 2 {
				t.Fatalf("%d data-plane pods, want 2", len(pods))
			}
			victim := pods[0].Name
			h2tr := s.transport(4)
			h2tr.Protocols = new(http.Protocols)
			h2tr.Protocols.SetUnencryptedHTTP2(true)
			h2tg := sc.tg
			h2tg.path = "/roll/h2del"
			h1 := s.startLoad(t, sc.tg, 4, 100, 4*time.Minute)
			h2 := s.startLoadOn(t, h2tr, h2tg, 4, 100, 4*time.Minute)
			time.Sleep(3 * time.Second)
			if err := s.cs.CoreV1().Pods(sc.ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete data-plane pod %s: %v", victim, err)
			}
			t0 := time.Now()
			names, err := s.waitDataPlaneReplaced(ctx, sc.ns, map[string]bool{victim: true})
			if err != nil {
				t.Fatalf("pod %s not replaced by a ready one in 3 minutes: pods %v", victim, names)
			}
			took := time.Since(t0)
			time.Sleep(3 * time.Second)
			r1, r2 := h1.stop(), h2.stop()
			t.Logf("data-plane pod %s deleted, replaced (%v) in %s", victim, names, took.Round(time.Millisecond))
			requireNoFailures(t, "HTTP/1.1 keep-alive load across the pod deletion", r1, 500)
			requireNoFailures(t, "h2c load across the pod deletion", r2, 500)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// waitDataPlaneReplaced waits up to 3 minutes until gw's data plane runs 2 ready
// pods, none of them in gone, and returns their names (the last seen on timeout).
func (s *suite) waitDataPlaneReplaced(ctx context.Context, ns string, gone map[string]bool) ([]string, error) {
	var names []string
	err := e2eutil.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := e2eutil.Pods(ctx, s.cs, ns, dataPlaneSelector(ns, "gw"))
		if err != nil {
			return false, nil
		}
		names = names[:0]
		ready := 0
		for i := range pods {
			names = append(names, pods[i].Name)
			if gone[pods[i].Name] {
				return false, nil
			}
			if e2eutil.PodReady(&pods[i]) {
				ready++
			}
		}
		return len(pods) == 2 && ready == 2, nil
	})
	return names, err
}

func sortedNames(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
