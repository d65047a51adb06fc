//go:build e2e

package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/cluster"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/podrunner"
)

// helperEnv makes the test binary act as a container program (see TestMain).
const helperEnv = "NGXGW_E2E_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "firstline":
		serveFirstLine()
		return
	case "crash":
		fmt.Println("crashing on purpose")
		os.Exit(3)
	case "files":
		printFiles()
		return
	case "start-and-die":
		startAndDie()
		return
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		select {}
	}
	os.Exit(m.Run())
}

// serveFirstLine answers every TCP connection on :3000 with what it received up to
// and including "hello\n", so a test can see a PROXY protocol header; UDP on :3000
// echoes datagrams with a "udp: " prefix.
func serveFirstLine() {
	pc, err := net.ListenPacket("udp", ":3000")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("udp: "), buf[:n]...), addr)
		}
	}()
	l, err := net.Listen("tcp", ":3000")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			var got []byte
			r := bufio.NewReader(c)
			for !strings.HasSuffix(string(got), "hello\n") {
				b, err := r.ReadByte()
				if err != nil {
					return
				}
				got = append(got, b)
			}
			_, _ = io.WriteString(c, "got: "+string(got))
		}()
	}
}

// startAndDie starts a cluster with one running pod, prints its netns and state
// dir, and kills itself without any cleanup.
func startAndDie() {
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{SkipCRDs: true})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: echoImage}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "victim", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
	fmt.Printf("CLUSTER %s %s %s %s %s\n", c.Netns, c.StateDir, c.PodCIDR, c.LoadBalancerCIDR, c.ServiceCIDR)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// TestReapAfterCrash kills a process that owns a running cluster and checks that Reap
// (which every Start runs first) removes everything it left.
func TestReapAfterCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	self, _ := os.Executable()
	cmd := exec.CommandContext(ctx, self, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=start-and-die")
	out, _ := cmd.Output()
	var netns, stateDir string
	var ranges [3]string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 6 && f[0] == "CLUSTER" {
			netns, stateDir, ranges = f[1], f[2], [3]string{f[3], f[4], f[5]}
		}
	}
	if netns == "" {
		t.Fatalf("helper did not start a cluster:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(podrunner.NetNSPath, netns+"-1")); err != nil {
		t.Fatalf("the crashed cluster's pod namespace should still exist before Reap: %v", err)
	}
	if err := cluster.Reap(ctx, testr.New(t)); err != nil {
		t.Fatalf("reap: %v", err)
	}
	assertNoLeftovers(t, netns, stateDir, ranges[:])
}

