package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/features"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/cpulimit"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/controller"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/proxyagent"
)

// Values of --ingress-data-plane.
const (
	dataPlaneProvisioned = "provisioned"
	dataPlaneInPod       = "in-pod"
)

// The original's defaults of the flags the in-pod data plane gives back their
// meaning.
const (
	originalConfDir  = "/etc/nghttpx"
	originalExecPath = "/usr/local/bin/nghttpx"
)

// parseIngressDataPlane reads --ingress-data-plane.
func parseIngressDataPlane(v string) (inPod bool, err error) {
	switch v {
	case dataPlaneProvisioned:
		return false, nil
	case dataPlaneInPod:
		return true, nil
	}
	return false, fmt.Errorf("--ingress-data-plane %q: want %s or %s", v, dataPlaneProvisioned, dataPlaneInPod)
}

// inPodConfig is what the in-pod data plane is made of.
type inPodConfig struct {
	cfg            *rest.Config
	controllerName string
	shim           ingressshim.Options // Namespace set, OneGateway
	ing            *ingressFlags       // parsed: ports, workers, the in-pod flags
	http3          bool
	ocsp           *ocspFlags
	origKeys       types.NamespacedName
	healthzAddr    string
	stdout         io.Writer
	log            logr.Logger
}

// newInPod makes the in-pod data plane: a proxyagent.Fed for the shim's one
// Gateway, with nghttpx from --nghttpx-exec-path, its files under
// --nghttpx-conf-dir, access log lines on stdout and its metrics beside the
// controller's.
func newInPod(ctx context.Context, c inPodConfig) (*controller.InPodOptions, error) {
	log := c.log.WithName("in-pod")
	bin := c.ing.execPath
	if _, err := os.Stat(bin); err != nil {
		// The image keeps nghttpx where the original's does; elsewhere look.
		log.Info("--nghttpx-exec-path not found; looking for nghttpx", "path", bin, "error", err.Error())
		bin = ""
	} else if bin == originalExecPath && !features.CanBindPrivileged(bin) && features.CanBindPrivileged(originalExecPath+"-bpf") {
		// On a node's network ports 80/443 need CAP_NET_BIND_SERVICE, which only
		// the image's nghttpx-bpf gets (file capabilities; the original's
		// manifests add it with BPF and PERFMON to the bounding set).
		log.Info("using nghttpx-bpf: it may bind ports below 1024 here, plain nghttpx may not", "path", originalExecPath+"-bpf")
		bin = originalExecPath + "-bpf"
	}
	dp, err := prepareDataPlane(ctx, log, bin, c.ing.confDir,
		" (in-pod mode runs the image's nghttpx: check --nghttpx-exec-path)")
	if err != nil {
		return nil, fmt.Errorf("in-pod data plane: %w (--nghttpx-conf-dir must be writable: the original's manifests mount an emptyDir at %s)", err, originalConfDir)
	}
	ro := settings.Settings{Workers: c.ing.workers, HTTP3: c.http3}.RenderOptions(render.Options{Features: dp.render, Workers: cpulimit.CPUs()})
	sink, stats, err := registerDataPlaneMetrics(metrics.Registry, dp, c.stdout, log)
	if err != nil {
		return nil, err
	}
	ocspOpts, err := c.ocsp.setup(log, dp, &ro)
	if err != nil {
		return nil, err
	}
	name := c.shim.DefaultGatewayName
	if name == "" {
		name = ingressshim.DefaultGatewayName
	}
	gw := types.NamespacedName{Namespace: c.shim.Namespace, Name: name}
	shim := c.shim
	fed, err := proxyagent.NewFed(proxyagent.Options{
		Gateway:        gw,
		ControllerName: c.controllerName,
		// Not served: the controller's health port asks the agent instead; a
		// listener may not take the port.
		AdminAddr:     c.healthzAddr,
		StateDir:      dp.stateDir,
		Render:        ro,
		OCSP:          ocspOpts,
		Features:      &dp.feat,
		AccessLog:     sink,
		Stats:         stats,
		Ingress:       &shim,
		ProxyProtocol: c.ing.proxyProto,
		KeysSecret:    provision.KeysName(gw.Name),
		NghttpxSecret: c.origKeys,
		Log:           log,
		NewDataPlane:  instance.Nghttpx(dp.bin, log.WithName("nghttpx"), apply.Options{}),
	})
	if err != nil {
		return nil, err
	}
	o := &controller.InPodOptions{DataPlane: fed, Gateway: gw, AllowInternalIP: c.ing.allowInternalIP,
		Pod: types.NamespacedName{Namespace: os.Getenv("POD_NAMESPACE"), Name: os.Getenv("POD_NAME")}}
	if o.Pod.Namespace == "" || o.Pod.Name == "" {
		log.Info("warning: POD_NAMESPACE or POD_NAME is not set: Ingress status shows no node address unless --publish-service is given")
	} else if o.PodLabels, err = podLabels(ctx, c.cfg, o.Pod); err != nil {
		return nil, err
	}
	log.Info("in-pod data plane: nghttpx runs in this pod", "gateway", gw.String(), "nghttpx", dp.bin, "nghttpxVersion", dp.feat.Version,
		"confDir", dp.stateDir, "http3", ro.HTTP3, "workers", ro.Workers)
	return o, nil
}

// podLabels reads this pod's labels, which select its peers for Ingress status.
func podLabels(ctx context.Context, cfg *rest.Config, pod types.NamespacedName) (map[string]string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("in-pod mode reads its own pod %s for its labels (grant get on pods, config/in-pod): %w", pod, err)
	}
	if len(p.Labels) == 0 {
		return nil, fmt.Errorf("in-pod mode: pod %s has no labels to find its peers by", pod)
	}
	return p.Labels, nil
}
