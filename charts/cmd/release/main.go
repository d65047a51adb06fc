package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// Namespace is where install.yaml puts the controller (config/controller's).
const Namespace = "nghttpx-gateway-system"

// versionRE is a release tag: v and a SemVer 2 version.
var versionRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

func main() {
	version := flag.String("version", "", "release version, vX.Y.Z[-pre]")
	chartDir := flag.String("chart", "nghttpx-gateway", "chart directory")
	out := flag.String("out", "../dist", "output directory")
	flag.Parse()
	files, err := Write(*chartDir, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}

// Write writes the release files of version into out and returns their paths.
func Write(chartDir, version, out string) ([]string, error) {
	if !versionRE.MatchString(version) {
		return nil, fmt.Errorf("version %q is not vX.Y.Z[-pre]", version)
	}
	c, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	c.Metadata.Version = strings.TrimPrefix(version, "v")
	c.Metadata.AppVersion = version
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	install, err := InstallYAML(c)
	if err != nil {
		return nil, err
	}
	var written []string
	write := func(name string, b []byte) error {
		p := filepath.Join(out, name)
		written = append(written, p)
		return os.WriteFile(p, b, 0o644)
	}
	if err := write("install.yaml", install); err != nil {
		return nil, err
	}
	for _, ch := range []string{"standard", "experimental"} {
		b, err := CRDs(c, ch)
		if err != nil {
			return nil, err
		}
		if err := write("crds-"+ch+".yaml", b); err != nil {
			return nil, err
		}
	}
	tgz, err := v2util.Save(c, out)
	if err != nil {
		return nil, err
	}
	return append(written, tgz), nil
}

// InstallYAML renders the chart as `helm template` would for namespace
// nghttpx-gateway-system without CRDs, after a Namespace that enforces the
// restricted Pod Security Standard (config/controller/namespace.yaml).
func InstallYAML(c *chart.Chart) ([]byte, error) {
	c = withoutCRDs(c)
	vals := map[string]any{"crds-standard": map[string]any{"enabled": false}}
	rv, err := chartutil.ToRenderValues(c, vals, common.ReleaseOptions{Name: "nghttpx-gateway", Namespace: Namespace, IsInstall: true, Revision: 1}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, rv)
	if err != nil {
		return nil, err
	}
	_, ms, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# nghttpx-gateway %s: kubectl apply --server-side -f install.yaml\n", c.Metadata.AppVersion)
	b.WriteString("# (the Gateway API CRDs first: crds-standard.yaml or crds-experimental.yaml)\n")
	fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/name: nghttpx-gateway\n    pod-security.kubernetes.io/enforce: restricted\n", Namespace)
	for _, m := range ms {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, strings.TrimSpace(m.Content))
	}
	return b.Bytes(), nil
}

// withoutCRDs is a copy of c without its CRD subcharts (rendering drops disabled
// subcharts from the chart it renders).
func withoutCRDs(c *chart.Chart) *chart.Chart {
	cp := *c
	cp.SetDependencies()
	return &cp
}

// CRDs concatenates the chart's copy of a channel's Gateway API CRDs (its
// subchart crds-CHANNEL).
func CRDs(c *chart.Chart, channel string) ([]byte, error) {
	var sub *chart.Chart
	for _, d := range c.Dependencies() {
		if d.Name() == "crds-"+channel {
			sub = d
		}
	}
	if sub == nil {
		return nil, fmt.Errorf("the chart has no subchart crds-%s", channel)
	}
	// The CRDs from crds/, the safe-upgrades policy from templates/ (crds/ may
	// hold only CRDs), in the module's order of file names.
	var names []string
	data := map[string][]byte{}
	add := func(name string, b []byte) {
		base := filepath.Base(name)
		names = append(names, base)
		data[base] = b
	}
	for _, f := range sub.Files {
		if strings.HasPrefix(f.Name, "crds/") && strings.HasSuffix(f.Name, ".yaml") {
			add(f.Name, f.Data)
		}
	}
	for _, f := range sub.Templates {
		if strings.HasSuffix(f.Name, ".yaml") {
			add(f.Name, f.Data)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("subchart crds-%s has no crds/*.yaml", channel)
	}
	sort.Strings(names)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Gateway API CRDs, %s channel (from sigs.k8s.io/gateway-api config/crd/%s):\n# kubectl apply --server-side -f crds-%s.yaml\n", channel, channel, channel)
	for _, n := range names {
		d := bytes.TrimSpace(data[n])
		if !bytes.HasPrefix(d, []byte("---")) {
			b.WriteString("---\n")
		}
		b.Write(d)
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}
