//go:build integration

package standalone_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/testenv"
)

// Request metrics and access logs come from nghttpx's own access log: after N
// requests to each of two routes (one with a backend answering 503) and a few
// the router answers itself, /metrics has exactly those counts under each
// route's labels and the log has one line per request naming the route.

// statusServer answers every request with status on 127.0.0.1.
func statusServer(t *testing.T, status int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, "broken\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func rawServiceYAML(name string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-0
  namespace: default
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`, name, name, name, port)
}

// scrape returns the value of the sample whose line starts with series
// (name{labels} as the text format writes it), 0 when absent.
func scrape(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func series(name, route, rule, backend, class string) string {
	return fmt.Sprintf(`%s{backend=%q,gateway="default/gw",listener=%q,protocol="h1",route=%q,rule=%q,status_class=%q}`,
		name, backend, map[bool]string{true: "-", false: "http-0"}[route == "-"], route, rule, class)
}

// logLines are the JSON access log lines in out.
func logLines(t *testing.T, out string) []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("access log line is not JSON: %v: %s", err, l)
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLiveAccessLogMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logOut testenv.SyncBuffer
	sink, err := accesslog.NewSink(reg, &logOut, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	stats := &apply.StatsSet{}
	reg.MustRegister(stats)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(metrics.Close)
	url := metrics.URL + "/metrics"

	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{},
		accessLog: sink, accessLogFormat: accesslog.FormatJSON, stats: stats}
	l.echo["a"] = testenv.StartEcho(t, "a")
	l.port = testenv.FreePorts(t, 1)[0]
	l.write("gateway.yaml", gatewayYAML(l.port))
	l.write("app.yaml", l.serviceYAML("app", "a"))
	l.write("broken.yaml", rawServiceYAML("broken", statusServer(t, http.StatusServiceUnavailable)))
	l.write("one.yaml", routeYAML("one", "one.example", stableRoute))
	l.write("two.yaml", routeYAML("two", "two.example", "  - backendRefs: [{name: broken, port: 80}]\n"))
	l.start(context.Background())
	eventually(t, "route one serves", 15*time.Second, wantPod(l.port, "one.example", "/", "a"))
	eventually(t, "route two serves its backend's 503", 15*time.Second, wantStatus(l.port, "two.example", "/", 503))

	one := series("nghttpx_gateway_requests_total", "default/one", "0", "default/app:80", "2xx")
	two := series("nghttpx_gateway_requests_total", "default/two", "0", "default/broken:80", "5xx")
	unrouted := series("nghttpx_gateway_requests_total", "-", "-", "-", "4xx")
	// The warm-up requests are counted too: start from a settled baseline.
	var base1, base2 float64
	eventually(t, "the warm-up requests are counted", 10*time.Second, func() error {
		base1, base2 = scrape(t, url, one), scrape(t, url, two)
		if base1 < 1 || base2 < 1 {
			return fmt.Errorf("route one %v, route two %v", base1, base2)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	base1, base2 = scrape(t, url, one), scrape(t, url, two)
	base404 := scrape(t, url, unrouted)
	logStart := len(logOut.String())

	const n1, n2, n3 = 7, 5, 3
	for range n1 {
		if err := wantPod(l.port, "one.example", "/one", "a")(); err != nil {
			t.Fatal(err)
		}
	}
	for range n2 {
		if err := wantStatus(l.port, "two.example", "/two", 503)(); err != nil {
			t.Fatal(err)
		}
	}
	for range n3 {
		if err := wantStatus(l.port, "nowhere.example", "/", 404)(); err != nil {
			t.Fatal(err)
		}
	}
	// A byte outside ASCII in the Host header (raw: Go's client refuses it;
	// nghttpx itself refuses '"' and '\\') reaches the line escaped (our nghttpx
	// patch escapes $http_host) and reads back as the rune of that byte.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", l.port))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /odd HTTP/1.1\r\nHost: caf\xe9.example\r\nConnection: close\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Errorf("odd Host: %v", err)
	} else {
		t.Logf("odd Host: %s", resp.Status)
		resp.Body.Close()
	}
	c.Close()
	want := map[string]float64{one: base1 + n1, two: base2 + n2, unrouted: base404 + n3 + 1} // + the odd Host
	eventually(t, "the metrics count every request", 10*time.Second, func() error {
		for s, v := range want {
			if got := scrape(t, url, s); got != v {
				return fmt.Errorf("%s = %v, want %v", s, got, v)
			}
		}
		return nil
	})
	// Exactly: nothing more arrives.
	time.Sleep(300 * time.Millisecond)
	for s, v := range want {
		if got := scrape(t, url, s); got != v {
			t.Errorf("%s = %v, want exactly %v", s, got, v)
		}
	}
	hist := series("nghttpx_gateway_request_duration_seconds_count", "default/two", "0", "default/broken:80", "5xx")
	if got := scrape(t, url, hist); got != base2+n2 {
		t.Errorf("%s = %v, want %v", hist, got, base2+n2)
	}
	if got := scrape(t, url, `nghttpx_gateway_accesslog_malformed_total{gateway="default/gw"}`); got != 0 {
		t.Errorf("%v malformed lines", got)
	}

	// The log has one line per request, each naming what served it.
	count := map[string]int{}
	for _, m := range logLines(t, logOut.String()[logStart:]) {
		// The agent's own requests to nghttpx's API are not logged.
		if m["server_port"] != float64(l.port) {
			t.Errorf("line of another frontend: %v", m)
		}
		if m["path"] == "/odd" {
			if m["authority"] != "caf\u00e9.example" {
				t.Errorf("odd host logged as %q", m["authority"])
			}
			continue
		}
		key := fmt.Sprintf("%v %v %v %v %v %v", m["route"], m["rule"], m["listener"], m["backend"], m["status"], m["path"])
		count[key]++
		host := map[string]string{"default/one": "one.example", "default/two": "two.example", "-": "nowhere.example"}[fmt.Sprint(m["route"])]
		if m["gateway"] != "default/gw" || m["protocol"] != "HTTP/1.1" || m["method"] != "GET" || m["authority"] != host {
			t.Errorf("line %v", m)
		}
	}
	wantLines := map[string]int{
		"default/one 0 http-0 default/app:80 200 /one":    n1,
		"default/two 0 http-0 default/broken:80 503 /two": n2,
		"- - - - 404 /": n3,
	}
	for k, v := range wantLines {
		if count[k] != v {
			t.Errorf("%d access log lines %q, want %d (all: %v)", count[k], k, v, count)
		}
	}
	if len(count) != len(wantLines) {
		t.Errorf("unexpected access log lines: %v", count)
	}

	// Applies are counted by kind: a new route is a route table rewrite.
	routeWrites := `nghttpx_gateway_dataplane_applies_total{gateway="default/gw",kind="route_table"}`
	before := scrape(t, url, routeWrites)
	l.write("three.yaml", routeYAML("three", "three.example", stableRoute))
	eventually(t, "the route table rewrite is counted", 10*time.Second, func() error {
		if got := scrape(t, url, routeWrites); got != before+1 {
			return fmt.Errorf("%s = %v, want %v", routeWrites, got, before+1)
		}
		return nil
	})
}

// An Ingress data plane writes the original nghttpx Ingress controller's log
// format (nghttpx's default) while its metrics name the Ingress.
func TestLiveAccessLogIngress(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logOut testenv.SyncBuffer
	sink, err := accesslog.NewSink(reg, &logOut, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(metrics.Close)
	l := &live{t: t, dir: t.TempDir(), echo: map[string]*testenv.Echo{}, appliers: map[string]*apply.Applier{},
		accessLog: sink, accessLogFormat: accesslog.FormatJSON}
	l.echo["a"] = testenv.StartEcho(t, "a")
	l.port = testenv.FreePorts(t, 1)[0]
	l.ingress = ingressshim.Options{HTTPPort: int32(l.port), DisableHTTPS: true, InternalDefaultBackend: true}
	l.write("app.yaml", l.serviceYAML("app", "a"))
	l.write("ingress.yaml", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  rules:
  - host: shop.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
`)
	l.start(context.Background())
	eventually(t, "the Ingress serves", 15*time.Second, wantPod(l.port, "shop.example", "/", "a"))
	series := `nghttpx_gateway_requests_total{backend="default/app:80",gateway="nghttpx-ingress/nghttpx",listener="http",protocol="h1",route="default/shop",rule="0",status_class="2xx"}`
	eventually(t, "the Ingress's requests are counted under its name", 10*time.Second, func() error {
		if got := scrape(t, metrics.URL+"/metrics", series); got < 1 {
			return fmt.Errorf("%s = %v", series, got)
		}
		return nil
	})
	line := ""
	for _, l := range strings.Split(logOut.String(), "\n") {
		if strings.Contains(l, "shop") || strings.Contains(l, `"GET / HTTP/1.1" 200`) {
			line = l
			break
		}
	}
	// 127.0.0.1 - - [07/Dec/2026:15:00:00 +0000] "GET / HTTP/1.1" 200 394 "-" "Go-http-client/1.1"
	if !strings.HasPrefix(line, "127.0.0.1 - - [") || !strings.Contains(line, `] "GET / HTTP/1.1" 200 `) || !strings.HasSuffix(line, `"-" "Go-http-client/1.1"`) {
		t.Errorf("access log line %q is not in nghttpx's default format (all: %q)", line, logOut.String())
	}
}
