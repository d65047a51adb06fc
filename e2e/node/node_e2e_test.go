//go:build e2e

package node_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// echoReply is the part of echo-basic's JSON answer the test checks.
type echoReply struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
}

// TestRealNode starts a cluster with a real node and checks what the pod runner
// used to fake: Node registration, pods under containerd with real IPs, ClusterIP
// through kube-proxy, DNS through CoreDNS from inside a pod, logs through the API
// server, and a LoadBalancer address that answers.
func TestRealNode(t *testing.T) {
	if kc := os.Getenv("E2E_KUBECONFIG"); kc != "" {
		t.Skipf("TestRealNode checks the local cluster's own node; E2E_KUBECONFIG=%s attaches to another cluster", kc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	// E2E_STATE_DIR keeps the logs of every component after the test.
	c, err := cluster.Start(ctx, cluster.Options{Node: cluster.NodeReal, SkipCRDs: true, StateDir: os.Getenv("E2E_STATE_DIR"), Log: testr.New(t)})
	if err != nil {
		t.Fatalf("starting a cluster with a real node: %v", err)
	}
	defer c.Stop()
	t.Logf("cluster with real node up in %s (node part %s)", c.StartupDuration.Round(time.Millisecond), c.Node.StartupDuration.Round(time.Millisecond))
	cs := c.Client

	nd, err := cs.CoreV1().Nodes().Get(ctx, cluster.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := nd.Status.NodeInfo.KubeletVersion; v != cluster.K8sVersion {
		t.Errorf("kubelet version %q, want %q", v, cluster.K8sVersion)
	}
	if rt := nd.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(rt, "containerd://") {
		t.Errorf("container runtime %q, want containerd://...", rt)
	}
	if !nodeReady(nd) {
		t.Fatalf("node not Ready: %+v", nd.Status.Conditions)
	}

	ns := "realnode"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDefaultSA(ctx, t, cs, ns)
	pods := deployEcho(ctx, t, c, ns)
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
	}

	// ClusterIP through kube-proxy, from the cluster namespace: both replicas answer.
	svc := createService(ctx, t, cs, ns, "echo", corev1.ServiceTypeClusterIP)
	seen := getUntilAll(ctx, t, c.HTTPClient(), "http://"+net.JoinHostPort(svc.Spec.ClusterIP, "80")+"/", names)
	t.Logf("ClusterIP %s answered from %v", svc.Spec.ClusterIP, seen)

	// From inside a pod: the Service name resolves through CoreDNS and answers.
	host := fmt.Sprintf("echo.%s.svc.cluster.local", ns)
	logs := runBusybox(ctx, t, cs, ns, "dns", []string{"/bin/busybox", "sh", "-c",
		"/bin/busybox nslookup " + host + " && /bin/busybox wget -q -O - http://" + host + "/"})
	if !strings.Contains(logs, svc.Spec.ClusterIP) {
		t.Errorf("pod's nslookup of %s did not give the ClusterIP %s:\n%s", host, svc.Spec.ClusterIP, logs)
	}
	var r echoReply
	if i := strings.Index(logs, "{"); i < 0 || json.Unmarshal([]byte(logs[i:]), &r) != nil || !names[r.Pod] || r.Namespace != ns {
		t.Errorf("pod's request to http://%s/ got no echo reply from one of %v (read through the API server's pods/log):\n%s", host, names, logs)
	}

	// LoadBalancer: an address from the load-balancer range, forwarded by kube-proxy.
	lb := createService(ctx, t, cs, ns, "echo-lb", corev1.ServiceTypeLoadBalancer)
	var lbIP string
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services(ns).Get(ctx, lb.Name, metav1.GetOptions{})
		if err == nil && len(s.Status.LoadBalancer.Ingress) > 0 {
			lbIP = s.Status.LoadBalancer.Ingress[0].IP
		}
		return lbIP != "", nil
	}); err != nil {
		t.Fatalf("LoadBalancer Service got no address: %v", err)
	}
	if ip := net.ParseIP(lbIP); ip == nil || !c.LoadBalancerCIDR.Contains(ip) {
		t.Fatalf("LoadBalancer address %q outside %s", lbIP, c.LoadBalancerCIDR)
	}
	seen = getUntilAll(ctx, t, c.HTTPClient(), "http://"+net.JoinHostPort(lbIP, "80")+"/", names)
	t.Logf("LoadBalancer %s answered from %v", lbIP, seen)

	checkProxyProtocol(ctx, t, c, ns)
}

