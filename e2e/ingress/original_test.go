//go:build e2e

package ingress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/nghttpx-gateway/nghttpx-gateway/config"
	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/selfsigned"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// The original controller's examples/default, as its users deploy it: the
// Deployment nghttpx-ingress-controller in kube-system with hostNetwork,
// hostPorts 80/443, probes on --healthz-port 11249 and emptyDirs on
// /etc/nghttpx and /tmp, under its ServiceAccount ingress.
const (
	originalNS    = "kube-system"
	originalName  = "nghttpx-ingress-controller"
	originalSA    = "ingress"
	originalClass = "original"
	// The suite's own controller serves zlab.co.jp/nghttpx: the original's
	// pods get another IngressClass controller so the two stay apart.
	originalClassController   = "e2e.nghttpx.dev/original"
	originalGatewayController = "e2e.nghttpx.dev/original-gateway"
)

// originalDeployment is examples/default's Deployment with our image. Also
// changed: imagePullPolicy (Always there; this cluster has no registry),
// --ingress-class-controller and --gateway-class-controller (see above) and
// SYS_RESOURCE left out of the added capabilities (this sandbox's bounding set
// lacks it, so runc refuses the container: "unable to apply caps"), and
// --allow-internal-ip (the node
// has no ExternalIP, and the original shows InternalIPs only with it).
func originalDeployment(image string) *appsv1.Deployment {
	labels := map[string]string{"k8s-app": "nghttpx-ingress-lb", "name": "nghttpx-ingress-lb"}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(11249), Scheme: corev1.URISchemeHTTP}},
			TimeoutSeconds: 5}
	}
	startup := probe("/readyz")
	startup.FailureThreshold = 30
	field := func(n, p string) corev1.EnvVar {
		return corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: originalNS, Name: originalName, Labels: map[string]string{"k8s-app": "nghttpx-ingress-lb"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "nghttpx-ingress-lb"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:            originalSA,
					TerminationGracePeriodSeconds: ptr.To[int64](60),
					HostNetwork:                   true,
					Containers: []corev1.Container{{
						Name: "nghttpx-ingress-lb", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						StartupProbe: startup, LivenessProbe: probe("/healthz"), ReadinessProbe: probe("/readyz"),
						Env:   []corev1.EnvVar{field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace")},
						Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}, {ContainerPort: 443, HostPort: 443}},
						Args: []string{"/nghttpx-ingress-controller", "--healthz-port=11249",
							"--ingress-class-controller=" + originalClassController, "--gateway-class-controller=" + originalGatewayController,
							"--allow-internal-ip"},
						SecurityContext: &corev1.SecurityContext{
							Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE", "BPF", "PERFMON"},
								Drop: []corev1.Capability{"ALL"}},
							ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
						},
						VolumeMounts: []corev1.VolumeMount{{MountPath: "/etc/nghttpx", Name: "conf"}, {MountPath: "/tmp", Name: "tmp"}},
					}},
					Volumes: []corev1.Volume{
						{Name: "conf", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

// originalRBAC is what an operator adds to the original's ServiceAccount:
// our controller ClusterRole (docs/migrating-from-nghttpx-ingress-controller.md)
// and config/in-pod, bound to kube-system/ingress; the Lease Role of
// examples/default/service-account.yaml.
func (s *suite) originalRBAC(ctx context.Context, t *testing.T) {
	t.Helper()
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: originalSA, Namespace: originalNS}
	s.create(ctx, t,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: originalNS, Name: originalSA}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "e2e-original-controller"}, Subjects: []rbacv1.Subject{sa},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "nghttpx-gateway-controller"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: originalNS, Name: "e2e-original-leases"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: originalNS, Name: "e2e-original-leases"}, Subjects: []rbacv1.Subject{sa},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "e2e-original-leases"}},
	)
	objs, err := config.Build(filepath.Join(config.Dir(), "in-pod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() != "" {
			o.SetNamespace(originalNS)
		}
		if subs, ok := o.Object["subjects"].([]any); ok {
			for _, x := range subs {
				m := x.(map[string]any)
				m["name"], m["namespace"] = originalSA, originalNS
			}
		}
	}
	if err := e2eutil.Apply(ctx, s.c.RESTConfig, fieldManager, objs); err != nil {
		t.Fatalf("config/in-pod: %v", err)
	}
}

