package controller

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// registerMetrics exposes the counters of c on the manager's metrics endpoint.
// A second controller in the same process (tests) keeps the first one's series.
func registerMetrics(c *Controller) {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "nghttpx_gateway", Name: name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	w, p, s := c.writer.Counters(), c.prov.Counters(), c.src.Stats()
	for _, col := range []prometheus.Collector{
		counter("status_writes_total", "Status updates written.", &w.Writes),
		counter("status_writes_skipped_total", "Status updates skipped because nothing changed.", &w.Skipped),
		counter("status_write_conflicts_total", "Status updates retried after a conflict.", &w.Conflicts),
		counter("provision_applies_total", "Server-side applies of data-plane objects.", &p.Applies),
		counter("provision_deletes_total", "Data-plane objects pruned.", &p.Deletes),
		counter("builds_total", "Translations run.", &c.stats.Builds),
		counter("build_errors_total", "Translations that could not read their input.", &c.stats.BuildErrors),
		counter("watch_events_total", "Watch events received.", &s.Events),
		counter("watch_events_relevant_total", "Watch events that triggered a rebuild.", &s.Relevant),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "nghttpx_gateway", Name: "last_build_seconds",
			Help: "Duration of the last snapshot and translation."},
			func() float64 { return float64(c.stats.LastBuildNanos.Load()) / 1e9 }),
	} {
		if err := metrics.Registry.Register(col); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				c.log.Error(err, "registering a metric")
			}
		}
	}
}
