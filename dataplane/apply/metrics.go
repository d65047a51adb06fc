package apply

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// StatsSet exports the Stats of every running data plane as Prometheus
// metrics, labelled by Gateway (namespace/name). Safe for concurrent use.
type StatsSet struct {
	mu sync.Mutex
	m  map[string]*Stats
}

// Put adds or replaces a Gateway's stats.
func (s *StatsSet) Put(gateway string, st *Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*Stats{}
	}
	s.m[gateway] = st
}

// Delete drops a Gateway's stats (its data plane stopped).
func (s *StatsSet) Delete(gateway string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, gateway)
}

var (
	descApplies = prometheus.NewDesc("nghttpx_gateway_dataplane_applies_total",
		"Configuration changes sent to nghttpx, by kind: reload (SIGHUP), backend_api (POST backendconfig), route_table (routes.rb rewrite).",
		[]string{"gateway", "kind"}, nil)
	descApplyErrors = prometheus.NewDesc("nghttpx_gateway_dataplane_apply_errors_total",
		"Failed apply attempts (each retry counts).", []string{"gateway"}, nil)
	descRestarts = prometheus.NewDesc("nghttpx_gateway_dataplane_restarts_total",
		"Restarts after nghttpx exited on its own.", []string{"gateway"}, nil)
	descLastDuration = prometheus.NewDesc("nghttpx_gateway_dataplane_last_apply_duration_seconds",
		"Duration of the last successful reload (SIGHUP to new configrevision) or backend API request.",
		[]string{"gateway", "kind"}, nil)
)

// Describe sends the descriptions of the metrics.
func (s *StatsSet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplies, descApplyErrors, descRestarts, descLastDuration} {
		ch <- d
	}
}

// Collect reads every Gateway's counters.
func (s *StatsSet) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	gws := make([]string, 0, len(s.m))
	for g := range s.m {
		gws = append(gws, g)
	}
	sort.Strings(gws)
	stats := make([]*Stats, len(gws))
	for i, g := range gws {
		stats[i] = s.m[g]
	}
	s.mu.Unlock()
	for i, g := range gws {
		st := stats[i]
		counter := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
		}
		counter(descApplies, st.Reloads.Load(), g, "reload")
		counter(descApplies, st.BackendPosts.Load(), g, "backend_api")
		counter(descApplies, st.RouteWrites.Load(), g, "route_table")
		counter(descApplyErrors, st.ApplyErrors.Load(), g)
		counter(descRestarts, st.Restarts.Load(), g)
		ch <- prometheus.MustNewConstMetric(descLastDuration, prometheus.GaugeValue, float64(st.LastReloadNanos.Load())/1e9, g, "reload")
		ch <- prometheus.MustNewConstMetric(descLastDuration, prometheus.GaugeValue, float64(st.LastBackendPostNanos.Load())/1e9, g, "backend_api")
	}
}