// TestOriginalManifestInPod: the original's examples/default with our image
// runs nghttpx in its own pod on the node's network: the README's Ingress is
// served over HTTP and HTTPS on the node's ports 80/443, Ingress status
// shows the node's address, the probes pass, and no data plane is
// provisioned; the same pod as a DaemonSet (examples/daemonset) serves too.
func TestOriginalManifestInPod(t *testing.T) {
	f := features.New("original manifest in-pod").
		Assess("serves on the node's ports", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := suiteFrom(ctx)
			var ctrl appsv1.Deployment
			if err := s.cl.Get(ctx, client.ObjectKey{Namespace: systemNS, Name: controllerApp}, &ctrl); err != nil {
				t.Fatal(err)
			}
			image := ctrl.Spec.Template.Spec.Containers[0].Image
			s.originalRBAC(ctx, t)
			t0 := time.Now()
			d := originalDeployment(image)
			s.create(ctx, t, d)
			t.Cleanup(func() {
				// Frees the node's ports 80/443 for the suite's other tests.
				_ = s.cl.Delete(context.Background(), d)
			})
			ns := s.namespace(ctx, t, "ing-orig")
			const host = "secure.bar.com"
			pair, err := selfsigned.New(host)
			if err != nil {
				t.Fatal(err)
			}
			is := networkingv1.PathTypeImplementationSpecific
			ing := newIngress(ns, "echomap", nil,
				rule("foo.bar.com", path("/foo", is, "echoheaders-x")),
				rule("bar.baz.com", path("/bar", is, "echoheaders-x"), path("/foo", is, "echoheaders-x")),
				rule(host, path("/", networkingv1.PathTypePrefix, "echoheaders-x")))
			ing.Spec.IngressClassName = ptr.To(originalClass)
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "secure-cert"}}
			s.create(ctx, t,
				&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: originalClass},
					Spec: networkingv1.IngressClassSpec{Controller: originalClassController}},
				echoDeployment(ns, "echoheaders", 1),
				service(ns, "echoheaders-x", "echoheaders", 3000),
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "secure-cert"}, Type: corev1.SecretTypeTLS,
					Data: map[string][]byte{corev1.TLSCertKey: pair.CertPEM, corev1.TLSPrivateKeyKey: pair.KeyPEM}},
				ing,
			)
			if err := e2eutil.WaitRollout(ctx, s.cs, originalNS, originalName, 3*time.Minute); err != nil {
				e2eutil.DumpPodLogs(ctx, e2eutil.StderrLogger(0), s.cs, originalNS, "k8s-app=nghttpx-ingress-lb")
				t.Fatalf("the original's Deployment with our image: %v", err)
			}
			t.Logf("original Deployment ready (startup and readiness probes on 11249 passed) %s after it was created", time.Since(t0).Round(time.Millisecond))
			pods, err := e2eutil.Pods(ctx, s.cs, originalNS, "k8s-app=nghttpx-ingress-lb")
			if err != nil || len(pods) != 1 {
				t.Fatalf("pods %d, %v", len(pods), err)
			}
			var nodeIP string
			var n corev1.Node
			if err := s.cl.Get(ctx, client.ObjectKey{Name: pods[0].Spec.NodeName}, &n); err != nil {
				t.Fatal(err)
			}
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP {
					nodeIP = a.Address
				}
			}
			s.waitDeployment(ctx, t, ns, "echoheaders", 1)
			if addr := s.waitIngressAddress(ctx, t, ns, "echomap"); addr != nodeIP {
				t.Errorf("Ingress status address %s, want the node's %s", addr, nodeIP)
			}
			base := "http://" + net.JoinHostPort(nodeIP, "80")
			s.waitAnswer(ctx, t, base+"/foo", "foo.bar.com", nil, "200 from echoheaders-x", func(a answer) bool {
				return a.status == http.StatusOK && a.echo != nil && a.echo.Namespace == ns
			})
			t.Logf("HTTP on the node's port 80 %s after the Deployment was created", time.Since(t0).Round(time.Millisecond))
			for _, c := range []struct {
				host, path string
				status     int
			}{{"bar.baz.com", "/bar", 200}, {"foo.bar.com", "/bar", 404}, {"unknown.example", "/healthz", 200}} {
				if a, err := s.get(ctx, base+c.path, c.host, nil); err != nil || a.status != c.status {
					t.Errorf("%s%s: %v %v, want %d", c.host, c.path, a, err, c.status)
				}
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pair.CertPEM)
			conf := &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
			a := s.waitAnswer(ctx, t, "https://"+net.JoinHostPort(nodeIP, "443")+"/secure", host, conf, "200 over TLS on the node's port 443",
				func(a answer) bool { return a.status == http.StatusOK && a.echo != nil })
			if a.echo.Host != host {
				t.Errorf("echo saw host %s", a.echo.Host)
			}
			// The health port has the original's checks plus nghttpx's.
			hp, err := s.get(ctx, "http://"+net.JoinHostPort(nodeIP, "11249")+"/readyz?verbose", "", nil)
			if err != nil || hp.status != 200 || !strings.Contains(hp.body, "[+]nghttpx ok") {
				t.Errorf("/readyz?verbose on 11249: %v %v, want 200 with [+]nghttpx ok", hp, err)
			}
			s.asDaemonSet(ctx, t, d, base)
			// Nothing was provisioned for the in-pod Gateway.
			var deps appsv1.DeploymentList
			if err := s.cl.List(ctx, &deps, client.InNamespace(originalNS), client.MatchingLabels{provision.LabelManagedBy: provision.ManagedBy}); err != nil {
				t.Fatal(err)
			}
			for _, x := range deps.Items {
				t.Errorf("Deployment %s/%s provisioned in in-pod mode", x.Namespace, x.Name)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// asDaemonSet replaces the Deployment d with examples/daemonset's shape: the
// same pod as a DaemonSet, one per node on its ports 80/443. The README's
// Ingress must be served again on the node's port 80 (base).
func (s *suite) asDaemonSet(ctx context.Context, t *testing.T, d *appsv1.Deployment, base string) {
	t.Helper()
	if err := s.cl.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	// The node's ports are free once the pod is gone (after its drain).
	if err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		pods, err := e2eutil.Pods(ctx, s.cs, originalNS, "k8s-app=nghttpx-ingress-lb")
		return err == nil && len(pods) == 0, nil
	}); err != nil {
		t.Fatal("the Deployment's pod is still there")
	}
	t0 := time.Now()
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: originalNS, Name: "nghttpx-ingress-lb"},
		Spec:       appsv1.DaemonSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	s.create(ctx, t, ds)
	t.Cleanup(func() { _ = s.cl.Delete(context.Background(), ds) })
	if err := e2eutil.Poll(ctx, 3*time.Minute, func(ctx context.Context) (bool, error) {
		var cur appsv1.DaemonSet
		if err := s.cl.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
			return false, nil
		}
		return cur.Status.DesiredNumberScheduled > 0 && cur.Status.NumberReady == cur.Status.DesiredNumberScheduled, nil
	}); err != nil {
		e2eutil.DumpPodLogs(ctx, e2eutil.StderrLogger(0), s.cs, originalNS, "k8s-app=nghttpx-ingress-lb")
		t.Fatal("the DaemonSet's pods are not ready")
	}
	a := s.waitAnswer(ctx, t, base+"/foo", "foo.bar.com", nil, "200 from the DaemonSet's nghttpx", func(a answer) bool {
		return a.status == http.StatusOK && a.echo != nil
	})
	t.Logf("as a DaemonSet: ready and serving (%d) %s after it was created", a.status, time.Since(t0).Round(time.Millisecond))
}
