package config

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/controller"
)

// The controller's metrics Service selects the controller's pods and names
// the port --metrics-addr listens on; the pod template announces it to
// Prometheus' pod discovery.
func TestMetricsService(t *testing.T) {
	objs := build(t, "controller")
	svc := decode[corev1.Service](t, find(t, objs, "Service", systemNS, "nghttpx-gateway-metrics"))
	d := decode[appsv1.Deployment](t, find(t, objs, "Deployment", systemNS, "nghttpx-gateway"))
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not match the controller pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--metrics-addr=:8080") {
		t.Fatalf("args %v: want --metrics-addr=:8080", c.Args)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Fatalf("Service ports %+v: want one named metrics to the container port metrics", svc.Spec.Ports)
	}
	found := false
	for _, p := range c.Ports {
		found = found || p.Name == "metrics" && p.ContainerPort == 8080
	}
	if !found {
		t.Errorf("container ports %+v lack metrics:8080", c.Ports)
	}
	a := d.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape, port 8080, path /metrics", a)
	}
}

// The ServiceMonitor selects the metrics Service (by its labels, in its
// namespace) and its port by name; the PodMonitor selects data-plane pods only.
func TestServiceMonitor(t *testing.T) {
	mon := build(t, "monitoring")
	for _, o := range build(t, "default") {
		if o.GetKind() == "ServiceMonitor" || o.GetKind() == "PodMonitor" {
			t.Errorf("config/default has %s: it needs the Prometheus Operator's CRDs", key(o))
		}
	}
	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			NamespaceSelector map[string]any `json:"namespaceSelector"`
			Endpoints         []struct {
				Port string `json:"port"`
				Path string `json:"path"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	u := find(t, mon, "ServiceMonitor", systemNS, "nghttpx-gateway")
	if u.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion %s", u.GetAPIVersion())
	}
	remarshal(t, u.Object, &sm)
	svc := decode[corev1.Service](t, find(t, build(t, "controller"), "Service", systemNS, "nghttpx-gateway-metrics"))
	if len(sm.Spec.Selector.MatchLabels) == 0 || !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service's labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.NamespaceSelector) != 0 {
		t.Errorf("namespaceSelector %v: the Service is in the ServiceMonitor's namespace", sm.Spec.NamespaceSelector)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("endpoints %+v: want port %s, /metrics", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}

	var pm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port string `json:"port"`
			} `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	remarshal(t, find(t, mon, "PodMonitor", systemNS, "nghttpx-gateway-dataplanes").Object, &pm)
	d := decode[appsv1.Deployment](t, find(t, build(t, "controller"), "Deployment", systemNS, "nghttpx-gateway"))
	if labels.SelectorFromSet(pm.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("the PodMonitor selects the controller's pods")
	}
	if len(pm.Spec.Endpoints) != 1 || pm.Spec.Endpoints[0].Port != "admin" {
		t.Errorf("podMetricsEndpoints %+v: want the data plane's admin port", pm.Spec.Endpoints)
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// registered are the series the code serves, with their labels: the
// controller's, the data planes' (access log and apply metrics), and the
// data-plane build info (package main, read from its source).
func registered(t *testing.T) map[string][]string {
	t.Helper()
	rec := &descRecorder{}
	if _, err := accesslog.NewSink(rec, io.Discard, logr.Discard()); err != nil {
		t.Fatal(err)
	}
	rec.MustRegister(&apply.StatsSet{})
	descs := append(controller.MetricDescs(), rec.descs...)
	out := map[string][]string{}
	re := regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)
	for _, d := range descs {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		var ls []string
		for _, c := range strings.Split(m[2], ",") {
			if n, _, ok := strings.Cut(c, "="); ok {
				ls = append(ls, n)
			}
		}
		for _, v := range strings.Split(m[3], ",") {
			if v != "" {
				ls = append(ls, v)
			}
		}
		out[m[1]] = ls
	}
	src, err := os.ReadFile(filepath.Join(Dir(), "..", "cmd", "nghttpx-gateway", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), `"nghttpx_gateway_dataplane_build_info"`) {
		out["nghttpx_gateway_dataplane_build_info"] = []string{"version", "nghttpx_version", "mruby", "http3", "bpf", "ocsp"}
	}
	return out
}

// descRecorder is a Registerer that keeps what is registered on it.
type descRecorder struct{ descs []*prometheus.Desc }

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return nil
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *descRecorder) Unregister(prometheus.Collector) bool { return false }

// Labels every scrape adds (the ServiceMonitor and PodMonitor targets).
var targetLabels = []string{"pod", "namespace", "instance", "job", "container", "service", "endpoint"}

// The dashboard decodes, has the panels the docs promise, every query uses
// the datasource variable, and every PromQL expression is balanced and names
// only series and labels the code serves.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(Dir(), "monitoring", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
	}
	var d struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int      `json:"id"`
			Type       string   `json:"type"`
			Title      string   `json:"title"`
			Targets    []target `json:"targets"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q uid %q", d.Title, d.UID)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "datasource" && (v.Type != "datasource" || v.Query != "prometheus") {
			t.Errorf("datasource variable %+v: want type datasource, query prometheus", v)
		}
	}
	if vars["datasource"] == "" {
		t.Fatal("no datasource variable: the dashboard would be tied to one Prometheus")
	}
	names := registered(t)
	metricRe := regexp.MustCompile(`\bnghttpx_gateway_[a-z0-9_]+`)
	ids := map[int]bool{}
	var titles []string
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		titles = append(titles, p.Title)
		if p.Type == "row" {
			continue
		}
		if p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want ${datasource}", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" || tg.Datasource.Type != "prometheus" {
				t.Errorf("panel %q %s: datasource %+v", p.Title, tg.RefID, tg.Datasource)
			}
			checkPromQL(t, p.Title, tg.Expr, names, metricRe, vars)
		}
	}
	for _, want := range []string{"Requests/s by route", "5xx ratio by route", "Latency p50 by route", "Latency p99 by route",
		"Configuration applies", "Certificate expiry", "Build duration", "Status updates"} {
		if !slices.Contains(titles, want) {
			t.Errorf("no panel %q (panels %q)", want, titles)
		}
	}
}

// checkPromQL is what can be checked without a PromQL parser (the
// prometheus module is not a dependency): brackets balance outside strings,
// variables are the dashboard's or Grafana's, every series exists, and every
// label in a matcher or a by/without clause is one of those series' labels,
// le for histograms, or a scrape target label.
func checkPromQL(t *testing.T, panel, expr string, names map[string][]string, metricRe *regexp.Regexp, vars map[string]string) {
	t.Helper()
	var stack []rune
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inStr := false
	for _, r := range expr {
		switch {
		case r == '"':
			inStr = !inStr
		case inStr:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pair[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pair[r] {
				t.Errorf("panel %q: unbalanced %q in %s", panel, r, expr)
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 || inStr {
		t.Errorf("panel %q: unclosed brackets or string in %s", panel, expr)
	}
	for _, m := range regexp.MustCompile(`\$(__)?[a-z_]+`).FindAllString(expr, -1) {
		if !strings.HasPrefix(m, "$__") && vars[m[1:]] == "" {
			t.Errorf("panel %q: unknown variable %s", panel, m)
		}
	}
	var used []string
	histogram := false
	for _, m := range metricRe.FindAllString(expr, -1) {
		n := m
		if _, ok := names[n]; !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(m, suf); cut {
					if _, ok := names[base]; ok {
						n, histogram = base, histogram || suf == "_bucket"
					}
				}
			}
		}
		if _, ok := names[n]; !ok {
			t.Errorf("panel %q: %s is not a series the code serves", panel, m)
			continue
		}
		used = append(used, names[n]...)
	}
	allowed := append(slices.Clone(used), targetLabels...)
	if histogram {
		allowed = append(allowed, "le")
	}
	var ls []string
	for _, m := range regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`).FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			ls = append(ls, strings.TrimSpace(l))
		}
	}
	for _, m := range regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)\s*"`).FindAllStringSubmatch(expr, -1) {
		ls = append(ls, m[1])
	}
	for _, l := range ls {
		if !slices.Contains(allowed, l) {
			t.Errorf("panel %q: label %q is not one of %v in %s", panel, l, allowed, expr)
		}
	}
}

// docs/observability.md lists every series the controller serves.
func TestControllerMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(Dir(), "..", "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := controller.MetricNames()
	if len(names) < 20 {
		t.Fatalf("only %d controller metrics: %v", len(names), names)
	}
	for _, n := range names {
		if !strings.Contains(string(b), "`"+n+"`") {
			t.Errorf("docs/observability.md does not list %s", n)
		}
	}
}
