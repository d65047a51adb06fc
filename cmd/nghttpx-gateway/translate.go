package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

func translateCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "YAML file with Kubernetes objects (repeatable; - reads standard input)")
	stateDir := fs.String("state-dir", "/var/run/nghttpx-gateway", "state directory the rendered paths refer to")
	address := fs.String("default-address", "127.0.0.1", "address of Gateways without spec.addresses")
	controller := fs.String("controller-name", translate.DefaultControllerName, "GatewayClass controllerName served")
	apiPort := fs.Int("api-port", 15000, "backend API port written into the rendered configuration (run picks a free one per Gateway)")
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
	printWarnings(stderr, ing.warnings)
	in, err := readInputs(append(files, fs.Args()...), os.Stdin)
	if err != nil {
		return err
	}
	out := pipeline.Build(in, pipeline.Options{
		Gateway: translate.Options{
			ControllerName: *controller,
			DefaultAddress: *address,
			OCSP:           ocspF.options(true),
			Now:            metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
		},
		// Offline: assume the data plane nghttpx built by make nghttpx.
		Render:        ocspF.renderFor(render.Options{APIPort: *apiPort, Features: render.Features{ClientVerify: true, BackendTLSVerify: true, StatusRetry: true, SNICertMap: true}}, *stateDir),
		StateDir:      *stateDir,
		Ingress:       shim,
		ProxyProtocol: ing.proxyProto,
	})
	y, err := out.YAML()
	if err != nil {
		return err
	}
	_, err = stdout.Write(y)
	return err
}
