package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
)

// ingressFlags are the original nghttpx Ingress controller's flags
// (zlabjp/nghttpx-ingress-lb), with the same names and defaults, so that an existing
// Deployment's arguments keep working. Flags that no longer apply are still
// accepted, with a warning that says what replaces them. run, translate and
// convert register them without the cluster-only ones; serve will register all.
type ingressFlags struct {
	opts       ingressshim.Options
	httpPort   int
	httpsPort  int
	proxyProto bool
	// workers is --nghttpx-workers (serve only): the Ingress data planes'
	// nghttpx workers; 0: the CPUs given to their pods.
	workers int
	// The in-pod data plane's (serve only; inpod.go): --nghttpx-conf-dir,
	// --nghttpx-exec-path and --allow-internal-ip.
	confDir, execPath string
	allowInternalIP   bool
	// warnings collects what the legacy flags say when they are set.
	warnings []string
}

// flagInfo describes a flag that is accepted and ignored: whether it is a boolean,
// and what replaces it.
type flagInfo struct {
	name    string
	isBool  bool
	replace string
}

// legacyFlags are the original controller's flags that are accepted and ignored.
func legacyFlags() []flagInfo {
	return []flagInfo{
		{"ingress-class", false, "the kubernetes.io/ingress.class annotation is not supported; give Ingresses spec.ingressClassName " +
			"and create an IngressClass whose spec.controller is --ingress-class-controller"},
		{"nghttpx-conf-dir", false, "nghttpx's files are written under --state-dir (run)"},
		{"nghttpx-exec-path", false, "use --nghttpx (run)"},
		{"nghttpx-workers", false, "use --workers (run)"},
		{"nghttpx-api-port", false, "the backend API port is chosen per Gateway"},
		{"nghttpx-health-port", false, "the health port is chosen per Gateway"},
		{"healthz-port", false, "only serve has the health port"},
		{"profiling", true, "only serve has the health port, where profiling is served"},
		{"endpoint-slices", true, "EndpointSlices are always used"},
		{"reload-rate", false, "changes are batched, and route and endpoint changes never reload nghttpx"},
		{"reload-burst", false, "changes are batched, and route and endpoint changes never reload nghttpx"},
		{"reload-timeout", false, "reloads are confirmed by the data plane"},
		{"fetch-ocsp-resp-from-secret", true, "OCSP stapling is not configurable here"},
		{"ocsp-resp-key", false, "OCSP stapling is not configurable here"},
		{"http3", true, "HTTP/3 is a data-plane setting (run --http3)"},
		{"quic-keying-materials-secret", false, "HTTP/3 keying material is managed per data plane"},
		{"nghttpx-health-timeout", false, "the data plane supervises nghttpx itself"},
		{"nghttpx-worker-process-grace-shutdown-period", false, "the data plane sets the grace period"},
		{"nghttpx-max-worker-processes", false, "the data plane limits worker processes"},
		{"reconcile-timeout", false, "reconciliation is bounded by the data plane"},
		{"share-tls-ticket-key", true, "the replicas of a data plane always share TLS ticket keys (with --nghttpx-secret, the original controller's)"},
		{"stale-assets-threshold", false, "the data plane rewrites its files on every apply and keeps no stale ones"},
		{"gateway-api", true, "Gateway API is always served"},
		{"feature-gates", false, "there are no feature gates; features are detected from the nghttpx binary"},
	}
}

// clusterFlags mean something only with a cluster (serve); elsewhere they are
// accepted and ignored. serve defines the ones it supports itself before
// register, which then leaves them alone.
func clusterFlags(cluster bool) []flagInfo {
	if cluster {
		return nil // serve defines --allow-internal-ip itself (in-pod)
	}
	const why = "it has no effect without a cluster"
	return []flagInfo{
		{"kubeconfig", false, why}, {"publish-service", false, why}, {"allow-internal-ip", true, why},
		{"leader-elect-lease-duration", false, why}, {"leader-elect-renew-deadline", false, why},
		{"leader-elect-retry-period", false, why}, {"leader-elect-resource-name", false, why},
		{"client-qps", false, why}, {"client-burst", false, why},
		{"nghttpx-secret", false, why}, {"tls-ticket-key-period", false, why}, {"quic-secret-period", false, why},
	}
}