// printFiles prints the environment variables named in PRINT_ENV and the files named
// in PRINT_FILES, then waits for SIGTERM.
func printFiles() {
	for _, k := range strings.Fields(os.Getenv("PRINT_ENV")) {
		fmt.Printf("env %s=%s\n", k, os.Getenv(k))
	}
	for _, f := range strings.Fields(os.Getenv("PRINT_FILES")) {
		b, err := os.ReadFile(f)
		fmt.Printf("file %s=%q err=%v\n", f, b, err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	fmt.Println("got SIGTERM")
}

func helperImage(mode string) podrunner.ImageFunc {
	self, _ := os.Executable()
	return func(corev1.Container) (podrunner.Process, error) {
		return podrunner.Process{Argv: []string{self, "-test.run=^$"}, Env: []string{helperEnv + "=" + mode}}, nil
	}
}

const echoImage = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"

func TestLocalCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{
		Log: testr.New(t),
		Images: podrunner.ImageMap{
			"test.local/firstline": helperImage("firstline"),
			"test.local/crash":     helperImage("crash"),
			"test.local/files":     helperImage("files"),
			"test.local/stubborn":  helperImage("stubborn"),
		},
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			c.Stop()
		}
	})
	t.Logf("cluster up in %s (netns %s, kubeconfig %s)", c.StartupDuration.Round(time.Millisecond), c.Netns, c.Kubeconfig)
	cs := c.Client
	ns := "e2e"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The Gateway API CRDs carry the bundle version the conformance suite checks.
	out, err := c.Exec(ctx, "kubectl", "get", "crd", "httproutes.gateway.networking.k8s.io",
		"-o", `jsonpath={.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}`)
	if err != nil || string(out) != "v1.6.3" {
		t.Fatalf("bundle version: %q, %v", out, err)
	}

	// The host kubeconfig reaches the API server from the host namespace via 127.0.0.1.
	if out, err := exec.CommandContext(ctx, filepath.Join(c.BinDir, "kubectl"), "--kubeconfig", c.HostKubeconfig,
		"get", "node", "ngxgw-node", "-o", "name").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "node/ngxgw-node" {
		t.Errorf("kubectl with host kubeconfig: %q, %v", out, err)
	}

	createEcho(ctx, t, cs, ns)
	ips := waitEndpoints(ctx, t, cs, ns, "echo", 2)
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil {
		t.Fatal(err)
	}
	podByIP := map[string]string{}
	for _, p := range pods.Items {
		podByIP[p.Status.PodIP] = p.Name
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 || !p.Status.ContainerStatuses[0].Ready {
			t.Errorf("pod %s status: phase %s, containers %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
		}
	}
	for _, ip := range ips {
		if podByIP[ip] == "" {
			t.Fatalf("endpoint %s is not a pod IP (%v)", ip, podByIP)
		}
	}

	// Each pod answers on its own address with its own name (from the downward API).
	for _, ip := range ips {
		body := curlJSON(ctx, t, c, "http://"+net.JoinHostPort(ip, "3000")+"/marker-"+podByIP[ip])
		if body["pod"] != podByIP[ip] || body["namespace"] != ns {
			t.Errorf("pod %s answered %v", ip, body)
		}
	}

	// The load balancer address forwards to both pods, round robin.
	lb := waitLoadBalancer(ctx, t, cs, ns, "echo")
	seen := map[string]bool{}
	for range 4 {
		body := curlJSON(ctx, t, c, "http://"+net.JoinHostPort(lb, "80")+"/via-lb")
		seen[fmt.Sprint(body["pod"])] = true
	}
	if len(seen) != 2 {
		t.Errorf("LB %s reached pods %v, want both", lb, seen)
	}
	// Go clients reach it through DialContext.
	resp, err := c.HTTPClient().Get("http://" + net.JoinHostPort(lb, "80") + "/from-go")
	if err != nil {
		t.Fatalf("Go client via LB: %v", err)
	}
	resp.Body.Close()
	// While the cluster is up, the host namespace blackholes every cluster range
	// (checked without sending anything).
	for _, r := range []string{c.PodCIDR.String(), c.LoadBalancerCIDR.String(), c.ServiceCIDR.String()} {
		if out, err := podrunner.RunIP(ctx, "route", "show", "exact", r, "type", "blackhole"); err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("no host blackhole route for %s: %q, %v", r, out, err)
		}
	}

	// Attaching to an existing cluster (here: this one, through the host kubeconfig).
	ta := time.Now()
	a, err := cluster.Start(ctx, cluster.Options{Kubeconfig: c.HostKubeconfig})
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	t.Logf("attached (CRDs updated) in %s", time.Since(ta).Round(time.Millisecond))
	if nodes, err := a.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nodes.Items) != 1 {
		t.Errorf("attached client: %v, %v", nodes, err)
	}
	a.Stop()

	// Logs through the API server and the kubelet endpoint.
	for ip, name := range podByIP {
		raw, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: "echo"}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs of %s: %v", name, err)
		}
		if !strings.Contains(string(raw), "/marker-"+name) {
			t.Errorf("logs of %s (%s) lack its request:\n%s", name, ip, raw)
		}
	}

	t.Run("ProxyProtocol", func(t *testing.T) { testProxyProtocol(ctx, t, c, ns) })
	t.Run("UnknownImage", func(t *testing.T) { testUnknownImage(ctx, t, cs, ns) })
	t.Run("CrashRestart", func(t *testing.T) { testCrashRestart(ctx, t, cs, ns) })
	t.Run("VolumesAndEnv", func(t *testing.T) { testVolumesAndEnv(ctx, t, c, ns) })
	t.Run("Termination", func(t *testing.T) { testTermination(ctx, t, cs, ns) })

	// Deleting the Deployment removes the pods, their processes and namespaces.
	var pids []int
	for _, name := range podByIP {
		pids = append(pids, pidsWithEnv("POD_NAME="+name)...)
	}
	if len(pids) == 0 {
		t.Fatal("no pod processes found")
	}
	bg := metav1.DeletePropagationBackground
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "echo", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		return err == nil && len(l.Items) == 0, nil
	}); err != nil {
		t.Fatalf("echo pods not deleted: %v", err)
	}
	for _, p := range pids {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("pod process %d still running after deletion", p)
		}
	}

	stateDir, netns := c.StateDir, c.Netns
	t0 := time.Now()
	c.Stop()
	stopped = true
	t.Logf("cluster stopped in %s", time.Since(t0).Round(time.Millisecond))
	assertNoLeftovers(t, netns, stateDir, []string{c.PodCIDR.String(), c.LoadBalancerCIDR.String(), c.ServiceCIDR.String()})
}

