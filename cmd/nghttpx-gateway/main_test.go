package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

const (
	exIngress   = "../../examples/ingress/ingress.yaml"
	exBackends  = "../../examples/ingress/backends.yaml"
	exConfigMap = "../../examples/ingress/nghttpx-configmap.yaml"
)

// run calls dispatch as main does and returns exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// translateDocs splits translate's output into its YAML documents, decoded.
func translateDocs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, d := range strings.Split(out, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("document does not decode: %v\n%s", err, d)
		}
		docs = append(docs, m)
	}
	return docs
}

// rendered returns the rendered document of a Gateway.
func rendered(t *testing.T, docs []map[string]any, gw string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if d["gateway"] == gw && d["stateDir"] != nil {
			if e, ok := d["error"]; ok {
				t.Fatalf("Gateway %s did not render: %v", gw, e)
			}
			return d
		}
	}
	t.Fatalf("no rendered configuration for Gateway %s", gw)
	return nil
}

func TestTranslateIngressExample(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", exIngress, "-f", exBackends, "--nghttpx-http-port", "8080")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	docs := translateDocs(t, out)
	// The shim's report lists both Ingresses with their synthetic routes.
	var report map[string]any
	for _, d := range docs {
		if _, ok := d["ingresses"]; ok {
			report = d
		}
		if d["kind"] != nil {
			t.Errorf("the example has no user objects, yet %v %v was printed as one", d["kind"], d["metadata"])
		}
	}
	if report == nil {
		t.Fatal("no Ingress shim document")
	}
	ings := report["ingresses"].([]any)
	if len(ings) != 2 {
		t.Fatalf("%d Ingresses in the report, want 2", len(ings))
	}
	names := map[string]any{}
	for _, i := range ings {
		m := i.(map[string]any)
		names[m["name"].(string)] = m["httpRoutes"]
		if m["gateway"] != "nghttpx-ingress/nghttpx" || m["events"] != nil {
			t.Errorf("Ingress %v: gateway %v, events %v", m["name"], m["gateway"], m["events"])
		}
	}
	if r := names["echomap"]; len(r.([]any)) != 2 {
		t.Errorf("echomap routes %v, want one per host", r)
	}
	cfg := rendered(t, docs, "nghttpx-ingress/nghttpx")["config"].(map[string]any)
	main, backends, routes := cfg["nghttpx.conf"].(string), cfg["backends.conf"].(string), cfg["routes.rb"].(string)
	// Exact hosts are in the route table's shards.
	for name, body := range cfg {
		if strings.HasPrefix(name, "routes.d/") {
			routes += body.(string)
		}
	}
	if !strings.Contains(main, "frontend=127.0.0.1,8080;no-tls\n") {
		t.Errorf("--nghttpx-http-port not used:\n%s", main)
	}
	for _, want := range []string{"backend=127.0.0.1,19001;", "backend=127.0.0.1,19002;", ";affinity=cookie;affinity-cookie-name=lb;affinity-cookie-secure=no"} {
		if !strings.Contains(backends, want) {
			t.Errorf("backends.conf lacks %q:\n%s", want, backends)
		}
	}
	for _, want := range []string{`"foo.bar.com" => `, `"bar.baz.com" => `, `:body => "default backend - 404"`, ":weight => 3"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes.rb lacks %q", want)
		}
	}
}

func TestTranslateOperatorConfigMap(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", exIngress, "-f", exBackends, "-f", exConfigMap,
		"--nghttpx-configmap", "default/nghttpx-config", "--proxy-proto")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	d := rendered(t, translateDocs(t, out), "nghttpx-ingress/nghttpx")
	main := d["config"].(map[string]any)["nghttpx.conf"].(string)
	if !strings.HasSuffix(main, "# operator configuration (nghttpx-conf)\nadd-response-header=x-served-by: nghttpx-gateway\n") {
		t.Errorf("nghttpx-conf not at the end of the main configuration:\n%s", main)
	}
	if !strings.Contains(main, "frontend=127.0.0.1,80;no-tls;proxyproto\n") {
		t.Errorf("--proxy-proto not applied:\n%s", main)
	}
	var operator bool
	for name := range d["files"].(map[string]any) {
		operator = operator || strings.HasPrefix(name, "operator-")
	}
	if !operator {
		t.Errorf("no operator script file among %v", d["files"])
	}
	// A ConfigMap that is named but missing is reported, not fatal.
	code, out, _ = run(t, "translate", "-f", exIngress, "-f", exBackends, "--nghttpx-configmap", "default/missing")
	if code != 0 || !strings.Contains(out, "reason: ConfigMapNotFound") {
		t.Errorf("exit %d; missing ConfigMap not reported:\n%s", code, out)
	}
}

