package provision

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/nghttpx"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Defaults of Options.
const (
	DefaultImage     = "ghcr.io/nghttpx-gateway/nghttpx-gateway:latest"
	DefaultAdminPort = settings.DefaultAdminPort
	// StateDir is where the proxy keeps nghttpx's files: an emptyDir per pod.
	StateDir = settings.ProxyStateDir
	// DrainSeconds is the proxy's --drain-period; the pod's grace period covers
	// it plus nghttpx's own graceful stop.
	DrainSeconds       = 5
	terminationSeconds = 60
	// ProxyClusterRole is the proxies' read-only ClusterRole (config/rbac).
	ProxyClusterRole = "nghttpx-gateway-proxy"
)

// Options shape the provisioned objects.
type Options struct {
	// Image runs `nghttpx-gateway proxy` (default DefaultImage).
	Image           string
	ImagePullPolicy corev1.PullPolicy
	// ServiceType of the data-plane Services (default LoadBalancer).
	ServiceType corev1.ServiceType
	// ControllerName is passed to the proxies (default translate.DefaultControllerName).
	ControllerName string
	// AdminPort serves /readyz, /healthz and /status in each proxy (default 9901).
	AdminPort int32
	// HTTP3 also exposes HTTPS listener ports over UDP and tells proxies to serve QUIC.
	HTTP3 bool
	// ProxyArgs are appended to every proxy's arguments (for example -v).
	ProxyArgs []string
	// ProxyClusterRole is bound to every provisioned ServiceAccount (default
	// ProxyClusterRole); ProxyBinding names that ClusterRoleBinding (default the
	// same name).
	ProxyClusterRole, ProxyBinding string
	// IngressArgs are appended to the proxy arguments of the Ingress shim's
	// synthetic Gateways (the Ingress controller's flags), after --ingress.
	IngressArgs []string
	// Settings returns a Gateway's resolved settings (GatewayClass parameters and
	// annotations, from its model); nil, or a nil result, means none. Its HTTP3
	// overrides the HTTP3 field above for that Gateway.
	Settings func(namespace, name string) *model.Settings

	// ingress is set (by ForIngress) for a synthetic Gateway of the Ingress shim.
	ingress *ingressTarget
}

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.ImagePullPolicy == "" {
		o.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if o.ServiceType == "" {
		o.ServiceType = corev1.ServiceTypeLoadBalancer
	}
	if o.ControllerName == "" {
		o.ControllerName = translate.DefaultControllerName
	}
	if o.AdminPort == 0 {
		o.AdminPort = DefaultAdminPort
	}
	if o.ProxyClusterRole == "" {
		o.ProxyClusterRole = ProxyClusterRole
	}
	if o.ProxyBinding == "" {
		o.ProxyBinding = o.ProxyClusterRole
	}
	return o
}

// metadata returns the labels and annotations of every provisioned object: the
// Gateway's spec.infrastructure ones, then ours (ours win).
func metadata(gw *gatewayv1.Gateway, opts Options) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	if inf := gw.Spec.Infrastructure; inf != nil {
		for k, v := range inf.Labels {
			labels[string(k)] = string(v)
		}
		for k, v := range inf.Annotations {
			annotations[string(k)] = string(v)
		}
	}
	maps.Copy(labels, SelectorLabels(gw.Namespace, gw.Name))
	// GEP-1762: data-plane objects carry the standard label naming their Gateway.
	labels[LabelStandardGatewayName] = gw.Name
	labels[LabelManagedBy] = ManagedBy
	if opts.ingress != nil {
		labels[LabelIngress] = "true"
		annotations[AnnotationIngressGateway] = gw.Name
	}
	return labels, annotations
}

// owners are the owner references of a Gateway's objects: the Gateway, or for a
// synthetic Gateway of the Ingress shim its IngressClass (see ForIngress).
func owners(gw *gatewayv1.Gateway, opts Options) []*metav1ac.OwnerReferenceApplyConfiguration {
	if opts.ingress != nil {
		return opts.ingress.owners()
	}
	return []*metav1ac.OwnerReferenceApplyConfiguration{ownerRef(gw)}
}

