package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/controller"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// proxyImage is the default data-plane image: this build's version of our image.
func proxyImage() string {
	tag := version
	if tag == "" || tag == "dev" {
		tag = "latest"
	}
	return "ghcr.io/nghttpx-gateway/nghttpx-gateway:" + tag
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return serve(ctx, "serve", args, stdout, stderr, nil)
}

// serve is serve's flags and start; defaults replace flag defaults first (the
// original invocation, original.go).
func serve(ctx context.Context, name string, args []string, stdout, stderr io.Writer, defaults []flagDefault) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)")
	controllerName := fs.String("controller-name", translate.DefaultControllerName, "GatewayClass controllerName this controller serves")
	namespace := fs.String("namespace", envOr("POD_NAMESPACE", "nghttpx-gateway-system"), "namespace of the controller's own objects, such as the leader election Lease ($POD_NAMESPACE when set)")
	leaderElect := fs.Bool("leader-elect", true, "elect a leader on a Lease; only the leader provisions and writes status")
	leaseNS := fs.String("leader-election-namespace", "", "namespace of the leader election Lease (default: --namespace)")
	leaseID := fs.String("leader-election-id", "nghttpx-gateway-controller", "name of the leader election Lease")
	image := fs.String("proxy-image", proxyImage(), "image of the data-plane Deployments (it runs the proxy command)")
	pullPolicy := fs.String("proxy-image-pull-policy", string(corev1.PullIfNotPresent), "imagePullPolicy of the data-plane containers")
	serviceType := fs.String("service-type", string(corev1.ServiceTypeLoadBalancer), "type of the data-plane Services: LoadBalancer, NodePort or ClusterIP")
	http3 := fs.Bool("http3", true, "serve HTTP/3 on HTTPS listeners (UDP Service ports; proxies use it when their nghttpx can)")
	adminPort := fs.Int("admin-port", provision.DefaultAdminPort, "data-plane admin port (/readyz, /status)")
	proxyRole := fs.String("proxy-cluster-role", provision.ProxyClusterRole, "ClusterRole granted to every data-plane ServiceAccount")
	metricsAddr := fs.String("metrics-addr", ":8080", "bind address of the Prometheus metrics endpoint (0 disables)")
	healthAddr := fs.String("health-addr", ":8081", "bind address of /healthz and /readyz (0 disables)")
	// kubebuilder's names for the same two settings.
	fs.StringVar(metricsAddr, "metrics-bind-address", *metricsAddr, "alias of --metrics-addr")
	fs.StringVar(healthAddr, "health-probe-bind-address", *healthAddr, "alias of --health-addr")
	var lf logFlags
	lf.register(fs)
	var kf kubeFlags
	kf.register(fs)
	// The Ingress front-end: the original nghttpx Ingress controller's flags.
	serveIngress := fs.Bool("serve-ingress", true,
		"also serve Ingresses of the IngressClasses whose controller is --ingress-class-controller (drop-in for the nghttpx Ingress controller)")
	dataPlaneMode := fs.String("ingress-data-plane", dataPlaneProvisioned,
		"where the Ingress front-end's nghttpx runs: provisioned (a Deployment and Service per IngressClass) or in-pod (inside this pod, on its network, "+
			"serving every IngressClass of ours on --nghttpx-http-port/--nghttpx-https-port, as the original controller does; the default when run as "+originalProgramName+")")
	ingressNS := fs.String("ingress-namespace", "",
		"namespace of the Ingress front-end's Gateways and their data planes (default: --namespace)")
	publish := fs.String("publish-service", "",
		"namespace/name of a Service whose load-balancer addresses (and external IPs) Ingress status shows instead of the data plane's")
	var leaseDur, renew, retryPeriod time.Duration
	fs.DurationVar(&leaseDur, "leader-elect-lease-duration", 0, "leader election lease duration (default 15s)")
	fs.DurationVar(&renew, "leader-elect-renew-deadline", 0, "leader election renew deadline (default 10s)")
	fs.DurationVar(&retryPeriod, "leader-elect-retry-period", 0, "leader election retry period (default 2s)")
	fs.StringVar(leaseID, "leader-elect-resource-name", *leaseID, "alias of --leader-election-id")
	quicRotation := fs.Duration("quic-key-rotation-period", controller.DefaultQUICKeyRotation,
		"rotation period of each Gateway's shared QUIC keying material (Secret <gateway>-nghttpx-keys); a new key is announced one period before it encrypts; 0: never rotate")
	ticketRotation := fs.Duration("tls-ticket-key-rotation-period", controller.DefaultTicketKeyRotation,
		"rotation period of each Gateway's shared TLS session ticket keys (same Secret); 0: never rotate")
	// client-go's 5/s (burst 10) made status for 1000 new routes take 3 minutes.
	// The original Ingress controller's names for the same periods.
	fs.DurationVar(quicRotation, "quic-secret-period", *quicRotation, "alias of --quic-key-rotation-period (the original Ingress controller's name)")
	fs.DurationVar(ticketRotation, "tls-ticket-key-period", *ticketRotation, "alias of --tls-ticket-key-rotation-period (the original Ingress controller's name)")
	fs.StringVar(controllerName, "gateway-class-controller", *controllerName, "alias of --controller-name (the original Ingress controller's name)")
	nghttpxSecret := fs.String("nghttpx-secret", "",
		"[namespace/]name of the original nghttpx Ingress controller's keys Secret (its --nghttpx-secret, there nghttpx-km by default): "+
			"the leader keeps it in that controller's format and the Ingress data planes take their QUIC and TLS ticket keys from it, "+
			"so pods of both controllers share keys during a rolling replacement (docs/migrating-keys.md); empty: Ingress data planes keep their own keys")
	qps := fs.Float64("client-qps", 50, "API server requests per second (0: client-go's default of 5)")
	burst := fs.Int("client-burst", 100, "API server request burst (0: client-go's default of 10)")
	var ocspF ocspFlags
	ocspF.register(fs)
	var hp healthPortFlags
	hp.register(fs)
	var ing ingressFlags
	ing.register(fs, true)
	if err := applyDefaults(fs, defaults); err != nil {
		return err
	}
	parse := fs.Parse
	var ignored []string
	if defaults != nil { // the original's command-line syntax
		parse = func(args []string) (err error) {
			ignored, err = parseOriginal(fs, args)
			return err
		}
	}
	if err := parse(args); err != nil {
		return err
	}
	healthzAddr, err := hp.addr()
	if err != nil {
		return err
	}
	shim, err := ing.options()
	if err != nil {
		return err
	}
	inPodMode, err := parseIngressDataPlane(*dataPlaneMode)
	if err != nil {
		return err
	}
	if inPodMode && !*serveIngress {
		return fmt.Errorf("--ingress-data-plane=%s needs the Ingress front-end (--serve-ingress)", dataPlaneInPod)
	}
	if inPodMode {
		shim.OneGateway = true
	} else {
		ing.warnings = append(ing.warnings, ing.provisionedWarnings(fs)...)
	}
	if err := checkDeferredShutdown(shim.DeferredShutdownPeriod); err != nil {
		return err
	}
	if ing.workers < 0 || ing.workers > translate.MaxWorkers {
		return fmt.Errorf("--nghttpx-workers: %d is not from 0 to %d", ing.workers, translate.MaxWorkers)
	}
	if err := ocspF.validate(); err != nil {
		return err
	}
	var publishKey types.NamespacedName
	if *publish != "" {
		ns, name, ok := strings.Cut(*publish, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("--publish-service %q is not of the form namespace/name", *publish)
		}
		publishKey = types.NamespacedName{Namespace: ns, Name: name}
	}
	var st corev1.ServiceType
	switch strings.ToLower(*serviceType) {
	case "loadbalancer":
		st = corev1.ServiceTypeLoadBalancer
	case "nodeport":
		st = corev1.ServiceTypeNodePort
	case "clusterip":
		st = corev1.ServiceTypeClusterIP
	default:
		return fmt.Errorf("--service-type %q: want LoadBalancer, NodePort or ClusterIP", *serviceType)
	}
	if *quicRotation < 0 || *ticketRotation < 0 {
		return fmt.Errorf("key rotation periods must not be negative (0 disables rotation)")
	}
	if *leaseNS == "" {
		*leaseNS = *namespace
	}
	origKeys, err := parseNghttpxSecret(*nghttpxSecret, *namespace)
	if err != nil {
		return err
	}
	if origKeys.Name != "" && !*serveIngress {
		return fmt.Errorf("--nghttpx-secret needs the Ingress front-end (--serve-ingress): only Ingress data planes share the original controller's keys")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	ctrllog.SetLogger(log)
	klog.SetLogger(log)
	for _, w := range ing.warnings {
		log.Info("warning: " + w)
	}
	if defaults != nil {
		log.Info("running as the original "+originalProgramName+": the original's defaults apply where no flag is given", defaultsKV(defaults)...)
		if len(ignored) > 0 {
			log.Info("warning: arguments that are not flags are ignored, as the original ignores them", "arguments", ignored)
		}
	}
	cfg, err := kf.restConfig(*kubeconfig, "nghttpx-gateway-controller/"+version)
	if err != nil {
		return err
	}
	if *qps > 0 {
		cfg.QPS = float32(*qps)
	}
	if *burst > 0 {
		cfg.Burst = *burst
	}
	proxyArgs := append(lf.args(), ocspF.proxyArgs()...)
	var ingress *controller.IngressOptions
	if *serveIngress {
		shim.Namespace = *ingressNS
		if shim.Namespace == "" {
			shim.Namespace = *namespace
		}
		ingress = &controller.IngressOptions{Shim: shim, ProxyProtocol: ing.proxyProto, PublishService: publishKey}
	}
	var inPod *controller.InPodOptions
	if inPodMode {
		inPod, err = newInPod(ctx, inPodConfig{cfg: cfg, controllerName: *controllerName, shim: shim, ing: &ing, http3: *http3, ocsp: &ocspF, origKeys: origKeys, healthzAddr: healthzAddr, stdout: stdout, log: log})
		if err != nil {
			return err
		}
	}
	log.Info("starting controller", "version", version, "controllerName", *controllerName, "proxyImage", *image, "serviceType", st,
		"ingress", *serveIngress, "ingressClassController", shim.IngressClassController, "ingressNamespace", shim.Namespace)
	return controller.Run(ctx, cfg, controller.Options{
		ControllerName:   *controllerName,
		Namespace:        *leaseNS,
		LeaderElect:      *leaderElect,
		LeaderElectionID: *leaseID,
		LeaseDuration:    leaseDur,
		RenewDeadline:    renew,
		RetryPeriod:      retryPeriod,
		MetricsAddr:      *metricsAddr,
		HealthAddr:       *healthAddr,
		HealthzAddr:      healthzAddr,
		Profiling:        hp.profiling,
		Provision: provision.Options{
			Image:            *image,
			ImagePullPolicy:  corev1.PullPolicy(*pullPolicy),
			ServiceType:      st,
			HTTP3:            *http3,
			AdminPort:        int32(*adminPort),
			ProxyArgs:        proxyArgs,
			ProxyClusterRole: *proxyRole,
			IngressArgs:      ingressProxyArgs(shim, ing.proxyProto, ing.workers),
		},
		Ingress:       ingress,
		InPod:         inPod,
		OCSP:          ocspF.options(true),
		KeyRotation:   keys.Periods{QUIC: *quicRotation, Tickets: *ticketRotation},
		NghttpxSecret: origKeys,
		Version:       version,
		Log:           log,
	})
}

// parseNghttpxSecret reads --nghttpx-secret: "name" (in the controller's
// namespace, as the original resolves it) or "namespace/name"; empty is off.
func parseNghttpxSecret(v, namespace string) (types.NamespacedName, error) {
	if v == "" {
		return types.NamespacedName{}, nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok {
		ns, name = namespace, v
	}
	if errs := validation.IsDNS1123Subdomain(name); ns == "" || name == "" || len(errs) != 0 || len(validation.IsDNS1123Label(ns)) != 0 {
		return types.NamespacedName{}, fmt.Errorf("--nghttpx-secret %q: want a Secret name or namespace/name", v)
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}
