package charts

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
)

const (
	chartDir  = "nghttpx-gateway"
	namespace = "nghttpx-gateway-system" // config/rbac's, so objects compare literally
)

// valueSets are the golden cases: testdata/<name>.values.yaml -> <name>.golden.yaml.
var valueSets = []string{"default", "experimental", "custom"}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readValues(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := common.ReadValuesFile(filepath.Join("testdata", name+".values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// render is `helm template --namespace nghttpx-gateway-system nghttpx-gateway`:
// disabled subcharts dropped, values checked against the schema, templates
// rendered, manifests in install order. It changes c.
func render(c *chart.Chart, vals map[string]any) ([]releaseutil.Manifest, error) {
	if err := v2util.ProcessDependencies(c, vals); err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	kv, err := common.ParseKubeVersion("v1.36.3")
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValues(c, vals, common.ReleaseOptions{Name: "nghttpx-gateway", Namespace: namespace, IsInstall: true, Revision: 1}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, rv)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	_, ms, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	return ms, err
}

func mustRender(t *testing.T, vals map[string]any) []releaseutil.Manifest {
	t.Helper()
	ms, err := render(loadChart(t), vals)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestLint(t *testing.T) {
	for _, name := range valueSets {
		t.Run(name, func(t *testing.T) {
			l := lint.RunAll(chartDir, readValues(t, name), namespace)
			for _, m := range l.Messages {
				// Chart.yaml has no icon: the only remark allowed.
				if m.Severity > support.InfoSev || !strings.Contains(m.Err.Error(), "icon is recommended") {
					t.Errorf("helm lint: %s", m)
				}
			}
		})
	}
}

// TestTemplateGolden keeps `helm template --include-crds` output for each value
// set. The CRDs are shown by their metadata only (TestCRDsAreUpstream checks them).
func TestTemplateGolden(t *testing.T) {
	for _, name := range valueSets {
		t.Run(name, func(t *testing.T) {
			c := loadChart(t)
			ms, err := render(c, readValues(t, name))
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for _, crd := range c.CRDObjects() {
				fmt.Fprintf(&b, "---\n# Source: %s\n", crd.Filename)
				b.WriteString(crdSummary(t, string(crd.File.Data)))
			}
			for _, m := range ms {
				fmt.Fprintf(&b, "---\n# Source: %s\n", m.Name)
				b.WriteString(strings.TrimSpace(m.Content) + "\n")
			}
			golden.Check(t, filepath.Join("testdata", name+".golden.yaml"), b.Bytes())
		})
	}
}

// crdDocs are the documents of the CRDs Helm installs first (the crds/
// directories of c and its enabled subcharts, once render has processed them).
func crdDocs(c *chart.Chart) []string {
	var docs []string
	for _, crd := range c.CRDObjects() {
		for _, d := range releaseutil.SplitManifests(string(crd.File.Data)) {
			docs = append(docs, d)
		}
	}
	return docs
}

func crdSummary(t *testing.T, doc string) string {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal([]byte(doc), &crd); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{
		"apiVersion": crd.APIVersion, "kind": crd.Kind,
		"metadata": map[string]any{"name": crd.Name, "annotations": crd.Annotations},
		"spec":     "(" + fmt.Sprint(len(crd.Spec.Versions)) + " versions, from the Gateway API module)",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"unknown top-level key", "replicas: 3", "replicas"},
		{"unknown nested key", "controller: {replica: 3}", "replica"},
		{"CRD channel", "crds: {channel: standard}", "crds"},
		{"both CRD channels", "crds-experimental: {enabled: true}", "not"},
		{"log format", "logging: {format: xml}", "format"},
		{"log level", "logging: {level: 11}", "level"},
		{"service type", "dataPlane: {serviceType: External}", "serviceType"},
		{"boolean as string", `ingress: {enabled: "yes"}`, "enabled"},
		{"port", "metrics: {port: 70000}", "port"},
		{"duration", "leaderElection: {leaseDuration: 15}", "leaseDuration"},
		{"namespace/name", "ingress: {defaultTLSSecret: just-a-name}", "defaultTLSSecret"},
		{"extra arg", "controller: {extraArgs: [serve]}", "extraArgs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := common.ReadValues([]byte(tc.values))
			if err != nil {
				t.Fatal(err)
			}
			_, err = render(loadChart(t), vals)
			if err == nil {
				t.Fatalf("%s: rendered; want a schema error", tc.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not name the schema and %q", tc.values, err, tc.want)
			}
		})
	}
	// The same check accepts every golden value set.
	c := loadChart(t)
	for _, name := range valueSets {
		if err := chartutil.ValidateAgainstSchema(c, mustCoalesce(t, c, readValues(t, name))); err != nil {
			t.Errorf("%s values: %v", name, err)
		}
	}
}

func mustCoalesce(t *testing.T, c *chart.Chart, vals map[string]any) map[string]any {
	t.Helper()
	v, err := chartutil.CoalesceValues(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestObjectsDecode decodes every rendered object strictly (unknown or duplicate
// fields fail) as a kind the Kubernetes and Gateway API types know.
func TestObjectsDecode(t *testing.T) {
	s := scheme(t)
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true})
	for _, name := range valueSets {
		t.Run(name, func(t *testing.T) {
			c := loadChart(t)
			ms, err := render(c, readValues(t, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range crdDocs(c) {
				ms = append(ms, releaseutil.Manifest{Name: "crds/", Content: d, Head: &releaseutil.SimpleHead{Kind: "CustomResourceDefinition"}})
			}
			for _, m := range ms {
				if m.Head.Kind == "ServiceMonitor" {
					// Not in client-go: checked against the fields the template writes.
					var sm serviceMonitor
					if err := yaml.UnmarshalStrict([]byte(m.Content), &sm); err != nil || sm.APIVersion != "monitoring.coreos.com/v1" ||
						len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
						t.Errorf("%s: ServiceMonitor %+v: %v", m.Name, sm, err)
					}
					continue
				}
				obj, gvk, err := strict.Decode([]byte(m.Content), nil, nil)
				if err != nil {
					t.Errorf("%s (%s): %v", m.Name, m.Head.Kind, err)
					continue
				}
				if _, ok := obj.(*unstructured.Unstructured); ok {
					t.Errorf("%s: %v is not a known kind", m.Name, gvk)
				}
			}
		})
	}
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the chart uses.
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects renders vals into unstructured objects keyed kind/namespace/name.
func objects(t *testing.T, docs []string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, d := range docs {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		out[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = u
	}
	return out
}

func manifestDocs(ms []releaseutil.Manifest) []string {
	var docs []string
	for _, m := range ms {
		docs = append(docs, m.Content)
	}
	return docs
}

func fileDocs(t *testing.T, paths ...string) []string {
	t.Helper()
	var docs []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range releaseutil.SplitManifests(string(b)) {
			docs = append(docs, d)
		}
	}
	return docs
}

// rbacKinds are the objects config/rbac holds besides the ServiceAccount.
var rbacKinds = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
}

// TestRBACMatchesConfig: the chart's RBAC and admission policies are config/rbac's,
// object for object (labels aside), and the chart grants nothing else.
func TestRBACMatchesConfig(t *testing.T) {
	files, err := filepath.Glob("../config/rbac/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("config/rbac: %v", err)
	}
	var want []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			want = append(want, f)
		}
	}
	cfg := objects(t, fileDocs(t, want...))
	got := objects(t, manifestDocs(mustRender(t, nil)))
	for k, w := range cfg {
		g := got[k]
		if g == nil {
			t.Errorf("%s of config/rbac is not in the chart", k)
			continue
		}
		w, g = w.DeepCopy(), g.DeepCopy()
		w.SetLabels(nil)
		g.SetLabels(nil)
		if !reflect.DeepEqual(w.Object, g.Object) {
			wb, _ := yaml.Marshal(w.Object)
			gb, _ := yaml.Marshal(g.Object)
			t.Errorf("%s differs from config/rbac:\n--- config/rbac\n%s--- chart\n%s", k, wb, gb)
		}
	}
	for k, g := range got {
		if rbacKinds[g.GetKind()] && cfg[k] == nil && !strings.Contains(g.GetName(), "gateway.networking.k8s.io") {
			t.Errorf("the chart has %s, which config/rbac does not", k)
		}
	}
}

// TestCRDsAreUpstream: each channel installs exactly the Gateway API module's
// files (CRDs from crds/, the safe-upgrades policy as a template), neither
// installs none, and the release stores only the enabled channel's subchart.
func TestCRDsAreUpstream(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("go list -m sigs.k8s.io/gateway-api: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	for _, channel := range []string{"standard", "experimental", "none"} {
		t.Run(channel, func(t *testing.T) {
			vals := map[string]any{
				"crds-standard":     map[string]any{"enabled": channel == "standard"},
				"crds-experimental": map[string]any{"enabled": channel == "experimental"},
			}
			c := loadChart(t)
			ms, err := render(c, vals)
			if err != nil {
				t.Fatal(err)
			}
			var deps []string
			for _, d := range c.Dependencies() {
				deps = append(deps, d.Name())
			}
			if want := "crds-" + channel; (channel == "none" && len(deps) != 0) || (channel != "none" && (len(deps) != 1 || deps[0] != want)) {
				t.Errorf("the release would store subcharts %v", deps)
			}
			docs := crdDocs(c)
			for _, m := range ms {
				if strings.Contains(m.Name, "/charts/crds-") {
					docs = append(docs, m.Content)
				}
			}
			got := objects(t, docs)
			want := map[string]*unstructured.Unstructured{}
			if channel != "none" {
				files, _ := filepath.Glob(filepath.Join(mod, "config/crd", channel, "*.yaml"))
				var paths []string
				for _, f := range files {
					if filepath.Base(f) != "kustomization.yaml" {
						paths = append(paths, f)
					}
				}
				want = objects(t, fileDocs(t, paths...))
				if len(want) < 10 {
					t.Fatalf("%d objects in the module's %s channel", len(want), channel)
				}
			}
			if len(got) != len(want) {
				t.Errorf("installs %d objects, the module has %d", len(got), len(want))
			}
			for k, w := range want {
				if g := got[k]; g == nil {
					t.Errorf("%s is not installed", k)
				} else if !reflect.DeepEqual(w.Object, g.Object) {
					t.Errorf("%s differs from the module's file", k)
				}
			}
		})
	}
}

// TestReleaseFitsInASecret: what Helm stores for a release (the chart as JSON,
// which leaves subcharts out, and the manifest; gzip, base64) stays well under a
// Secret's 1 MiB. CRDs kept in the parent chart's files would not fit.
func TestReleaseFitsInASecret(t *testing.T) {
	for _, name := range valueSets {
		t.Run(name, func(t *testing.T) {
			c := loadChart(t)
			ms, err := render(c, readValues(t, name))
			if err != nil {
				t.Fatal(err)
			}
			var man strings.Builder
			for _, m := range ms {
				man.WriteString(m.Content)
			}
			b, err := stdjson.Marshal(map[string]any{"chart": c, "manifest": man.String()})
			if err != nil {
				t.Fatal(err)
			}
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			if _, err := w.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			n := base64.StdEncoding.EncodedLen(z.Len())
			t.Logf("%s: release %d bytes as stored", name, n)
			if n > 900<<10 {
				t.Errorf("%s: the release takes %d bytes of its Secret's 1 MiB", name, n)
			}
		})
	}
}

// TestArgsAreServeFlags: every flag the chart passes is one `nghttpx-gateway serve`
// defines (built from this checkout, in its own module).
func TestArgsAreServeFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the controller")
	}
	cmd := exec.Command("go", "-C", "..", "run", "./cmd/nghttpx-gateway", "serve", "-h")
	out, _ := cmd.CombinedOutput() // -h exits 2 after printing the flags
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok && strings.HasPrefix(line, "  -") {
			flags[strings.Fields(f)[0]] = true
		}
	}
	if !flags["proxy-image"] || !flags["serve-ingress"] {
		t.Fatalf("serve -h lists no known flag:\n%s", out)
	}
	for _, name := range valueSets {
		for _, m := range mustRender(t, readValues(t, name)) {
			if m.Head.Kind != "Deployment" {
				continue
			}
			var d struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Args []string `json:"args"`
							} `json:"containers"`
						} `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal([]byte(m.Content), &d); err != nil {
				t.Fatal(err)
			}
			args := d.Spec.Template.Spec.Containers[0].Args
			if args[0] != "serve" {
				t.Errorf("%s: args %v do not start with serve", name, args)
			}
			for _, a := range args[1:] {
				f, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				if !flags[f] {
					t.Errorf("%s: %s is not a serve flag", name, a)
				}
			}
		}
	}
}