// checkProxyProtocol: a LoadBalancer Service annotated for PROXY protocol v1 gets an
// ipMode Proxy address whose connections arrive at the pod with the header first.
func checkProxyProtocol(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string) {
	cs := c.Client
	// nc prints what each connection sent, base64 on one line (the container log
	// path would drop the header's CRs); the probe waits until it listens.
	_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pp", Labels: map[string]string{"app": "pp"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "nc", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/bin/busybox", "sh", "-c", "while :; do /bin/busybox nc -l -p 3000 </dev/null | /bin/busybox base64 -w 0; echo; echo END; done"},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"/bin/busybox", "sh", "-c", "/bin/busybox netstat -ltn | /bin/busybox grep -q :3000"}}}, PeriodSeconds: 1},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "pp", Annotations: map[string]string{podrunner.ProxyProtocolAnnotation: "v1"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "pp"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt(3000)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lbIP string
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "pp", metav1.GetOptions{})
		if err != nil || !podReady(p) {
			return false, nil
		}
		s, err := cs.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, nil
		}
		in := s.Status.LoadBalancer.Ingress[0]
		if in.IPMode == nil || *in.IPMode != corev1.LoadBalancerIPModeProxy {
			return false, fmt.Errorf("PROXY protocol Service published ipMode %v, want Proxy", in.IPMode)
		}
		lbIP = in.IP
		return true, nil
	}); err != nil {
		t.Fatalf("PROXY protocol Service: %v", err)
	}
	// Until kube-proxy has the new endpoints the forwarder's connection is refused
	// and nothing reaches nc: send again until the pod logged a connection.
	var want, logs string
	for attempt := 0; attempt < 20 && !strings.Contains(logs, "END"); attempt++ {
		conn, err := c.DialContext(ctx, "tcp", net.JoinHostPort(lbIP, "80"))
		if err != nil {
			t.Fatal(err)
		}
		local := conn.LocalAddr().(*net.TCPAddr)
		_, _ = io.WriteString(conn, "hello\n")
		_ = conn.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
		want = fmt.Sprintf("PROXY TCP4 %s %s %d 80\r\nhello\n", local.IP, lbIP, local.Port)
		_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Second, true, func(ctx context.Context) (bool, error) {
			b, err := cs.CoreV1().Pods(ns).GetLogs("pp", &corev1.PodLogOptions{}).DoRaw(ctx)
			logs = string(b)
			return err == nil && strings.Contains(logs, "END"), nil
		})
	}
	line, _, _ := strings.Cut(logs, "\n")
	got, err := base64.StdEncoding.DecodeString(line)
	if err != nil || string(got) != want {
		t.Fatalf("pod behind the PROXY protocol Service got %q (log %q), want %q", got, logs, want)
	}
	t.Logf("PROXY protocol LoadBalancer %s: pod got %q", lbIP, want)
}

func nodeReady(nd *corev1.Node) bool {
	for _, c := range nd.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitDefaultSA(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("no default ServiceAccount in %s: %v", ns, err)
	}
}

// deployEcho runs echo-basic with 2 replicas and returns its Ready pods after
// checking they run under containerd with distinct pod-range addresses.
func deployEcho(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string) []corev1.Pod {
	t.Helper()
	cs := c.Client
	replicas := int32(2)
	labels := map[string]string{"app": "echo"}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: cluster.EchoBasicImage, ImagePullPolicy: corev1.PullNever,
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: field("metadata.name")},
						{Name: "NAMESPACE", ValueFrom: field("metadata.namespace")},
					},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(3000)}}, PeriodSeconds: 1},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return false, nil
		}
		pods = pods[:0]
		for _, p := range l.Items {
			if p.DeletionTimestamp == nil && podReady(&p) {
				pods = append(pods, p)
			}
		}
		return len(pods) == int(replicas), nil
	})
	if err != nil {
		l, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		t.Fatalf("echo pods not Ready: %v; pods: %s", err, podSummary(l))
	}
	ips := map[string]bool{}
	for _, p := range pods {
		if id := p.Status.ContainerStatuses[0].ContainerID; !strings.HasPrefix(id, "containerd://") {
			t.Errorf("pod %s container ID %q, want containerd://...", p.Name, id)
		}
		ip := net.ParseIP(p.Status.PodIP)
		if ip == nil || !c.PodCIDR.Contains(ip) || ip.Equal(c.NodeIP) || ips[ip.String()] {
			t.Errorf("pod %s IP %q: want a distinct address in %s other than the node's %s", p.Name, p.Status.PodIP, c.PodCIDR, c.NodeIP)
		}
		ips[ip.String()] = true
		if p.Spec.NodeName != cluster.NodeName {
			t.Errorf("pod %s scheduled to %q, want %q", p.Name, p.Spec.NodeName, cluster.NodeName)
		}
	}
	return pods
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podSummary(l *corev1.PodList) string {
	if l == nil {
		return "(none)"
	}
	var s []string
	for _, p := range l.Items {
		line := fmt.Sprintf("%s phase=%s node=%q", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				line += fmt.Sprintf(" %s waiting %s: %s", cs.Name, w.Reason, w.Message)
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				line += fmt.Sprintf(" %s=%s %s", c.Type, c.Status, c.Message)
			}
		}
		s = append(s, line)
	}
	return strings.Join(s, "\n")
}

func createService(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, typ corev1.ServiceType) *corev1.Service {
	t.Helper()
	s, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": "echo"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(3000)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// getUntilAll sends requests to url until every pod in want has answered (kube-proxy
// picks backends at random) and returns the pods seen.
func getUntilAll(ctx context.Context, t *testing.T, hc *http.Client, url string, want map[string]bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	var lastErr error
	hc.Timeout = 3 * time.Second
	for i := 0; i < 200 && len(seen) < len(want); i++ {
		if ctx.Err() != nil {
			break
		}
		resp, err := hc.Get(url)
		if err != nil {
			lastErr = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hc.CloseIdleConnections() // a new connection may pick another backend
		var r echoReply
		if err := json.Unmarshal(b, &r); err != nil || !want[r.Pod] {
			t.Fatalf("GET %s: %d %q is no echo reply from one of %v", url, resp.StatusCode, b, want)
		}
		seen[r.Pod]++
	}
	if len(seen) < len(want) {
		t.Fatalf("GET %s: answers from %v, want all of %v (last error %v)", url, seen, want, lastErr)
	}
	return seen
}

// runBusybox runs argv in a busybox pod to completion and returns its log, read
// through the API server (which fetches it from kubelet).
func runBusybox(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, argv []string) string {
	t.Helper()
	_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: cluster.BusyboxImage, ImagePullPolicy: corev1.PullNever, Command: argv}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	}); err != nil {
		t.Fatalf("pod %s did not finish (phase %s): %v", name, phase, err)
	}
	b, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of pod %s through the API server: %v", name, err)
	}
	if phase != corev1.PodSucceeded {
		t.Fatalf("pod %s %s:\n%s", name, phase, b)
	}
	return string(b)
}
