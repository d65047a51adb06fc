package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

type fileList []string

func (f *fileList) String() string     { return fmt.Sprint(*f) }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func translateCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "YAML file with Kubernetes objects (repeatable; - reads standard input)")
	stateDir := fs.String("state-dir", "/var/run/nghttpx-gateway", "state directory the rendered paths refer to")
	address := fs.String("default-address", "127.0.0.1", "address of Gateways without spec.addresses")
	controller := fs.String("controller-name", gateway.DefaultControllerName, "GatewayClass controllerName served")
	apiPort := fs.Int("api-port", 15000, "backend API port written into the rendered configuration (run picks a free one per Gateway)")
	var ing ingressFlags
	ing.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	shim, err := ing.options()
	if err != nil {
		return err
	}
	printWarnings(stderr, ing.warnings)
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		return errors.New("no input: give one or more files with -f (or - for standard input)")
	}
	in, err := readInputs(files, os.Stdin)
	if err != nil {
		return err
	}
	out := pipeline.Build(in, pipeline.Options{
		Gateway: gateway.Options{
			ControllerName: *controller,
			DefaultAddress: *address,
			Now:            metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
		},
		Render:        render.Options{APIPort: *apiPort},
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

// readInputs decodes and merges the objects of every file.
func readInputs(files []string, stdin io.Reader) (*gateway.Input, error) {
	all := &gateway.Input{}
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		in, err := gateway.DecodeYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		all.Append(in)
	}
	return all, nil
}

func printWarnings(w io.Writer, warnings []string) {
	for _, m := range warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}