func int32p(v int32) *int32 { return &v }

func createEcho(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	labels := map[string]string{"app": "echo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "echo",
					Image: echoImage,
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
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(3000)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitEndpoints(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, svc string, n int) []string {
	t.Helper()
	var ips []string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return false, nil
		}
		ips = nil
		for _, s := range l.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					ips = append(ips, ep.Addresses...)
				}
			}
		}
		return len(ips) == n, nil
	})
	if err != nil {
		t.Fatalf("service %s/%s: want %d ready endpoints, have %v: %v", ns, svc, n, ips, err)
	}
	return ips
}

func waitLoadBalancer(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	var ip string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, nil
		}
		ip = s.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	if err != nil {
		t.Fatalf("service %s/%s got no load-balancer address: %v", ns, name, err)
	}
	return ip
}

// curlJSON fetches url with curl inside the cluster namespace.
func curlJSON(ctx context.Context, t *testing.T, c *cluster.Cluster, url string) map[string]any {
	t.Helper()
	out, err := c.Exec(ctx, "curl", "-sS", "--max-time", "5", url)
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("curl %s: not JSON: %q", url, out)
	}
	return m
}

func testProxyProtocol(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string) {
	cs := c.Client
	labels := map[string]string{"app": "firstline"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "firstline", Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "test.local/firstline:1"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "pp-" + v, Namespace: ns, Annotations: map[string]string{podrunner.ProxyProtocolAnnotation: v}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
				Ports: []corev1.ServicePort{{Port: 7000, TargetPort: intstr.FromInt32(3000)}}},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	udp := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "udp", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
			Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(3000)}}},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, udp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(ctx, t, cs, ns, "pp-v1", 1)
	waitEndpoints(ctx, t, cs, ns, "udp", 1)
	udpLB := waitLoadBalancer(ctx, t, cs, ns, "udp")
	uc, err := c.DialContext(ctx, "udp", net.JoinHostPort(udpLB, "53"))
	if err != nil {
		t.Fatal(err)
	}
	_ = uc.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(uc, "ping")
	buf := make([]byte, 100)
	n, err := uc.Read(buf)
	uc.Close()
	if err != nil || string(buf[:n]) != "udp: ping" {
		t.Errorf("UDP via LB %s: %q, %v", udpLB, buf[:n], err)
	}
	for _, v := range []string{"v1", "v2"} {
		lb := waitLoadBalancer(ctx, t, cs, ns, "pp-"+v)
		conn, err := c.DialContext(ctx, "tcp", net.JoinHostPort(lb, "7000"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "hello\n")
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(conn)
		conn.Close()
		local := conn.LocalAddr().(*net.TCPAddr)
		switch v {
		case "v1":
			want := fmt.Sprintf("got: PROXY TCP4 %s %s %d 7000\r\nhello\n", local.IP, lb, local.Port)
			if string(reply) != want {
				t.Errorf("v1: got %q, want %q", reply, want)
			}
		case "v2":
			want := "got: \r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + string(local.IP.To4()) + string(net.ParseIP(lb).To4()) +
				string([]byte{byte(local.Port >> 8), byte(local.Port), 7000 >> 8, 7000 & 0xff}) + "hello\n"
			if string(reply) != want {
				t.Errorf("v2: got %q, want %q", reply, want)
			}
		}
	}
}

