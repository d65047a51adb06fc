package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
)

// defaultMetricsAddr is where `run` serves its metrics.
const defaultMetricsAddr = "127.0.0.1:9113"

// dataPlaneMetrics is the registry of a role that runs nghttpx: the request
// metrics of every Gateway's access log (the sink, writing lines to out),
// the apply counters of every data plane (the stats set), build information
// with nghttpx's version and features, and the process.
func dataPlaneMetrics(dp dataPlane, out io.Writer, log logr.Logger) (*prometheus.Registry, *accesslog.Sink, *apply.StatsSet, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, nil, err
	}
	sink, stats, err := registerDataPlaneMetrics(reg, dp, out, log)
	return reg, sink, stats, err
}

// registerDataPlaneMetrics registers dataPlaneMetrics' series but the
// process's on reg (serve's in-pod data plane shares the controller's).
func registerDataPlaneMetrics(reg prometheus.Registerer, dp dataPlane, out io.Writer, log logr.Logger) (*accesslog.Sink, *apply.StatsSet, error) {
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "nghttpx_gateway_dataplane_build_info",
		Help: "Always 1: this binary's version and its nghttpx's version and features.",
		ConstLabels: prometheus.Labels{"version": version, "nghttpx_version": dp.feat.Version,
			"mruby": strconv.FormatBool(dp.feat.MRuby), "http3": strconv.FormatBool(dp.feat.HTTP3), "bpf": strconv.FormatBool(dp.feat.BPF),
			"ocsp": strconv.FormatBool(dp.feat.OCSP)},
	})
	info.Set(1)
	stats := &apply.StatsSet{}
	for _, c := range []prometheus.Collector{info, stats} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	sink, err := accesslog.NewSink(reg, out, log.WithName("accesslog"))
	if err != nil {
		return nil, nil, err
	}
	return sink, stats, nil
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// serveMetrics serves GET /metrics on addr until ctx ends and returns the URL.
func serveMetrics(ctx context.Context, log logr.Logger, addr string, reg *prometheus.Registry) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "metrics server stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/metrics", nil
}
