// Package accesslog turns nghttpx's own access log into the data plane's request
// log and request metrics. nghttpx has no metrics endpoint, so the renderer makes
// every nghttpx write one JSON object per request (NghttpxFormat) into a FIFO in
// its state directory; a Stream reads it, labels each line with the Gateway API
// identity of the backend group nghttpx chose ($backend_pattern, our nghttpx
// patch 62, looked up in the Routes the renderer wrote), counts it in Metrics and
// writes it on the agent's stdout as enriched JSON (FormatJSON) or in nghttpx's
// default text format (FormatNghttpx, what the original Ingress controller wrote).
// FormatOff renders no access log at all: no lines and no request metrics.
//
// Labels (bounded: none holds a request value): gateway, listener, route
// (namespace/name of the HTTPRoute, or of the Ingress on Ingress data planes),
// rule (index), backend (the Service port, namespace/name:port), status_class
// (1xx..5xx, or "other"), protocol (h1, h2, h3 or "other"). A request no backend
// group served (answered by the router: no route, redirect, fixed status) has "-"
// for listener, route, rule and backend. A group several rules share (same
// Service port and parameters) gets "*" for each label on which they differ.
//
// Contract: Parse and Routes.Lookup are pure. A Stream never blocks nghttpx on
// anything but its own output: the agent's stdout. A line it cannot parse is
// written as it came and counted in nghttpx_gateway_accesslog_malformed_total.
package accesslog
