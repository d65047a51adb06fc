package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"
)

// healthPortFlags are the original controller's --healthz-port and --profiling,
// which serve implements (package kube/healthport). Off by default in serve,
// whose probes are on --health-addr; the original invocation turns them on
// with the original's defaults (original.go).
type healthPortFlags struct {
	port      int
	host      string
	profiling bool
}

func (h *healthPortFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&h.port, "healthz-port", 0,
		"port (all addresses) of the original nghttpx Ingress controller's health endpoint: /healthz, /readyz, /metrics "+
			"and, with --profiling, /debug/pprof/; 0 disables it (11249 when run as nghttpx-ingress-controller)")
	fs.StringVar(&h.host, "healthz-host", "",
		"address --healthz-port binds, e.g. 127.0.0.1 to keep pprof off the node's network (default: all addresses, as the original)")
	fs.BoolVar(&h.profiling, "profiling", false,
		"serve net/http/pprof under /debug/pprof/ on --healthz-port (on when run as nghttpx-ingress-controller)")
}

// addr is the health port's listen address; "" when it is off.
func (h *healthPortFlags) addr() (string, error) {
	if h.port < 0 || h.port > 65535 {
		return "", fmt.Errorf("--healthz-port: %d is not a port number", h.port)
	}
	if h.port == 0 {
		return "", nil
	}
	return net.JoinHostPort(h.host, strconv.Itoa(h.port)), nil
}

// maxDeferredShutdown leaves nghttpx's graceful stop room within the Ingress
// data-plane pods' termination grace period (kube/provision: 60 s).
const maxDeferredShutdown = 50 * time.Second

// checkDeferredShutdown bounds --deferred-shutdown-period: the Ingress data
// planes drain that long after SIGTERM, within their grace period.
func checkDeferredShutdown(d time.Duration) error {
	if d > maxDeferredShutdown {
		return fmt.Errorf("--deferred-shutdown-period %v: at most %v, as the Ingress data-plane pods stop within 60 s", d, maxDeferredShutdown)
	}
	return nil
}
