package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "imagebuild:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	args, err := ociimage.ExpandArgs(args, os.LookupEnv)
	if err != nil {
		return err
	}
	f, err := ociimage.ParseArgs("imagebuild", args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if f.Ref == "" || f.Out == "" {
		return fmt.Errorf("--ref and --out are required")
	}
	img, err := ociimage.Build(f.Spec)
	if err != nil {
		return err
	}
	res, err := ociimage.WriteArchive(img, f.Ref, f.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reference %s\ndigest %s\nid %s\nsize %d bytes (%.1f MB)\n%s\n",
		res.Ref, res.Digest, res.ID, res.Size, float64(res.Size)/1e6, res.Path)
	return nil
}
