package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
)

// convertCmd prints the Gateway API objects the Ingress shim makes of Ingresses, as
// YAML a user can apply, and a warning on stderr for every setting that has no
// portable equivalent and every problem found.
func convertCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files fileList
	fs.Var(&files, "f", "YAML file with Ingresses, IngressClasses, Services, Secrets and the operator ConfigMap (repeatable; - reads standard input)")
	var ing ingressFlags
	ing.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := ing.options()
	if err != nil {
		return err
	}
	printWarnings(stderr, ing.warnings)
	in, err := readInputs(append(files, fs.Args()...), os.Stdin)
	if err != nil {
		return err
	}
	if len(in.Ingresses) == 0 {
		return errors.New("no Ingress in the input")
	}
	y, warnings, err := ingressshim.Convert(ingressshim.InputFrom(in), opts)
	if err != nil {
		return err
	}
	printWarnings(stderr, warnings)
	_, err = stdout.Write(y)
	return err
}