func testUnknownImage(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unknown", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.invalid/nothing:1"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "unknown", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false, nil
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w.Reason == "ErrImagePull" && strings.Contains(w.Message, "example.invalid/nothing:1") && p.Status.Phase == corev1.PodPending, nil
	})
	if err != nil {
		t.Fatalf("unknown image not reported: %+v", last.Status)
	}
	zero := int64(0)
	_ = cs.CoreV1().Pods(ns).Delete(ctx, "unknown", metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

func testCrashRestart(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "test.local/crash"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var st corev1.ContainerStatus
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "crash", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) != 1 {
			return false, nil
		}
		st = p.Status.ContainerStatuses[0]
		term := st.LastTerminationState.Terminated
		return st.RestartCount >= 2 && term != nil && term.ExitCode == 3, nil
	})
	if err != nil {
		t.Fatalf("crashing container not restarted: %+v", st)
	}
	raw, err := cs.CoreV1().Pods(ns).GetLogs("crash", &corev1.PodLogOptions{Container: "main", Previous: true}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), "crashing on purpose") {
		t.Errorf("previous logs: %q, %v", raw, err)
	}
}

func testVolumesAndEnv(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string) {
	cs := c.Client
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns},
		Data:       map[string][]byte{"tls.crt": []byte("CERT"), "other": []byte("x"), "token": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns},
		Data:       map[string]string{"a.conf": "A"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const secretDir, cmDir = "/etc/ngxgw-e2e-test/secret", "/etc/ngxgw-e2e-test/cm"
	sa := "/var/run/secrets/kubernetes.io/serviceaccount"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "files", Namespace: ns},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s",
					Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "certs/server.crt"}}}}},
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			},
			Containers: []corev1.Container{{
				Name: "main", Image: "test.local/files",
				Env: []corev1.EnvVar{
					{Name: "PRINT_ENV", Value: "MY_IP NODE TOKEN KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT GREETING"},
					{Name: "PRINT_FILES", Value: secretDir + "/certs/server.crt " + secretDir + "/other " + cmDir + "/a.conf " + sa + "/namespace " + sa + "/ca.crt"},
					{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}},
					{Name: "GREETING", Value: "hi $(NODE)"},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: secretDir}, {Name: "cm", MountPath: cmDir}},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var logs string
	var podIP string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "files", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		podIP = p.Status.PodIP
		raw, err := cs.CoreV1().Pods(ns).GetLogs("files", &corev1.PodLogOptions{}).DoRaw(ctx)
		logs = string(raw)
		return err == nil && strings.Contains(logs, "ca.crt"), nil
	})
	if err != nil {
		t.Fatalf("files pod: %v; logs:\n%s", err, logs)
	}
	caHead := `"-----BEGIN CERTIFICATE-----`
	for _, want := range []string{
		"env MY_IP=" + podIP + "\n", "env NODE=ngxgw-node\n", "env TOKEN=s3cret\n", "env GREETING=hi ngxgw-node\n",
		"env KUBERNETES_SERVICE_HOST=" + c.NodeIP.String() + "\n", "env KUBERNETES_SERVICE_PORT=6443\n",
		"file " + secretDir + "/certs/server.crt=\"CERT\" err=<nil>",
		"file " + secretDir + "/other=\"\" err=open " + secretDir + "/other: no such file or directory",
		"file " + cmDir + "/a.conf=\"A\" err=<nil>",
		"file " + sa + "/namespace=\"" + ns + "\" err=<nil>",
		"file " + sa + "/ca.crt=" + caHead,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	// The mounts exist only in the container's mount namespace.
	if b, err := os.ReadFile(secretDir + "/certs/server.crt"); err == nil {
		t.Errorf("secret visible on the host: %q", b)
	}
	start := time.Now()
	if err := cs.CoreV1().Pods(ns).Delete(ctx, "files", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, cs, ns, "files")
	t.Logf("pod with SIGTERM handler deleted in %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat("/etc/ngxgw-e2e-test"); err == nil {
		t.Errorf("mount target /etc/ngxgw-e2e-test left on the host")
	}
}

