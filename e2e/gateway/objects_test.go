//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// echoImage is the conformance echo server; the local cluster maps it to echo-basic.
const echoImage = "registry.k8s.io/gateway-api/echo-basic:v1.5.1"

// echoPort is the echo Services' port (the container listens on 3000).
const echoPort = 8080

// preStopSeconds keeps a terminating echo pod serving while the data plane drops it,
// as production apps do; the grace period leaves room for it.
const preStopSeconds = 4

// namespace creates a fresh namespace for one feature and deletes it (waiting until
// it is gone, so pods and data planes do not pile up) when the feature ends. On
// failure the namespace's state and the relevant logs are saved first.
func (s *suite) namespace(ctx context.Context, t *testing.T, prefix string) string {
	t.Helper()
	return s.labeledNamespace(ctx, t, prefix, nil)
}

// labeledNamespace is namespace with extra labels (a Pod Security level, say)
// set when it is created.
func (s *suite) labeledNamespace(ctx context.Context, t *testing.T, prefix string, extra map[string]string) string {
	t.Helper()
	name := envconf.RandomName(prefix, len(prefix)+7) // prefix-xxxxxx
	labels := map[string]string{"e2e.nghttpx.dev/suite": "gateway"}
	maps.Copy(labels, extra)
	e2eutil.Namespace(ctx, t, s.cl, name, labels, func() { s.diagnose(t, name) })
	return name
}

func (s *suite) create(ctx context.Context, t *testing.T, objs ...client.Object) {
	t.Helper()
	e2eutil.Create(ctx, t, s.cl, objs...)
}

// echoApp is an echo Deployment (readiness probe, preStop delay) and its Service.
func echoApp(ns, name string, replicas int32) (*appsv1.Deployment, *corev1.Service) {
	labels := map[string]string{"app": name}
	fieldEnv := func(n, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](preStopSeconds + 10),
					Containers: []corev1.Container{{
						Name:  "echo",
						Image: echoImage,
						Env: []corev1.EnvVar{
							fieldEnv("POD_NAME", "metadata.name"),
							fieldEnv("NAMESPACE", "metadata.namespace"),
						},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(3000)}},
							PeriodSeconds: 1,
						},
						Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
							Sleep: &corev1.SleepAction{Seconds: preStopSeconds},
						}},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: echoPort, TargetPort: intstr.FromInt32(3000)}},
		},
	}
	return d, svc
}

func newGateway(ns, name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: className,
			Listeners: []gatewayv1.Listener{{
				Name:     "http",
				Protocol: gatewayv1.HTTPProtocolType,
				Port:     80,
			}},
		},
	}
}

// httpsListener is the HTTPS listener on 443 terminating TLS with the
// certificate in Secret cert.
func httpsListener(cert string) gatewayv1.Listener {
	return gatewayv1.Listener{
		Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate),
			CertificateRefs: []gatewayv1.SecretObjectReference{{Name: gatewayv1.ObjectName(cert)}}},
	}
}

// scaleDataPlane sets the replicas of Gateway gw's data plane (left to users by
// the provisioner) and waits until that many are ready.
func (s *suite) scaleDataPlane(ctx context.Context, t *testing.T, ns, gw string, replicas int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scl, err := s.cs.AppsV1().Deployments(ns).GetScale(ctx, dataPlaneName(gw), metav1.GetOptions{})
		if err != nil {
			return err
		}
		scl.Spec.Replicas = replicas
		_, err = s.cs.AppsV1().Deployments(ns).UpdateScale(ctx, dataPlaneName(gw), scl, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scale the data plane: %v", err)
	}
	s.waitDeployment(ctx, t, ns, dataPlaneName(gw), replicas, 2*time.Minute)
}

// rule sends requests whose path starts with prefix to the echo Service backend.
func rule(prefix, backend string, filters ...gatewayv1.HTTPRouteFilter) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
			Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(prefix),
		}}},
		Filters: filters,
		BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(backend), Port: ptr.To(gatewayv1.PortNumber(echoPort)),
		}}}},
	}
}

// addHeader is a RequestHeaderModifier filter that sets name: value.
func addHeader(name, value string) gatewayv1.HTTPRouteFilter {
	return gatewayv1.HTTPRouteFilter{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: gatewayv1.HTTPHeaderName(name), Value: value}},
		},
	}
}

func newRoute(ns, name, gateway, hostname string, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gateway)}}},
			Rules:           rules,
		},
	}
	if hostname != "" {
		r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(hostname)}
	}
	return r
}

// dataPlaneName is the name of a Gateway's provisioned ServiceAccount, Deployment
// and Service (names this short need no hash truncation).
func dataPlaneName(gateway string) string { return gateway + "-nghttpx" }

func dataPlaneSelector(ns, gateway string) string {
	return fmt.Sprintf("gateway.nghttpx.dev/gateway-name=%s,gateway.nghttpx.dev/gateway-namespace=%s", gateway, ns)
}
