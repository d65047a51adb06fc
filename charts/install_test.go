package charts

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
	kubefake "helm.sh/helm/v4/pkg/kube/fake"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	restfake "k8s.io/client-go/rest/fake"
	"sigs.k8s.io/yaml"
)

// apiServer stands in for the cluster in Helm's install, upgrade and uninstall
// actions where it matters here: mapping an object needs its kind known, so a
// custom resource needs its CRD created first, as on a real API server (Helm maps
// every object of a release before it creates any). Nothing exists beforehand.
type apiServer struct {
	kubefake.PrintingKubeClient
	crds    map[schema.GroupKind]bool
	created []string
}

func newAPIServer() *apiServer {
	return &apiServer{PrintingKubeClient: kubefake.PrintingKubeClient{Out: io.Discard, LogOutput: io.Discard}, crds: map[schema.GroupKind]bool{}}
}

func (a *apiServer) Build(r io.Reader, _ bool) (kube.ResourceList, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var list kube.ResourceList
	for _, doc := range strings.Split(string(b), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		gvk := u.GroupVersionKind()
		if !clientgoscheme.Scheme.Recognizes(gvk) && gvk.Group != "apiextensions.k8s.io" && !a.crds[gvk.GroupKind()] {
			return nil, fmt.Errorf("resource mapping not found for name: %q kind %q: ensure CRDs are installed first", u.GetName(), gvk.Kind)
		}
		scope := meta.RESTScopeNamespace
		if u.GetNamespace() == "" {
			scope = meta.RESTScopeRoot
		}
		list = append(list, &resource.Info{
			Client:    notFound(),
			Mapping:   &meta.RESTMapping{Resource: gvk.GroupVersion().WithResource(strings.ToLower(gvk.Kind) + "s"), GroupVersionKind: gvk, Scope: scope},
			Namespace: u.GetNamespace(), Name: u.GetName(), Object: u,
		})
	}
	return list, nil
}

func (a *apiServer) Create(rs kube.ResourceList, _ ...kube.ClientCreateOption) (*kube.Result, error) {
	for _, r := range rs {
		u := r.Object.(*unstructured.Unstructured)
		if u.GetKind() == "CustomResourceDefinition" {
			group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
			a.crds[schema.GroupKind{Group: group, Kind: kind}] = true
		}
		a.created = append(a.created, u.GetKind()+"/"+u.GetName())
	}
	return &kube.Result{Created: rs}, nil
}

// notFound answers every GET with 404 (no object exists yet).
func notFound() *restfake.RESTClient {
	return &restfake.RESTClient{
		NegotiatedSerializer: clientgoscheme.Codecs.WithoutConversion(),
		Client: restfake.CreateHTTPClient(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)))}, nil
		}),
	}
}

func actionConfig(a *apiServer) *action.Configuration {
	cfg := action.NewConfiguration()
	cfg.Releases = storage.Init(driver.NewMemory())
	cfg.KubeClient = a
	caps := common.DefaultCapabilities.Copy()
	if kv, err := common.ParseKubeVersion("v1.36.3"); err == nil {
		caps.KubeVersion = *kv
	}
	cfg.Capabilities = caps
	return cfg
}

// TestInstallUpgradeUninstall runs Helm's own actions: on an empty cluster the
// default install creates the CRDs before the objects that need them (the
// GatewayClass); an upgrade that changes a data-plane default changes the
// parameters ConfigMap; uninstall deletes the release.
func TestInstallUpgradeUninstall(t *testing.T) {
	a := newAPIServer()
	cfg := actionConfig(a)
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = "nghttpx-gateway", namespace
	rel, err := install.Run(loadChart(t), nil)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}
	if len(a.created) == 0 || !strings.HasPrefix(a.created[0], "CustomResourceDefinition/") {
		t.Fatalf("created %v, CRDs first", a.created)
	}
	if !strings.Contains(strings.Join(a.created, " "), "GatewayClass/nghttpx") {
		t.Errorf("created %v, no GatewayClass", a.created)
	}
	if m := rel.(*release.Release).Manifest; strings.Contains(m, "kind: CustomResourceDefinition") {
		t.Errorf("the release manifest holds the CRDs (Helm would delete them on uninstall)")
	}

	up := action.NewUpgrade(cfg)
	up.Namespace = namespace
	rel, err = up.Run("nghttpx-gateway", loadChart(t), map[string]any{"dataPlane": map[string]any{"proxyProtocol": true}})
	if err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if m := rel.(*release.Release).Manifest; !strings.Contains(m, `proxyProtocol: "true"`) {
		t.Errorf("upgraded manifest lacks proxyProtocol \"true\":\n%s", m)
	}

	if _, err := action.NewUninstall(cfg).Run("nghttpx-gateway"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	if _, err := cfg.Releases.Last("nghttpx-gateway"); err == nil {
		t.Errorf("the release is still recorded after uninstall")
	}
}

// Without CRDs on an empty cluster the install fails to map the GatewayClass:
// the check above is the API server's, not a formality.
func TestInstallWithoutCRDsNeedsThem(t *testing.T) {
	install := action.NewInstall(actionConfig(newAPIServer()))
	install.ReleaseName, install.Namespace = "nghttpx-gateway", namespace
	_, err := install.Run(loadChart(t), map[string]any{"crds-standard": map[string]any{"enabled": false}})
	if err == nil || !strings.Contains(err.Error(), "ensure CRDs are installed first") {
		t.Fatalf("install without CRDs: %v, want a mapping error", err)
	}
}
