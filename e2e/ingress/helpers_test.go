//go:build e2e

package ingress

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// echoImage is the conformance echo server; the local cluster maps it to echo-basic,
// which serves HTTP/1.1 on 3000 and h2c (prior knowledge) on 3001.
const echoImage = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"

const (
	statusTimeout  = 2 * time.Minute
	trafficTimeout = 2 * time.Minute
)

// namespace creates a fresh namespace for one feature and deletes it (waiting until
// it is gone) when the feature ends; on failure the state and logs are saved first.
func (s *suite) namespace(ctx context.Context, t *testing.T, prefix string) string {
	t.Helper()
	name := envconf.RandomName(prefix, len(prefix)+7)
	e2eutil.Namespace(ctx, t, s.cl, name, map[string]string{"e2e.nghttpx.dev/suite": "ingress"}, func() { s.diagnose(t, name) })
	return name
}

func (s *suite) create(ctx context.Context, t *testing.T, objs ...client.Object) {
	t.Helper()
	e2eutil.Create(ctx, t, s.cl, objs...)
}

// echoDeployment runs echo-basic with a readiness probe; its pods are named
// <name>-... and report their name and namespace.
func echoDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	fieldEnv := func(n, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "echo",
					Image: echoImage,
					Env:   []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NAMESPACE", "metadata.namespace")},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}, {Name: "h2c", ContainerPort: 3001}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
}

// service exposes the pods of Deployment app on port 80 -> targetPort.
func service(ns, name, app string, targetPort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(targetPort)}},
		},
	}
}

// path is an Ingress path to Service svc port 80.
func path(p string, typ networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(typ), Backend: networkingv1.IngressBackend{
		Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}},
	}}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths},
	}}
}

func newIngress(ns, name string, annotations map[string]string, rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       networkingv1.IngressSpec{IngressClassName: ptr.To(ingressClass), Rules: rules},
	}
}

// waitDeployment waits until the Deployment has replicas ready, updated pods.
func (s *suite) waitDeployment(ctx context.Context, t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	var d appsv1.Deployment
	err := e2eutil.Poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s: want %d ready replicas; status %+v", ns, name, replicas, d.Status)
	}
}

// waitIngressAddress waits until the Ingress's status carries an address and
// returns it.
func (s *suite) waitIngressAddress(ctx context.Context, t *testing.T, ns, name string) string {
	t.Helper()
	var ing networkingv1.Ingress
	err := e2eutil.Poll(ctx, statusTimeout, func(ctx context.Context) (bool, error) {
		if err := s.cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ing); err != nil {
			return false, nil
		}
		return len(ing.Status.LoadBalancer.Ingress) > 0, nil
	})
	if err != nil {
		t.Fatalf("Ingress %s/%s has no address in its status after %s", ns, name, statusTimeout)
	}
	a := ing.Status.LoadBalancer.Ingress[0]
	return a.IP + a.Hostname
}

// echoResponse is what echo-basic answers.
type echoResponse struct {
	Path      string `json:"path"`
	Host      string `json:"host"`
	Proto     string `json:"proto"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
}

// answer is one HTTP exchange; echo is nil unless the body is echo JSON.
type answer struct {
	status int
	header http.Header
	body   string
	echo   *echoResponse
	tls    *tls.ConnectionState
}

func (a answer) String() string { return fmt.Sprintf("status %d: %.200s", a.status, a.body) }

// client sends requests from inside the cluster network namespace (never from the
// host's), does not follow redirects, and verifies TLS against roots with the
// request's host as SNI.
func (s *suite) client(tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: s.c.DialContext, TLSClientConfig: tlsConf, MaxIdleConnsPerHost: 4,
			DisableCompression: true},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func do(ctx context.Context, hc *http.Client, url, host string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answer{}, err
	}
	req.Host = host
	res, err := hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	a := answer{status: res.StatusCode, header: res.Header, body: string(b), tls: res.TLS}
	var e echoResponse
	if json.Unmarshal(b, &e) == nil && e.Pod != "" {
		a.echo = &e
	}
	return a, nil
}

// get sends one GET over a fresh connection.
func (s *suite) get(ctx context.Context, url, host string, tlsConf *tls.Config) (answer, error) {
	hc := s.client(tlsConf)
	defer hc.CloseIdleConnections()
	return do(ctx, hc, url, host)
}

// waitAnswer polls url (with Host host) until ok accepts the answer.
func (s *suite) waitAnswer(ctx context.Context, t *testing.T, url, host string, tlsConf *tls.Config, what string, ok func(answer) bool) answer {
	t.Helper()
	var last string
	var got answer
	err := e2eutil.Poll(ctx, trafficTimeout, func(ctx context.Context) (bool, error) {
		a, err := s.get(ctx, url, host, tlsConf)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		got, last = a, a.String()
		return ok(a), nil
	})
	if err != nil {
		t.Fatalf("%s (Host %s): %s not seen within %s; last answer: %s", url, host, what, trafficTimeout, last)
	}
	return got
}

// diagnose saves Ingresses, events, pods and the controller's and data plane's
// logs under the artifacts directory; log tails go to the test log.
func (s *suite) diagnose(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := e2eutil.NewDiag(s.artifacts, t.Name(), s.cs, t.Logf)
	if err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	if l, err := s.cs.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{}); err == nil {
		d.SaveYAML("ingresses.yaml", l.Items)
	}
	for _, n := range []string{ns, systemNS} {
		d.SaveEvents(ctx, n)
		pods, err := d.SavePods(ctx, n)
		if err != nil || n != systemNS {
			continue
		}
		for i := range pods {
			d.SaveLogs(ctx, &pods[i])
		}
	}
	t.Logf("diagnostics saved in %s", d.Dir)
}
