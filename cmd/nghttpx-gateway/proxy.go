package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/cpulimit"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/proxyagent"
)

func proxyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)")
	gwNamespace := fs.String("gateway-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the Gateway to serve ($POD_NAMESPACE when set)")
	gwName := fs.String("gateway-name", "", "name of the Gateway to serve (required)")
	controllerName := fs.String("controller-name", translate.DefaultControllerName, "GatewayClass controllerName of the Gateway")
	binary := fs.String("nghttpx", "", "nghttpx binary (default: $NGHTTPX_BIN, then the one make nghttpx built, then PATH)")
	// The data-plane settings, as kube/provision passes them (settings.Args):
	// --admin-port, --state-dir, --http3, --drain-period, --workers,
	// --proxy-proto, --quic-require-token. Before the Ingress flags, which then
	// leave --proxy-proto to them.
	st := settings.Proxy()
	st.Flags(fs, true)
	var lf logFlags
	lf.register(fs)
	ingressGW := fs.Bool("ingress", false,
		"the Gateway is the Ingress front-end's Gateway of an IngressClass: run the Ingress shim with the Ingress flags below (the controller sets them)")
	nghttpxSecret := fs.String("nghttpx-secret", "",
		"namespace/name of the original nghttpx Ingress controller's keys Secret: QUIC and TLS ticket keys come from it, in that controller's format (the controller sets it)")
	var ocspF ocspFlags
	ocspF.register(fs)
	var ing ingressFlags
	ing.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The controller passes namespace/name: no default namespace here.
	origKeys, err := parseNghttpxSecret(*nghttpxSecret, "")
	if err != nil {
		return err
	}
	if err := ocspF.validate(); err != nil {
		return err
	}
	var shim *ingressshim.Options
	if *ingressGW {
		o, err := ing.options()
		if err != nil {
			return err
		}
		// The synthetic Gateways live in the shim's namespace.
		o.Namespace = *gwNamespace
		shim = &o
	}
	if *gwName == "" || *gwNamespace == "" {
		return errors.New("--gateway-name and --gateway-namespace (or $POD_NAMESPACE) are required")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	log = log.WithValues("gateway", *gwNamespace+"/"+*gwName)
	ctrllog.SetLogger(log)
	klog.SetLogger(log)

	dp, err := prepareDataPlane(ctx, log, *binary, st.StateDir, "")
	if err != nil {
		return err
	}
	ro := st.RenderOptions(render.Options{Features: dp.render, Workers: cpulimit.CPUs()})
	// Access log lines on stdout (kubectl logs), metrics on the admin port.
	reg, sink, stats, err := dataPlaneMetrics(dp, stdout, log)
	if err != nil {
		return err
	}
	ocspOpts, err := ocspF.setup(log, dp, &ro)
	if err != nil {
		return err
	}
	cfg, err := restConfig(*kubeconfig, "nghttpx-gateway-proxy/"+version)
	if err != nil {
		return err
	}
	// Secrets and ConfigMaps are read one by name: RBAC grants the proxy only
	// those its Gateway references (kube/provision access.go).
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	gw := types.NamespacedName{Namespace: *gwNamespace, Name: *gwName}
	a, err := proxyagent.New(proxyagent.Options{
		Gateway:        gw,
		ControllerName: *controllerName,
		AdminAddr:      ":" + strconv.Itoa(st.AdminPort),
		StateDir:       dp.stateDir,
		Render:         ro,
		OCSP:           ocspOpts,
		Features:       &dp.feat,
		Metrics:        metricsHandler(reg),
		AccessLog:      sink,
		Stats:          stats,
		DrainPeriod:    st.DrainPeriod,
		Ingress:        shim,
		ProxyProtocol:  st.ProxyProtocol,
		KeysSecret:     provision.KeysName(gw.Name),
		NghttpxSecret:  origKeys,
		Clientset:      cs,
		Log:            log,
		NewDataPlane:   instance.Nghttpx(dp.bin, log.WithName("nghttpx"), apply.Options{}),
	})
	if err != nil {
		return err
	}
	c, err := proxyagent.NewCache(cfg, gw, shim, provision.KeysName(gw.Name))
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	log.Info("starting proxy agent", "version", version, "nghttpx", dp.bin, "nghttpxVersion", dp.feat.Version,
		"http3", dp.feat.HTTP3, "bpf", dp.feat.BPF, "adminPort", st.AdminPort)
	return a.Run(ctx, c)
}