func TestTranslateGatewayAPIHasNoIngressReport(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", "../../examples/quickstart/gateway.yaml", "-f", "../../examples/quickstart/routes.yaml",
		"-f", "../../examples/quickstart/backends.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "Ingress shim") || !strings.Contains(out, "kind: HTTPRoute") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

func TestIngressFlags(t *testing.T) {
	code, _, errOut := run(t, "translate", "-f", exIngress, "-f", exBackends,
		"--nghttpx-workers", "4", "--ingress-class", "nghttpx", "--profiling", "--kubeconfig=/x", "--watch-namespace", "default")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"--nghttpx-workers", "--ingress-class", "--profiling", "--kubeconfig"} {
		if !strings.Contains(errOut, "warning: "+f+" is no longer supported") {
			t.Errorf("no warning for %s in %q", f, errOut)
		}
	}
	if strings.Contains(errOut, "watch-namespace") {
		t.Errorf("--watch-namespace is supported, yet warned about: %q", errOut)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--default-tls-secret", "no-namespace"}},
		{[]string{"--nghttpx-https-port", "70000"}},
		{[]string{"--profiling=maybe"}},
	} {
		code, _, errOut := run(t, append([]string{"translate", "-f", exIngress}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, strings.TrimPrefix(strings.SplitN(tc.args[0], "=", 2)[0], "--")) {
			t.Errorf("%v: exit %d, stderr %q; want a failure naming the flag", tc.args, code, errOut)
		}
	}
}

func TestConvertIngressExample(t *testing.T) {
	code, out, errOut := run(t, "convert", "-f", exIngress, "-f", exBackends)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	in, err := load.DecodeYAML([]byte(out))
	if err != nil {
		t.Fatalf("convert's output does not decode as objects: %v\n%s", err, out)
	}
	if len(in.GatewayClasses) != 1 || len(in.Gateways) != 1 || len(in.Gateways[0].Spec.Listeners) != 1 || in.Gateways[0].Spec.Listeners[0].Port != 80 {
		t.Fatalf("want one GatewayClass and one Gateway with an HTTP listener on 80:\n%s", out)
	}
	hosts := map[string]int{}
	var split []int32
	sticky := 0
	for _, r := range in.HTTPRoutes {
		for _, h := range r.Spec.Hostnames {
			hosts[string(h)]++
		}
		if r.Status.Parents != nil {
			t.Errorf("HTTPRoute %s carries status", r.Name)
		}
		for _, rule := range r.Spec.Rules {
			if sp := rule.SessionPersistence; sp != nil && sp.SessionName != nil && *sp.SessionName == "lb" {
				sticky++
			}
			if v := rule.Matches[0].Path.Value; v != nil && *v == "/split" {
				for _, b := range rule.BackendRefs {
					split = append(split, *b.Weight)
				}
			}
		}
	}
	if hosts["foo.bar.com"] != 1 || hosts["bar.baz.com"] != 1 || hosts["www.example.com"] != 1 {
		t.Errorf("routes per host %v", hosts)
	}
	if len(split) != 2 || split[0]+split[1] != 4 || split[0]*split[1] != 3 {
		t.Errorf("/split weights %v, want 3 and 1", split)
	}
	if sticky != 1 {
		t.Errorf("%d rules with sessionPersistence sessionName lb (the affinity cookie), want 1", sticky)
	}
	for _, w := range []string{"affinity cookie is sessionPersistence", "internal default backend"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks a warning about %q:\n%s", w, errOut)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			t.Errorf("stderr line %q is not a warning", l)
		}
	}
	// Ports from the original flags reach the listeners.
	_, out, _ = run(t, "convert", "-f", exIngress, "-f", exBackends, "--nghttpx-http-port", "8080")
	if in, err := load.DecodeYAML([]byte(out)); err != nil || in.Gateways[0].Spec.Listeners[0].Port != 8080 {
		t.Errorf("--nghttpx-http-port 8080 not applied: %v\n%s", err, out)
	}
}

func TestConvertNeedsIngresses(t *testing.T) {
	if code, _, errOut := run(t, "convert", "-f", exBackends); code == 0 || !strings.Contains(errOut, "no Ingress") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := run(t, "convert"); code == 0 {
		t.Error("convert without input succeeded")
	}
}