func ownerRef(gw *gatewayv1.Gateway) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(gatewayv1.GroupVersion.String()).
		WithKind("Gateway").
		WithName(gw.Name).
		WithUID(gw.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// ServiceAccount is the identity of a Gateway's proxies.
func ServiceAccount(gw *gatewayv1.Gateway, opts Options) *corev1ac.ServiceAccountApplyConfiguration {
	l, a := metadata(gw, opts)
	sa := corev1ac.ServiceAccount(Name(gw.Name), gw.Namespace).
		WithLabels(l).
		WithOwnerReferences(owners(gw, opts)...)
	if len(a) > 0 {
		sa.WithAnnotations(a)
	}
	return sa
}

// listenerPorts returns the Gateway's distinct listener ports, sorted, and which
// of them carry HTTPS.
func listenerPorts(gw *gatewayv1.Gateway) ([]int32, map[int32]bool) {
	var ports []int32
	https := map[int32]bool{}
	for _, l := range gw.Spec.Listeners {
		p := int32(l.Port)
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
		if l.Protocol == gatewayv1.HTTPSProtocolType {
			https[p] = true
		}
	}
	slices.Sort(ports)
	return ports, https
}

// ProxyArgs are the arguments of a Gateway's proxy container.
func ProxyArgs(gw *gatewayv1.Gateway, opts Options) []string {
	opts = opts.withDefaults()
	args := []string{
		"proxy",
		"--gateway-namespace=" + gw.Namespace,
		"--gateway-name=" + gw.Name,
		"--controller-name=" + opts.ControllerName,
	}
	// The proxy parses these back into the same settings (dataplane/settings).
	args = append(args, dataPlaneOf(gw, opts).Args()...)
	if opts.ingress != nil {
		args = append(args, "--ingress")
		args = append(args, opts.IngressArgs...)
	}
	return append(args, opts.ProxyArgs...)
}

// Deployment runs the proxies of a Gateway. It leaves replicas unset so that
// scaling by hand or by an autoscaler sticks (the API server defaults it to 1).
func Deployment(gw *gatewayv1.Gateway, opts Options) *appsv1ac.DeploymentApplyConfiguration {
	opts = opts.withDefaults()
	l, a := metadata(gw, opts)
	ports, https := listenerPorts(gw)
	dp := dataPlaneOf(gw, opts)
	c := corev1ac.Container().
		WithName("proxy").
		WithImage(opts.Image).
		WithImagePullPolicy(opts.ImagePullPolicy).
		WithArgs(ProxyArgs(gw, opts)...).
		WithEnv(
			corev1ac.EnvVar().WithName("POD_NAME").WithValueFrom(corev1ac.EnvVarSource().
				WithFieldRef(corev1ac.ObjectFieldSelector().WithAPIVersion("v1").WithFieldPath("metadata.name"))),
			corev1ac.EnvVar().WithName("POD_NAMESPACE").WithValueFrom(corev1ac.EnvVarSource().
				WithFieldRef(corev1ac.ObjectFieldSelector().WithAPIVersion("v1").WithFieldPath("metadata.namespace"))),
			// The root file system is read-only: scratch files (the nghttpx feature
			// probe's) go to the state volume.
			corev1ac.EnvVar().WithName("TMPDIR").WithValue(StateDir),
		).
		WithPorts(corev1ac.ContainerPort().WithName("admin").WithContainerPort(opts.AdminPort).WithProtocol(corev1.ProtocolTCP)).
		WithReadinessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/readyz").WithPort(intstr.FromString("admin"))).
			WithPeriodSeconds(1).WithFailureThreshold(1).WithSuccessThreshold(1).WithTimeoutSeconds(1)).
		WithLivenessProbe(corev1ac.Probe().
			WithHTTPGet(corev1ac.HTTPGetAction().WithPath("/healthz").WithPort(intstr.FromString("admin"))).
			WithPeriodSeconds(10).WithFailureThreshold(3).WithTimeoutSeconds(5).
			// A hung proxy ignores SIGTERM: kill it after 10 s, not the pod's drain grace.
			WithTerminationGracePeriodSeconds(10)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName("state").WithMountPath(StateDir)).
		// Fits the "restricted" Pod Security Standard unless the class asks for
		// eBPF QUIC steering (capabilities.go); without those capabilities the
		// proxy detects that and renders no-quic-bpf.
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(dp.allowPrivilegeEscalation()).
			WithReadOnlyRootFilesystem(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL").WithAdd(dp.capabilities()...)))
	if bin := dp.nghttpxBinary(); bin != "" {
		// The image's NGHTTPX_BIN overridden, not --nghttpx: a local pod runner's own
		// NGHTTPX_BIN (added after the container's env) still wins.
		c.WithEnv(corev1ac.EnvVar().WithName(nghttpx.EnvBinary).WithValue(bin))
	}
	for _, p := range ports {
		c.WithPorts(corev1ac.ContainerPort().WithName(portName("tcp", p)).WithContainerPort(p).WithProtocol(corev1.ProtocolTCP))
		if dp.HTTP3 && https[p] {
			c.WithPorts(corev1ac.ContainerPort().WithName(portName("udp", p)).WithContainerPort(p).WithProtocol(corev1.ProtocolUDP))
		}
	}
	tmpl := corev1ac.PodTemplateSpec().
		WithLabels(l).
		WithSpec(corev1ac.PodSpec().
			WithServiceAccountName(Name(gw.Name)).
			WithAutomountServiceAccountToken(true).
			WithTerminationGracePeriodSeconds(terminationSeconds).
			// Listener ports below 1024 without root or capabilities.
			WithSecurityContext(corev1ac.PodSecurityContext().
				WithRunAsNonRoot(true).
				WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)).
				WithSysctls(corev1ac.Sysctl().WithName("net.ipv4.ip_unprivileged_port_start").WithValue("0"))).
			WithContainers(c).
			WithVolumes(corev1ac.Volume().WithName("state").WithEmptyDir(corev1ac.EmptyDirVolumeSource())))
	tmpl.WithAnnotations(scrapeAnnotations(a, opts.AdminPort))
	d := appsv1ac.Deployment(Name(gw.Name), gw.Namespace).
		WithLabels(l).
		WithOwnerReferences(owners(gw, opts)...).
		WithSpec(appsv1ac.DeploymentSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(gw.Namespace, gw.Name))).
			WithTemplate(tmpl))
	if len(a) > 0 {
		d.WithAnnotations(a)
	}
	return d
}