func testTermination(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) {
	grace := int64(2)
	pods := []*corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "prestop", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "test.local/files",
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "sleep 1"}}}},
		}}},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "stubborn", Namespace: ns},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []corev1.Container{{Name: "main", Image: "test.local/stubborn"}},
		},
	}}
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := cs.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			return err == nil && got.Status.Phase == corev1.PodRunning, nil
		}); err != nil {
			t.Fatalf("pod %s not running", p.Name)
		}
	}
	for _, tc := range []struct {
		name     string
		min, max time.Duration
	}{{"prestop", time.Second, 4 * time.Second}, {"stubborn", 2 * time.Second, 5 * time.Second}} {
		start := time.Now()
		if err := cs.CoreV1().Pods(ns).Delete(ctx, tc.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitGone(ctx, t, cs, ns, tc.name)
		if d := time.Since(start); d < tc.min || d > tc.max {
			t.Errorf("pod %s deleted after %s, want %s..%s", tc.name, d, tc.min, tc.max)
		}
	}
}

func waitGone(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err != nil, nil
	}); err != nil {
		t.Fatalf("pod %s/%s not deleted", ns, name)
	}
}

// pidsWithEnv lists processes whose environment holds kv.
func pidsWithEnv(kv string) []int {
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, p := range envs {
		b, _ := os.ReadFile(p)
		for _, e := range strings.Split(string(b), "\x00") {
			if e == kv {
				var pid int
				fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func assertNoLeftovers(t *testing.T, netns, stateDir string, ranges []string) {
	t.Helper()
	entries, _ := os.ReadDir(podrunner.NetNSPath)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), netns) {
			t.Errorf("network namespace %s left behind", e.Name())
		}
	}
	if _, err := os.Stat(stateDir); err == nil {
		t.Errorf("state dir %s left behind", stateDir)
	}
	if _, err := os.Stat(filepath.Join("/run/ngxgw-e2e", netns+".json")); err == nil {
		t.Errorf("cluster record left behind")
	}
	// Blackhole routes are shared by every live cluster on this host: another one
	// (say, a conformance run) keeps them up, so they say nothing about this one.
	if others, _ := filepath.Glob("/run/ngxgw-e2e/*.json"); len(others) > 0 {
		t.Logf("skipping the host route check: %d other cluster(s) live: %v", len(others), others)
	} else {
		for _, r := range ranges {
			out, _ := podrunner.RunIP(context.Background(), "route", "show", "exact", r)
			if strings.TrimSpace(out) != "" {
				t.Errorf("host route for %s left behind: %s", r, out)
			}
		}
	}
	// No process of ours may remain in any of the namespaces or hold the binaries.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), stateDir) {
			t.Errorf("process %s still references %s: %q", filepath.Dir(p), stateDir, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
