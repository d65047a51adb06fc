package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// originalProgramName is the original nghttpx Ingress controller's binary. Run
// under that name (the image has /nghttpx-ingress-controller linked to this
// binary), with that path as the first argument (the original's manifests start
// their args with it), or with flags and no command, the binary is serve with the
// original's defaults.
const originalProgramName = "nghttpx-ingress-controller"

// flagDefault is a flag's default under the original invocation.
type flagDefault struct{ name, value string }

// originalDefaults are the original's defaults where serve's differ. The health
// and metrics addresses are off: the original opens only its public ports and
// --healthz-port (which serves /metrics too), often on the node's network.
func originalDefaults() []flagDefault {
	return []flagDefault{
		{"internal-default-backend", "true"},
		{"http3", "false"},
		{"leader-elect-resource-name", "nghttpx-ingress-lb"},
		{"nghttpx-secret", "nghttpx-km"},
		{"quic-secret-period", "4h0m0s"},
		{"client-qps", "200"},
		{"client-burst", "300"},
		{"healthz-port", "11249"},
		{"profiling", "true"},
		{"health-addr", "0"},
		{"metrics-addr", "0"},
		{"ingress-data-plane", dataPlaneInPod},
	}
}

// originalArgs reports whether argv0 and args ask for the original invocation
// and returns the arguments serve gets then.
func originalArgs(argv0 string, args []string) ([]string, bool) {
	// The original takes no positional arguments and ignores them; a leading
	// program path (its manifests' first arg) is dropped, as Go's flag package
	// would stop at it.
	first := len(args) > 0 && filepath.Base(args[0]) == originalProgramName
	if filepath.Base(argv0) == originalProgramName || first {
		if first {
			args = args[1:]
		}
		return args, true
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch strings.TrimLeft(args[0], "-") {
		case "h", "help", "version":
			return nil, false // the top-level usage and version
		}
		return args, true
	}
	return nil, false
}

// originalMain runs serve as the original invocation and returns the exit code.
func originalMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := serve(ctx, originalProgramName, args, stdout, stderr, originalDefaults())
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0 // as the original (cobra) does for --help
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", originalProgramName, err)
		return 1
	}
	return 0
}

// applyDefaults sets each flag of defs to its value and makes that its default
// (so -h shows it), before parsing. Aliases sharing the variable follow.
func applyDefaults(fs *flag.FlagSet, defs []flagDefault) error {
	for _, d := range defs {
		f := fs.Lookup(d.name)
		if f == nil {
			return fmt.Errorf("internal error: no flag --%s to take the original's default", d.name)
		}
		before := map[string]string{}
		fs.VisitAll(func(g *flag.Flag) { before[g.Name] = g.Value.String() })
		if err := f.Value.Set(d.value); err != nil {
			return fmt.Errorf("internal error: the original's default of --%s: %w", d.name, err)
		}
		fs.VisitAll(func(g *flag.Flag) {
			if v := g.Value.String(); v != before[g.Name] || g == f {
				g.DefValue = v
			}
		})
	}
	return nil
}

// defaultsKV lists defs as logr key-value pairs.
func defaultsKV(defs []flagDefault) []any {
	var kv []any
	for _, d := range defs {
		kv = append(kv, d.name, d.value)
	}
	return kv
}

// parseOriginal parses args as the original's parser (spf13/pflag) does where
// Go's flag package differs: flags may follow arguments that are not flags
// (those are returned, and ignored as the original ignores them), and -v/--v
// takes its level as the next argument ("--v 2"), as it is an int flag there.
// Everything after "--" is an argument.
func parseOriginal(fs *flag.FlagSet, args []string) ([]string, error) {
	var joined []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-v" || a == "--v") && i+1 < len(args) {
			if _, err := strconv.Atoi(args[i+1]); err == nil {
				joined = append(joined, a+"="+args[i+1])
				i++
				continue
			}
		}
		if a == "--" {
			joined = append(joined, args[i:]...)
			break
		}
		joined = append(joined, a)
	}
	var ignored []string
	for rest := joined; ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return ignored, nil
		}
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			return append(ignored, left...), nil
		}
		ignored = append(ignored, left[0])
		rest = left[1:]
	}
}
