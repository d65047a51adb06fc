package controller

import (
	"errors"
	"regexp"
	"runtime"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/status"
)

const metricsNamespace = "nghttpx_gateway"

// ctrlMetrics are the controller's own series. Every label takes values from
// a fixed set (kinds, results, actions, reasons) or from configuration (the
// certificate Secrets of our listeners), never from requests.
type ctrlMetrics struct {
	build          prometheus.Histogram
	statusUpdates  *prometheus.CounterVec
	statusDuration *prometheus.HistogramVec
	provision      *prometheus.CounterVec
	provisionFails prometheus.Counter
	managed        *prometheus.GaugeVec
	certExpiry     *prometheus.GaugeVec
	events         *prometheus.CounterVec
}

// managedKinds are the kinds nghttpx_gateway_managed_objects reports, always
// all of them (zero included) so a dashboard shows a flat line, not a gap.
var managedKinds = []string{"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ListenerSet", "BackendTLSPolicy", "Ingress"}

func newCtrlMetrics() *ctrlMetrics {
	return &ctrlMetrics{
		build: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "build_duration_seconds",
			Help:    "Duration of a snapshot of the caches and its translation (and rendering).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 11)}), // 1 ms to ~10 s
		statusUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "status_updates_total",
			Help: "Status updates by object kind and result: written, unchanged, conflict (each rejected attempt), gone, error."},
			[]string{"kind", "result"}),
		statusDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "status_update_duration_seconds",
			Help:    "Time a status update spent on the API server (reads and writes, retries included); updates the cache showed unchanged are not observed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)}, []string{"kind"}),
		provision: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "provision_actions_total",
			Help: "Writes of data-plane objects by action (apply, delete) and object kind."}, []string{"action", "kind"}),
		provisionFails: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "provision_failures_total",
			Help: "Gateways whose data-plane objects could not be written (per Gateway and attempt)."}),
		managed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "managed_objects",
			Help: "Objects of our GatewayClasses in the last translation, by kind (the Ingress shim's synthetic objects excluded)."},
			[]string{"kind"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "certificate_expiry_timestamp_seconds",
			Help: "NotAfter (Unix time) of the leaf certificate in each TLS Secret our Gateways' listeners use."},
			// Not "namespace": scrapes add the target's namespace under that name.
			[]string{"secret_namespace", "secret"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "events_total",
			Help: "Kubernetes Events recorded on Gateway API objects, by reason."}, []string{"reason"}),
	}
}

// StatusUpdate implements status.Observer.
func (m *ctrlMetrics) StatusUpdate(kind string, r status.Result, took time.Duration) {
	m.statusUpdates.WithLabelValues(kind, string(r)).Inc()
	if took > 0 {
		m.statusDuration.WithLabelValues(kind).Observe(took.Seconds())
	}
}

// ProvisionAction implements provision.Observer.
func (m *ctrlMetrics) ProvisionAction(action, kind string) {
	m.provision.WithLabelValues(action, kind).Inc()
}

// setManaged reports the objects of a translation (synthetic ones already
// dropped) and the Ingresses the shim serves.
func (m *ctrlMetrics) setManaged(res *translate.Result, ingresses int) {
	n := map[string]int{
		"GatewayClass": len(res.GatewayClasses), "Gateway": len(res.Gateways), "HTTPRoute": len(res.HTTPRoutes),
		"GRPCRoute": len(res.GRPCRoutes), "ListenerSet": len(res.ListenerSets), "BackendTLSPolicy": len(res.BackendTLSPolicies),
		"Ingress": ingresses,
	}
	for _, k := range managedKinds {
		m.managed.WithLabelValues(k).Set(float64(n[k]))
	}
}

// setCertificates replaces the expiry series with those of the last translation.
func (m *ctrlMetrics) setCertificates(certs []listenerCert) {
	m.certExpiry.Reset()
	for _, c := range certs {
		m.certExpiry.WithLabelValues(c.secret.Namespace, c.secret.Name).Set(float64(c.notAfter.Unix()))
	}
}

// collectors are the series of c: the metrics above, the counters the
// controller kept before them (same names as ever), and gauges read at scrape
// time. The funcs read c only when collected, so a zero Controller describes
// them (MetricDescs).
func (m *ctrlMetrics) collectors(c *Controller) []prometheus.Collector {
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: name, Help: help}, v)
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "build_info",
		Help:        "Always 1: the controller's version (as --version prints it) and Go version.",
		ConstLabels: prometheus.Labels{"version": c.opts.Version, "go_version": runtime.Version()}})
	info.Set(1)
	return []prometheus.Collector{
		m.build, m.statusUpdates, m.statusDuration, m.provision, m.provisionFails, m.managed, m.certExpiry, m.events, info,
		counter("status_writes_total", "Status updates written.", func() int64 { return c.writer.Counters().Writes.Load() }),
		counter("status_writes_skipped_total", "Status updates skipped because nothing changed.", func() int64 { return c.writer.Counters().Skipped.Load() }),
		counter("status_write_conflicts_total", "Status updates retried after a conflict.", func() int64 { return c.writer.Counters().Conflicts.Load() }),
		counter("provision_applies_total", "Server-side applies of data-plane objects.", func() int64 { return c.prov.Counters().Applies.Load() }),
		counter("provision_deletes_total", "Data-plane objects pruned.", func() int64 { return c.prov.Counters().Deletes.Load() }),
		counter("builds_total", "Translations run.", c.stats.Builds.Load),
		counter("build_errors_total", "Translations that could not read their input.", c.stats.BuildErrors.Load),
		counter("watch_events_total", "Watch events received.", func() int64 { return c.src.Stats().Events.Load() }),
		counter("watch_events_relevant_total", "Watch events that triggered a rebuild.", func() int64 { return c.src.Stats().Relevant.Load() }),
		gauge("last_build_seconds", "Duration of the last snapshot and translation.",
			func() float64 { return float64(c.stats.LastBuildNanos.Load()) / 1e9 }),
		gauge("leader", "1 while this replica is the elected leader (provisions, writes status, records Events), else 0.",
			func() float64 { return b2f(c.leader.Load()) }),
		gauge("batch_pending_events", "Watch notifications waiting for the next batch (the work queue's depth).",
			func() float64 { return float64(c.batch.Pending()) }),
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// registerMetrics exposes the series of c on reg (the manager's registry). A
// second controller in the same process (tests) keeps the first one's series.
func registerMetrics(reg prometheus.Registerer, c *Controller) {
	for _, col := range c.metrics.collectors(c) {
		if err := reg.Register(col); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				c.log.Error(err, "registering a metric")
			}
		}
	}
}

// MetricNames are the names of every series the controller serves on its
// metrics endpoint besides controller-runtime's own, sorted (for tests of
// dashboards and documentation).
func MetricNames() []string {
	var out []string
	for _, d := range MetricDescs() {
		// A Desc shows its name only in its String form.
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// MetricDescs describe the series MetricNames lists.
func MetricDescs() []*prometheus.Desc {
	c := &Controller{metrics: newCtrlMetrics()}
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		for _, col := range c.metrics.collectors(c) {
			col.Describe(ch)
		}
		(&keyRotator{}).describe(ch)
		close(ch)
	}()
	var out []*prometheus.Desc
	for d := range ch {
		out = append(out, d)
	}
	return out
}