// portName is unique per protocol and port and at most 15 characters.
func portName(proto string, port int32) string {
	return fmt.Sprintf("%s-%d", proto, port)
}

// Service exposes a Gateway's listener ports (TCP; HTTPS ports also over UDP
// when HTTP/3 is on) on its proxies; a LoadBalancer Service asks for the
// Gateway's first static address (RequestedAddress).
func Service(gw *gatewayv1.Gateway, opts Options) *corev1ac.ServiceApplyConfiguration {
	opts = opts.withDefaults()
	l, a := metadata(gw, opts)
	ports, https := listenerPorts(gw)
	spec := corev1ac.ServiceSpec().
		WithType(opts.ServiceType).
		WithSelector(SelectorLabels(gw.Namespace, gw.Name))
	// Static addresses: only a load balancer can be asked for one.
	if ip := RequestedAddress(gw); ip != "" && opts.ServiceType == corev1.ServiceTypeLoadBalancer {
		spec.WithLoadBalancerIP(ip)
	}
	for _, p := range ports {
		spec.WithPorts(corev1ac.ServicePort().WithName(portName("tcp", p)).WithProtocol(corev1.ProtocolTCP).
			WithPort(p).WithTargetPort(intstr.FromInt32(p)))
		if dataPlaneOf(gw, opts).HTTP3 && https[p] {
			spec.WithPorts(corev1ac.ServicePort().WithName(portName("udp", p)).WithProtocol(corev1.ProtocolUDP).
				WithPort(p).WithTargetPort(intstr.FromInt32(p)))
		}
	}
	s := corev1ac.Service(Name(gw.Name), gw.Namespace).
		WithLabels(l).
		WithOwnerReferences(owners(gw, opts)...).
		WithSpec(spec)
	if len(a) > 0 {
		s.WithAnnotations(a)
	}
	return s
}

// scrapeAnnotations are the pod template's annotations: a and, unless the
// Gateway's infrastructure sets them, the prometheus.io ones that point a
// Prometheus using the common pod discovery at the proxy's /metrics.
func scrapeAnnotations(a map[string]string, adminPort int32) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(int(adminPort)), "prometheus.io/path": "/metrics"} {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	return out
}
