package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// fileList is a repeatable -f flag.
type fileList []string

func (f *fileList) String() string     { return fmt.Sprint(*f) }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// readInputs decodes and merges the objects of every file ("-" is stdin), the
// input of the offline commands (translate, convert); no file at all is an error.
func readInputs(files []string, stdin io.Reader) (*load.Input, error) {
	if len(files) == 0 {
		return nil, errors.New("no input: give one or more files with -f (or - for standard input)")
	}
	all := &load.Input{}
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
		in, err := load.DecodeYAML(data)
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