// register defines the flags on fs; cluster is false for the commands that run
// without a cluster. A name fs already defines (run's --http3) is left alone.
func (f *ingressFlags) register(fs *flag.FlagSet, cluster bool) {
	o := &f.opts
	fs.StringVar(&o.IngressClassController, "ingress-class-controller", ingressshim.DefaultIngressClassController,
		"IngressClass spec.controller served by the Ingress shim")
	fs.BoolVar(&o.RequireIngressClass, "require-ingress-class", false,
		"ignore Ingresses without spec.ingressClassName (the standard Kubernetes rule)")
	fs.StringVar(&o.DefaultTLSSecret, "default-tls-secret", "",
		"namespace/name of a TLS Secret served when no other certificate matches; cleartext requests are then redirected to HTTPS")
	fs.StringVar(&o.DefaultBackendService, "default-backend-service", "",
		"namespace/name of the Service (first port) that answers requests no Ingress matches")
	fs.BoolVar(&o.InternalDefaultBackend, "internal-default-backend", false,
		"answer requests no Ingress matches with 404 and /healthz with 200 (also used without --default-backend-service)")
	fs.BoolVar(&o.NoDefaultBackendOverride, "no-default-backend-override", false,
		"ignore Ingress defaultBackends and rules for every host and path /")
	fs.StringVar(&o.NghttpxConfigMap, "nghttpx-configmap", "",
		"namespace/name of the ConfigMap with nghttpx-conf (extra nghttpx options) and nghttpx-mruby-file-content (a global mruby script)")
	fs.IntVar(&f.httpPort, "nghttpx-http-port", ingressshim.DefaultHTTPPort, "port of the Ingress HTTP listener; 0 disables it")
	fs.IntVar(&f.httpsPort, "nghttpx-https-port", ingressshim.DefaultHTTPSPort, "port of the Ingress HTTPS listener; 0 disables it")
	if fs.Lookup("proxy-proto") == nil { // proxy: its settings.Settings flag
		fs.BoolVar(&f.proxyProto, "proxy-proto", false, "accept a PROXY protocol header on the Ingress listeners")
	}
	fs.DurationVar(&o.DeferredShutdownPeriod, "deferred-shutdown-period", 0,
		"serve /nghttpx-healthz on the Ingress listeners (every host): 200, then 503 for this long after SIGTERM while the data plane "+
			"keeps serving, so external load balancers stop sending traffic first; 0: no such path")
	fs.StringVar(&o.WatchNamespace, "watch-namespace", "", "serve only the Ingresses of this namespace (default: all)")
	if cluster {
		fs.IntVar(&f.workers, "nghttpx-workers", 0, "nghttpx worker threads of the Ingress data planes; 0: the CPUs given to each data-plane pod")
		fs.StringVar(&f.confDir, "nghttpx-conf-dir", originalConfDir, "in-pod data plane (--ingress-data-plane=in-pod): directory of nghttpx's files (the original's manifests mount an emptyDir there)")
		fs.StringVar(&f.execPath, "nghttpx-exec-path", originalExecPath, "in-pod data plane: the nghttpx binary")
		fs.BoolVar(&f.allowInternalIP, "allow-internal-ip", false, "in-pod data plane: Ingress status shows a Node's InternalIP when it has no ExternalIP")
	}
	fs.BoolVar(&o.AllowMruby, "allow-mruby", false,
		"honour the mruby key of path-config. DANGEROUS: every Ingress author can then run code inside the proxy, "+
			"which reads all traffic, every TLS private key and the proxy's ServiceAccount credentials (off by default)")
	for _, l := range append(legacyFlags(), clusterFlags(cluster)...) {
		f.legacy(fs, l)
	}
}

