package accesslog

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Labels of the request metrics, in order (see the package doc for their values).
var Labels = []string{"gateway", "listener", "route", "rule", "backend", "status_class", "protocol"}

// Metrics are the request metrics of every Stream of a Sink.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bytes     *prometheus.CounterVec
	malformed *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nghttpx_gateway_requests_total",
			Help: "Requests nghttpx answered, from its access log.",
		}, Labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nghttpx_gateway_request_duration_seconds",
			Help: "Time from the first byte of the request to the last byte of the response (nghttpx $request_time, millisecond resolution).",
			// 1 ms to 10 s.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, Labels),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nghttpx_gateway_response_body_bytes_total",
			Help: "Response body bytes sent to clients (nghttpx $body_bytes_sent).",
		}, Labels),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nghttpx_gateway_accesslog_malformed_total",
			Help: "Access log lines that could not be parsed (written out as they came, not counted as requests).",
		}, []string{"gateway"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytes, m.malformed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// series are one label set's children, cached per Stream so that a line
// costs no label hashing.
type series struct {
	requests, bytes prometheus.Counter
	duration        prometheus.Observer
}

type seriesKey struct {
	id           Identity
	class, proto string
}

func (m *Metrics) series(k seriesKey) series {
	v := []string{k.id.Gateway, k.id.Listener, k.id.Route, k.id.Rule, k.id.Backend, k.class, k.proto}
	return series{requests: m.requests.WithLabelValues(v...), bytes: m.bytes.WithLabelValues(v...), duration: m.duration.WithLabelValues(v...)}
}
