package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/cpulimit"
	"github.com/nghttpx-gateway/nghttpx-gateway/standalone"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configDir := fs.String("config", "", "directory of YAML files with Gateway API objects or Ingresses, Services, EndpointSlices and Secrets (required)")
	binary := fs.String("nghttpx", "", "nghttpx binary (default: $NGHTTPX_BIN, then the one `make nghttpx` built, then PATH)")
	metricsAddr := fs.String("metrics-addr", defaultMetricsAddr, "serve the data planes' Prometheus metrics on this address at /metrics (empty: none)")
	var ingressAccessLog accesslog.Format
	fs.Func("ingress-access-log", "access log format of the Ingress data plane: nghttpx (the original Ingress controller's, default), json or off",
		func(s string) (err error) { ingressAccessLog, err = accesslog.ParseFormat(s); return err })
	// --workers, --http3, --state-dir, --access-log
	st := settings.Settings{HTTP3: true, StateDir: defaultStateDir()}
	st.Flags(fs, false)
	var lf logFlags
	lf.register(fs)
	var ocspF ocspFlags
	ocspF.register(fs)
	var ing ingressFlags
	ing.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	shim, err := ing.options()
	if err != nil {
		return err
	}
	if err := ocspF.validate(); err != nil {
		return err
	}
	if *configDir == "" {
		return errors.New("--config is required: the directory holding your Gateway, HTTPRoute, Service and EndpointSlice YAML files")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	ctx = logr.NewContext(ctx, log)
	for _, w := range ing.warnings {
		log.Info("warning: " + w)
	}

	dp, err := prepareDataPlane(ctx, log, *binary, st.StateDir, ": run `make nghttpx` to build one")
	if err != nil {
		return err
	}
	log.Info("data plane", "nghttpx", dp.bin, "version", dp.feat.Version, "http3", dp.feat.HTTP3, "bpf", dp.feat.BPF)
	reg, sink, stats, err := dataPlaneMetrics(dp, stdout, log)
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		// A second `run` on the machine still serves its Gateways.
		if url, err := serveMetrics(ctx, log, *metricsAddr, reg); err != nil {
			log.Error(err, "metrics are not served; pick another --metrics-addr (127.0.0.1:0 for any free port)")
		} else {
			fmt.Fprintf(stdout, "metrics: %s\n", url)
			log.Info("serving metrics", "url", url)
		}
	}

	r := &standalone.Runner{
		ConfigDir: *configDir,
		StateDir:  dp.stateDir,
		Render:    st.RenderOptions(render.Options{Features: dp.render, Workers: cpulimit.CPUs()}),
		Log:       log,
		Out:       stdout,
		Ingress:   shim,
		// The Ingress Gateways accept a PROXY protocol header (--proxy-proto).
		ProxyProtocol: ing.proxyProto,
		NewProcess:    instance.Nghttpx(dp.bin, log, apply.Options{}),
		// Access logs go to stdout, next to the status lines.
		AccessLog:        sink,
		IngressAccessLog: ingressAccessLog,
		Stats:            stats,
	}
	if r.OCSP, err = ocspF.setup(log, dp, &r.Render); err != nil {
		return err
	}
	return r.Run(ctx)
}

func defaultStateDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nghttpx-gateway", "run")
	}
	return filepath.Join(os.TempDir(), "nghttpx-gateway")
}
