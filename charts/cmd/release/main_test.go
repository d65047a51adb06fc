package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

func TestWrite(t *testing.T) {
	out := t.TempDir()
	files, err := Write("../../nghttpx-gateway", "v0.0.0-test", out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := "install.yaml crds-standard.yaml crds-experimental.yaml nghttpx-gateway-0.0.0-test.tgz"; strings.Join(names, " ") != want {
		t.Fatalf("wrote %v, want %s", names, want)
	}

	// install.yaml: the namespace first, no CRD, the image of the version.
	objs := docs(t, filepath.Join(out, "install.yaml"))
	if objs[0].GetKind() != "Namespace" || objs[0].GetName() != Namespace {
		t.Errorf("first object %s %s, want the Namespace", objs[0].GetKind(), objs[0].GetName())
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetNamespace() != "" && o.GetNamespace() != Namespace {
			t.Errorf("%s %s in namespace %s", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			b, _ := yaml.Marshal(o.Object)
			if err := yaml.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			c := d.Spec.Template.Spec.Containers[0]
			const image = "ghcr.io/nghttpx-gateway/nghttpx-gateway:v0.0.0-test"
			if c.Image != image || !contains(c.Args, "--proxy-image="+image) {
				t.Errorf("controller image %s args %v, want %s for both", c.Image, c.Args, image)
			}
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "GatewayClass", "ConfigMap", "ValidatingAdmissionPolicy"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s (%v)", k, kinds)
		}
	}
	if kinds["CustomResourceDefinition"] != 0 {
		t.Errorf("install.yaml holds CRDs")
	}

	// The CRD files: only CRDs and the upstream safe-upgrades policy, of one channel each.
	for ch, want := range map[string]int{"standard": 10, "experimental": 13} {
		n := 0
		for _, o := range docs(t, filepath.Join(out, "crds-"+ch+".yaml")) {
			switch o.GetKind() {
			case "CustomResourceDefinition":
				n++
				if got := o.GetAnnotations()["gateway.networking.k8s.io/channel"]; got != ch {
					t.Errorf("crds-%s.yaml: %s of channel %q", ch, o.GetName(), got)
				}
			case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			default:
				t.Errorf("crds-%s.yaml: %s %s", ch, o.GetKind(), o.GetName())
			}
		}
		if n != want {
			t.Errorf("crds-%s.yaml: %d CRDs, want %d", ch, n, want)
		}
	}

	// The chart archive loads, carries the version, and holds no test files.
	tgz := filepath.Join(out, "nghttpx-gateway-0.0.0-test.tgz")
	c, err := loader.Load(tgz)
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, d := range c.Dependencies() {
		deps = append(deps, d.Name()+"-"+d.Metadata.Version)
	}
	if strings.Join(deps, " ") != "crds-experimental-1.6.3 crds-standard-1.6.3" && strings.Join(deps, " ") != "crds-standard-1.6.3 crds-experimental-1.6.3" {
		t.Errorf("packaged chart holds subcharts %v, want both CRD channels", deps)
	}
	if c.Metadata.Version != "0.0.0-test" || c.Metadata.AppVersion != "v0.0.0-test" {
		t.Errorf("packaged chart version %s appVersion %s", c.Metadata.Version, c.Metadata.AppVersion)
	}
	for _, name := range tarNames(t, tgz) {
		if !strings.HasPrefix(name, "nghttpx-gateway/") || strings.HasSuffix(name, ".go") {
			t.Errorf("archive holds %s", name)
		}
	}
}

func TestWriteRefusesBadVersion(t *testing.T) {
	for _, v := range []string{"", "1.2.3", "v1.2", "v01.2.3", "v1.2.3+build", "v1.2.3 "} {
		if _, err := Write("../../nghttpx-gateway", v, t.TempDir()); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func docs(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	split := releaseutil.SplitManifests(string(b))
	var out []*unstructured.Unstructured
	for i := 0; i < len(split); i++ {
		d := split["manifest-"+strconv.Itoa(i)]
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(z)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