// provisionedWarnings are the warnings of the in-pod data plane's flags given
// to serve with provisioned data planes, where they mean nothing.
func (f *ingressFlags) provisionedWarnings(fs *flag.FlagSet) []string {
	why := map[string]string{
		"nghttpx-conf-dir":  "the data-plane pods keep their files in their own state directory (it applies with --ingress-data-plane=in-pod)",
		"nghttpx-exec-path": "the data-plane image has its own nghttpx (it applies with --ingress-data-plane=in-pod)",
		"allow-internal-ip": "Ingress status shows the data plane Service's load-balancer addresses, or those of --publish-service (it applies with --ingress-data-plane=in-pod)",
	}
	var out []string
	fs.Visit(func(fl *flag.Flag) {
		if r, ok := why[fl.Name]; ok {
			out = append(out, fmt.Sprintf("--%s is no longer supported and is ignored: %s", fl.Name, r))
		}
	})
	return out
}

func (f *ingressFlags) legacy(fs *flag.FlagSet, l flagInfo) {
	if fs.Lookup(l.name) != nil {
		return
	}
	fs.Var(&legacyValue{info: l, warnings: &f.warnings, warning: fmt.Sprintf("--%s is no longer supported and is ignored: %s", l.name, l.replace)},
		l.name, "accepted for compatibility and ignored: "+l.replace)
}

// options returns the shim's options once the flags are parsed.
func (f *ingressFlags) options() (ingressshim.Options, error) {
	o := f.opts
	for _, p := range []struct {
		flag    string
		v       int
		port    *int32
		disable *bool
	}{{"nghttpx-http-port", f.httpPort, &o.HTTPPort, &o.DisableHTTP}, {"nghttpx-https-port", f.httpsPort, &o.HTTPSPort, &o.DisableHTTPS}} {
		if p.v < 0 || p.v > 65535 {
			return o, fmt.Errorf("--%s: %d is not a port number", p.flag, p.v)
		}
		*p.port = int32(p.v)
		*p.disable = p.v == 0
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

// proxyArgs are the flags that give a proxy of a synthetic Ingress Gateway the
// shim options o (as serve parsed them): every option that changes the model, in
// canonical form, so the proxy computes exactly the controller's model.
// Namespace, GatewayClassName and ControllerName travel as the proxy's own
// --gateway-namespace and --controller-name.
func ingressProxyArgs(o ingressshim.Options, proxyProto bool, workers int) []string {
	port := func(p int32, disabled bool) string {
		if disabled {
			return "0"
		}
		return strconv.Itoa(int(p))
	}
	args := []string{
		"--ingress-class-controller=" + o.IngressClassController,
		"--require-ingress-class=" + strconv.FormatBool(o.RequireIngressClass),
		"--internal-default-backend=" + strconv.FormatBool(o.InternalDefaultBackend),
		"--no-default-backend-override=" + strconv.FormatBool(o.NoDefaultBackendOverride),
		"--nghttpx-http-port=" + port(o.HTTPPort, o.DisableHTTP),
		"--nghttpx-https-port=" + port(o.HTTPSPort, o.DisableHTTPS),
		"--proxy-proto=" + strconv.FormatBool(proxyProto),
		"--allow-mruby=" + strconv.FormatBool(o.AllowMruby),
	}
	if o.DeferredShutdownPeriod > 0 {
		args = append(args, "--deferred-shutdown-period="+o.DeferredShutdownPeriod.String())
	}
	if workers != 0 {
		// After the data-plane settings' own --workers, so this one wins.
		args = append(args, "--workers="+strconv.Itoa(workers))
	}
	for _, f := range []struct{ name, v string }{
		{"default-tls-secret", o.DefaultTLSSecret},
		{"default-backend-service", o.DefaultBackendService},
		{"nghttpx-configmap", o.NghttpxConfigMap},
		{"watch-namespace", o.WatchNamespace},
	} {
		if f.v != "" {
			args = append(args, "--"+f.name+"="+f.v)
		}
	}
	return args
}

// legacyValue accepts any value for a flag we no longer use and appends its
// warning to warnings (the logging flags use it too).
type legacyValue struct {
	info     flagInfo
	warning  string
	warnings *[]string
	value    string
}

func (v *legacyValue) String() string {
	if v == nil {
		return ""
	}
	return v.value
}

func (v *legacyValue) Set(s string) error {
	if v.info.isBool {
		if _, err := strconv.ParseBool(s); err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
	}
	v.value = s
	*v.warnings = append(*v.warnings, v.warning)
	return nil
}

func (v *legacyValue) IsBoolFlag() bool { return v.info.isBool }
