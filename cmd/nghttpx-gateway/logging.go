package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/go-logr/logr"
)

// logFlags are the logging flags of every long-running command, in the
// Kubernetes style the original Ingress controller's manifests use:
// -v/--v=N (a bare -v is the most verbose level the code logs at),
// --logging-format=text|json; --vmodule and --log-flush-frequency are accepted
// and ignored with a warning.
type logFlags struct {
	v        verbosity
	format   string
	warnings []string
}

// maxVerbosity is what a bare -v means: every V level the code uses.
const maxVerbosity = 4

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.Var(&l.v, "v", "log verbosity: 0 (default), 1-4, or -v alone for 4")
	fs.StringVar(&l.format, "logging-format", "text", "log format: text or json")
	const why = "logs are not buffered and -v applies to every file"
	for _, name := range []string{"vmodule", "log-flush-frequency"} {
		fs.Var(&legacyValue{info: flagInfo{name: name}, warnings: &l.warnings, warning: "--" + name + " is accepted and ignored: " + why},
			name, "accepted and ignored: "+why)
	}
}

// logger returns the logger the flags ask for and logs the flags' warnings.
func (l *logFlags) logger(w io.Writer) (logr.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.Level(-int(l.v))} // logr's V(n) is slog level -n
	var h slog.Handler
	switch l.format {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return logr.Logger{}, fmt.Errorf("--logging-format %q: want text or json", l.format)
	}
	log := logr.FromSlogHandler(h)
	for _, m := range l.warnings {
		log.Info("warning: " + m)
	}
	return log, nil
}

// args are the flags that give a child process (a data plane) the same logging.
func (l *logFlags) args() []string {
	var a []string
	if l.v > 0 {
		a = append(a, "--v="+strconv.Itoa(int(l.v)))
	}
	if l.format == "json" {
		a = append(a, "--logging-format=json")
	}
	return a
}

// verbosity is a level that also works as a boolean flag (-v, -v=true).
type verbosity int

func (v *verbosity) String() string { return strconv.Itoa(int(*v)) }

func (v *verbosity) Set(s string) error {
	switch s {
	case "true":
		*v = maxVerbosity
		return nil
	case "false":
		*v = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 10 {
		return fmt.Errorf("want a level from 0 to 10 (or -v alone)")
	}
	*v = verbosity(n)
	return nil
}

func (v *verbosity) IsBoolFlag() bool { return true }
