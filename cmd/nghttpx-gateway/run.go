package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/standalone"
)

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configDir := fs.String("config", "", "directory of YAML files with Gateway API objects or Ingresses, Services, EndpointSlices and Secrets (required)")
	stateDir := fs.String("state-dir", defaultStateDir(), "directory for nghttpx's files, one subdirectory per Gateway")
	binary := fs.String("nghttpx", "", "nghttpx binary (default: $NGHTTPX_BIN, then the one `make nghttpx` built, then PATH)")
	workers := fs.Int("workers", 1, "nghttpx worker threads per Gateway")
	http3 := fs.Bool("http3", true, "also serve HTTP/3 (QUIC, same port over UDP) on HTTPS listeners when nghttpx supports it")
	verbose := fs.Bool("v", false, "verbose logs")
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
	log := newLogger(stderr, *verbose)
	ctx = logr.NewContext(ctx, log)
	for _, w := range ing.warnings {
		log.Info("warning: " + w)
	}

	dp, err := prepareDataPlane(ctx, log, *binary, *stateDir, ": run `make nghttpx` to build one")
	if err != nil {
		return err
	}
	log.Info("data plane", "nghttpx", dp.bin, "version", dp.feat.Version, "http3", dp.feat.HTTP3, "bpf", dp.feat.BPF)

	r := &standalone.Runner{
		ConfigDir: *configDir,
		StateDir:  dp.stateDir,
		Render:    render.Options{Workers: *workers, Features: dp.render, HTTP3: *http3 && dp.feat.HTTP3},
		Log:       log,
		Out:       stdout,
		Ingress:   shim,
		// The Ingress Gateways accept a PROXY protocol header (--proxy-proto).
		ProxyProtocol: ing.proxyProto,
		Start: func(ctx context.Context, dir string, cfg *render.Config) (standalone.DataPlane, error) {
			a, err := apply.New(apply.Options{Binary: dp.bin, StateDir: dir, Log: log.WithValues("stateDir", dir)})
			if err != nil {
				return nil, err
			}
			if err := a.Start(ctx, *cfg); err != nil {
				return nil, err
			}
			return applier{a}, nil
		},
	}
	if r.OCSP, err = ocspF.setup(log, dp, &r.Render); err != nil {
		return err
	}
	return r.Run(ctx)
}

// applier adapts apply.Applier to the runner's interface.
type applier struct{ a *apply.Applier }

func (a applier) Apply(ctx context.Context, cfg *render.Config) error { return a.a.Apply(ctx, *cfg) }
func (a applier) Stop(ctx context.Context) error                      { return a.a.Stop(ctx) }

func defaultStateDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nghttpx-gateway", "run")
	}
	return filepath.Join(os.TempDir(), "nghttpx-gateway")
}
