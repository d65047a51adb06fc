package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "serve Gateways from a directory of YAML files on this machine (no cluster)", runCmd},
		{"translate", "print computed status and rendered nghttpx configuration for YAML files", translateCmd},
		{"serve", "run the Kubernetes controller: provision data planes, write status", serveCmd},
		{"proxy", "run the data-plane agent of one Gateway next to nghttpx (in its pod)", proxyCmd},
		{"convert", "print the Gateway API objects that replace the Ingresses of YAML files", convertCmd},
		{"version", "print the version", func(context.Context, []string, io.Writer, io.Writer) error {
			fmt.Println("nghttpx-gateway", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if filepath.Base(os.Args[0]) == ocspProgramName { // run by nghttpx
		os.Exit(ocspFetchMain(os.Args[1:], os.Stdout, os.Stderr, time.Now()))
	}
	if args, ok := originalArgs(os.Args[0], os.Args[1:]); ok {
		os.Exit(originalMain(ctx, args, os.Stdout, os.Stderr))
	}
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	if args[0] == "--version" || args[0] == "-version" { // as nghttpx and h2load take it
		args = append([]string{"version"}, args[1:]...)
	}
	if args[0] == ocspCommand { // hidden: what nghttpx runs, by hand
		return ocspFetchMain(args[1:], stdout, stderr, time.Now())
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
				fmt.Fprintf(stderr, "nghttpx-gateway %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "nghttpx-gateway: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: nghttpx-gateway COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun 'nghttpx-gateway COMMAND -h' for a command's flags.")
}
