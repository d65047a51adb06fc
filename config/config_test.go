package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

const (
	bundleVersion = "v1.6.3"
	systemNS      = "nghttpx-gateway-system"
	image         = "ghcr.io/nghttpx-gateway/nghttpx-gateway"
)

var bases = []string{"crd", "rbac", "controller", "gatewayclass", "default"}

func build(t *testing.T, base string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Build(filepath.Join(Dir(), base))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s renders no objects", base)
	}
	return objs
}

func key(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// Every base builds, and every YAML file in a base directory is one of its resources
// (a file left out of kustomization.yaml would silently not be installed).
func TestBasesBuildAndListEveryFile(t *testing.T) {
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			build(t, base)
			dir := filepath.Join(Dir(), base)
			var k struct {
				Resources []string `json:"resources"`
			}
			b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.UnmarshalStrict(b, &struct {
				APIVersion string   `json:"apiVersion"`
				Kind       string   `json:"kind"`
				Resources  []string `json:"resources"`
			}{}); err != nil {
				t.Fatalf("kustomization.yaml uses more than apiVersion/kind/resources: %v", err)
			}
			if err := yaml.Unmarshal(b, &k); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			for _, f := range files {
				name := filepath.Base(f)
				if name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
					t.Errorf("%s/%s is not listed in kustomization.yaml", base, name)
				}
			}
		})
	}
}

// default is exactly the union of the other bases.
func TestDefaultIsUnionOfBases(t *testing.T) {
	want := map[string]bool{}
	for _, base := range bases[:len(bases)-1] {
		for _, o := range build(t, base) {
			if want[key(o)] {
				t.Errorf("%s appears in two bases", key(o))
			}
			want[key(o)] = true
		}
	}
	got := map[string]bool{}
	for _, o := range build(t, "default") {
		got[key(o)] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("default misses %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("default has extra %s", k)
		}
	}
}

// Build orders objects so that a plain apply in order works: the namespace and CRDs
// before what lives in them, the GatewayClass after its CRD.
func TestBuildOrder(t *testing.T) {
	pos := map[string]int{}
	objs := build(t, "default")
	for i, o := range objs {
		if _, ok := pos[o.GetKind()]; !ok {
			pos[o.GetKind()] = i
		}
	}
	for _, kind := range []string{"ServiceAccount", "Deployment", "Role", "RoleBinding"} {
		if pos["Namespace"] > pos[kind] {
			t.Errorf("Namespace comes after %s", kind)
		}
	}
	last := 0
	for i, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			last = i
		}
	}
	if pos["GatewayClass"] < last {
		t.Errorf("GatewayClass at %d comes before the last CRD at %d", pos["GatewayClass"], last)
	}
}

func goModCache(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// The CRDs are the unchanged experimental channel of the gateway-api module we build
// against; the conformance suite refuses to run without the bundle version.
func TestCRDsAreVendoredUnchanged(t *testing.T) {
	upstream := filepath.Join(goModCache(t), "sigs.k8s.io", "gateway-api@"+bundleVersion, "config", "crd", "experimental")
	files, err := filepath.Glob(filepath.Join(upstream, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no upstream CRDs in %s (go mod download sigs.k8s.io/gateway-api@%s): %v", upstream, bundleVersion, err)
	}
	var names []string
	for _, f := range files {
		name := filepath.Base(f)
		if name == "kustomization.yaml" {
			continue
		}
		names = append(names, name)
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(Dir(), "crd", name))
		if err != nil {
			t.Errorf("missing vendored %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("crd/%s differs from %s", name, f)
		}
	}
	mine, _ := filepath.Glob(filepath.Join(Dir(), "crd", "gateway*.yaml"))
	if len(mine) != len(names) {
		t.Errorf("config/crd has %d manifests, upstream %d", len(mine), len(names))
	}

	crds := 0
	for _, o := range build(t, "crd") {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crds++
		a := o.GetAnnotations()
		if a["gateway.networking.k8s.io/bundle-version"] != bundleVersion {
			t.Errorf("%s: bundle-version %q, want %s", o.GetName(), a["gateway.networking.k8s.io/bundle-version"], bundleVersion)
		}
		if a["gateway.networking.k8s.io/channel"] != "experimental" {
			t.Errorf("%s: channel %q, want experimental", o.GetName(), a["gateway.networking.k8s.io/channel"])
		}
	}
	for _, need := range []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "listenersets", "referencegrants"} {
		found := false
		for _, o := range build(t, "crd") {
			found = found || o.GetName() == need+".gateway.networking.k8s.io"
		}
		if !found {
			t.Errorf("CRD %s missing", need)
		}
	}
	if crds < 10 {
		t.Errorf("only %d CRDs rendered", crds)
	}
}

func decode[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	v := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, v, true); err != nil {
		t.Fatalf("%s: %v", key(u), err)
	}
	return v
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s %s/%s not rendered", kind, ns, name)
	return nil
}

func TestControllerDeployment(t *testing.T) {
	objs := build(t, "default")
	find(t, objs, "Namespace", "", systemNS)
	d := decode[appsv1.Deployment](t, find(t, objs, "Deployment", systemNS, "nghttpx-gateway"))
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want at least 2 so a standby can take over leadership", d.Spec.Replicas)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "nghttpx-gateway" {
		t.Errorf("serviceAccountName %q", spec.ServiceAccountName)
	}
	find(t, objs, "ServiceAccount", systemNS, spec.ServiceAccountName)
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Error("pod must set runAsNonRoot")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !strings.HasPrefix(c.Image, image+":") {
		t.Errorf("image %q, want %s:<tag>", c.Image, image)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" || !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("args %q: want serve --leader-elect ...", c.Args)
	}
	if !slices.Contains(c.Args, "--proxy-image="+c.Image) {
		t.Errorf("args %q: the data planes must run the controller's image %s (--proxy-image)", c.Args, c.Image)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("controller needs readiness and liveness probes")
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, corev1.Capability("ALL")) {
		t.Errorf("container securityContext too loose: %+v", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources incomplete: %+v", c.Resources)
	}
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name)
	}
	if !slices.Contains(env, "POD_NAMESPACE") {
		t.Errorf("env %v: POD_NAMESPACE tells leader election where its Lease lives", env)
	}
}

func TestGatewayClass(t *testing.T) {
	gc := find(t, build(t, "gatewayclass"), "GatewayClass", "", "nghttpx")
	got, _, _ := unstructured.NestedString(gc.Object, "spec", "controllerName")
	if got != translate.DefaultControllerName {
		t.Errorf("controllerName %q, want %q", got, translate.DefaultControllerName)
	}
}

type grant struct{ group, resource, verb string }

func grants(rules []rbacv1.PolicyRule) map[grant]bool {
	out := map[grant]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out[grant{g, res, v}] = true
				}
			}
		}
	}
	return out
}

func noWildcards(t *testing.T, name string, rules []rbacv1.PolicyRule) {
	t.Helper()
	for _, r := range rules {
		if slices.Contains(r.APIGroups, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.Verbs, "*") || len(r.NonResourceURLs) > 0 {
			t.Errorf("%s: wildcard or non-resource rule %+v", name, r)
		}
	}
}

var readOnly = []string{"get", "list", "watch"}

// The proxy role can only read.
func TestProxyRoleIsReadOnly(t *testing.T) {
	role := decode[rbacv1.ClusterRole](t, find(t, build(t, "rbac"), "ClusterRole", "", "nghttpx-gateway-proxy"))
	noWildcards(t, role.Name, role.Rules)
	g := grants(role.Rules)
	for k := range g {
		if !slices.Contains(readOnly, k.verb) {
			t.Errorf("proxy role grants %s on %s/%s", k.verb, k.group, k.resource)
		}
	}
	// Only the controller reads cert-manager Certificates (status messages).
	for k := range g {
		if k.group == "cert-manager.io" {
			t.Errorf("proxy role grants %s on %s/%s; proxies do not need Certificates", k.verb, k.group, k.resource)
		}
	}
	// Secrets and ConfigMaps come only through the per-Gateway access Roles the
	// controller writes (kube/provision/access.go), never cluster-wide.
	for k := range g {
		if k.group == "" && (k.resource == "secrets" || k.resource == "configmaps") {
			t.Errorf("proxy ClusterRole grants %s on %s; proxies read them by name through their access Roles", k.verb, k.resource)
		}
	}
	for _, need := range []grant{
		{"gateway.networking.k8s.io", "gateways", "watch"}, {"gateway.networking.k8s.io", "httproutes", "list"},
		{"gateway.networking.k8s.io", "grpcroutes", "list"}, {"gateway.networking.k8s.io", "grpcroutes", "watch"},
		{"gateway.networking.k8s.io", "gatewayclasses", "watch"}, {"gateway.networking.k8s.io", "referencegrants", "list"},
		{"gateway.networking.k8s.io", "listenersets", "list"}, {"gateway.networking.k8s.io", "listenersets", "watch"},
		{"gateway.networking.k8s.io", "backendtlspolicies", "list"}, {"gateway.networking.k8s.io", "backendtlspolicies", "watch"},
		{"discovery.k8s.io", "endpointslices", "watch"}, {"", "services", "watch"},
		{"", "namespaces", "list"}, {"networking.k8s.io", "ingresses", "watch"}, {"networking.k8s.io", "ingressclasses", "list"},
	} {
		if !g[need] {
			t.Errorf("proxy role lacks %+v", need)
		}
	}
}

// The controller's rules are exactly what the kube/ code uses (notes/RBAC.md): it
// writes only status, its data-plane objects and the subjects of the proxies'
// binding, holds its Lease only in its own namespace, and never touches pods.
func TestControllerRoleIsLeastPrivilege(t *testing.T) {
	objs := build(t, "rbac")
	role := decode[rbacv1.ClusterRole](t, find(t, objs, "ClusterRole", "", "nghttpx-gateway-controller"))
	noWildcards(t, role.Name, role.Rules)
	rw := []string{"get", "list", "watch", "create", "patch", "delete"}
	want := map[string][]string{
		"gateway.networking.k8s.io/gatewayclasses":  readOnly,
		"gateway.networking.k8s.io/gateways":        readOnly,
		"gateway.networking.k8s.io/httproutes":      readOnly,
		"gateway.networking.k8s.io/grpcroutes":      readOnly,
		"gateway.networking.k8s.io/listenersets":    readOnly,
		"gateway.networking.k8s.io/referencegrants": {"list", "watch"},
		// BackendTLSPolicies (read; status ancestors written by the leader).
		"gateway.networking.k8s.io/backendtlspolicies":        readOnly,
		"gateway.networking.k8s.io/backendtlspolicies/status": {"update"},
		// Certificates (read) and the keys Secrets (kube/controller/keys.go).
		"/secrets":                        {"list", "watch", "create", "update", "delete"},
		"/namespaces":                     {"list", "watch"},
		"discovery.k8s.io/endpointslices": {"list", "watch"},
		"cert-manager.io/certificates":    {"list", "watch"},
		// Client CA bundles of Gateways' spec.tls.frontend.
		"/configmaps": {"list", "watch"},
		"gateway.networking.k8s.io/gatewayclasses/status": {"update"},
		"gateway.networking.k8s.io/gateways/status":       {"update"},
		"gateway.networking.k8s.io/httproutes/status":     {"update"},
		"gateway.networking.k8s.io/grpcroutes/status":     {"update"},
		"gateway.networking.k8s.io/listenersets/status":   {"update"},
		"gateway.networking.k8s.io/gateways/finalizers":   {"update"},
		"/services":        rw,
		"/serviceaccounts": rw,
		"apps/deployments": rw,
		"rbac.authorization.k8s.io/clusterrolebindings": {"get", "patch"},
		"rbac.authorization.k8s.io/clusterroles":        {"bind"},
		// The proxies' access Roles and RoleBindings (kube/provision/access.go).
		"rbac.authorization.k8s.io/roles":        {"list", "watch", "create", "patch", "delete"},
		"rbac.authorization.k8s.io/rolebindings": {"list", "watch", "create", "patch", "delete"},
		// The Ingress front-end.
		"networking.k8s.io/ingresses":        readOnly,
		"networking.k8s.io/ingressclasses":   {"list", "watch"},
		"networking.k8s.io/ingresses/status": {"update"},
		"events.k8s.io/events":               {"create", "patch"},
	}
	// Granted only for these names.
	named := map[string][]string{
		"rbac.authorization.k8s.io/clusterrolebindings": {"nghttpx-gateway-proxy"},
		"rbac.authorization.k8s.io/clusterroles":        {"nghttpx-gateway-proxy"},
	}
	got := map[string][]string{}
	for _, r := range role.Rules {
		for k := range grants([]rbacv1.PolicyRule{r}) {
			res := k.group + "/" + k.resource
			if !slices.Equal(r.ResourceNames, named[res]) {
				t.Errorf("%s on %s is granted for names %v, want %v", k.verb, res, r.ResourceNames, named[res])
			}
			got[res] = append(got[res], k.verb)
		}
	}
	for res, verbs := range want {
		slices.Sort(verbs)
		g := got[res]
		slices.Sort(g)
		if !slices.Equal(g, verbs) {
			t.Errorf("%s: verbs %v, want %v", res, g, verbs)
		}
	}
	for res := range got {
		if _, ok := want[res]; !ok {
			t.Errorf("controller ClusterRole grants %v on %s, which the controller does not use", got[res], res)
		}
	}
	le := decode[rbacv1.Role](t, find(t, objs, "Role", systemNS, "nghttpx-gateway-leader-election"))
	noWildcards(t, le.Name, le.Rules)
	g := grants(le.Rules)
	for _, v := range []string{"get", "create", "update"} {
		if !g[grant{"coordination.k8s.io", "leases", v}] {
			t.Errorf("leader election role lacks %s on leases: %+v", v, le.Rules)
		}
	}
}

// The proxies' binding exists with the proxy role and no subjects: the controller
// owns the subject list, and re-applying config/ must not reset it.
func TestProxyBinding(t *testing.T) {
	b := decode[rbacv1.ClusterRoleBinding](t, find(t, build(t, "rbac"), "ClusterRoleBinding", "", "nghttpx-gateway-proxy"))
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != "nghttpx-gateway-proxy" {
		t.Errorf("roleRef %+v", b.RoleRef)
	}
	if len(b.Subjects) != 0 {
		t.Errorf("subjects %+v: the controller manages them", b.Subjects)
	}
}

// Every binding points at a rendered role and at the controller's ServiceAccount.
func TestBindings(t *testing.T) {
	objs := build(t, "rbac")
	n := 0
	for _, o := range objs {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		switch o.GetKind() {
		case "ClusterRoleBinding":
			b := decode[rbacv1.ClusterRoleBinding](t, o)
			ref, subjects = b.RoleRef, b.Subjects
		case "RoleBinding":
			b := decode[rbacv1.RoleBinding](t, o)
			ref, subjects = b.RoleRef, b.Subjects
		default:
			continue
		}
		n++
		find(t, objs, ref.Kind, map[string]string{"Role": o.GetNamespace()}[ref.Kind], ref.Name)
		for _, s := range subjects {
			if s.Kind != "ServiceAccount" || s.Namespace != systemNS || s.Name != "nghttpx-gateway" {
				t.Errorf("%s binds unexpected subject %+v", key(o), s)
			}
		}
	}
	if n < 3 {
		t.Errorf("want the controller's and the proxies' ClusterRoleBindings and the leader-election RoleBinding, found %d bindings", n)
	}
}

// Only the controller may list and watch ConfigMaps cluster-wide (client CA
// bundles of Gateways' spec.tls.frontend live in any namespace; the proxies get
// theirs by name through their access grants); the operator ConfigMap of the
// Ingress front-end is also readable in the controller's namespace through a
// Role, by the controller only.
func TestIngressConfigMapAccessIsNamespaced(t *testing.T) {
	objs := build(t, "rbac")
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		r := decode[rbacv1.ClusterRole](t, o)
		var verbs []string
		for k := range grants(r.Rules) {
			if k.group == "" && k.resource == "configmaps" {
				verbs = append(verbs, k.verb)
			}
		}
		slices.Sort(verbs)
		switch r.Name {
		case "nghttpx-gateway-controller":
			if !slices.Equal(verbs, []string{"list", "watch"}) {
				t.Errorf("ClusterRole %s grants %v on configmaps, want exactly list and watch (client CA bundles)", r.Name, verbs)
			}
		default:
			if len(verbs) > 0 {
				t.Errorf("ClusterRole %s grants %v on configmaps", r.Name, verbs)
			}
		}
	}
	role := decode[rbacv1.Role](t, find(t, objs, "Role", systemNS, "nghttpx-gateway-ingress-config"))
	noWildcards(t, role.Name, role.Rules)
	g := grants(role.Rules)
	if len(g) != 2 || !g[grant{"", "configmaps", "list"}] || !g[grant{"", "configmaps", "watch"}] {
		t.Errorf("ingress config role grants %v, want list and watch on configmaps", g)
	}
	b := decode[rbacv1.RoleBinding](t, find(t, objs, "RoleBinding", systemNS, "nghttpx-gateway-ingress-config"))
	var subjects []string
	for _, s := range b.Subjects {
		subjects = append(subjects, s.Kind+":"+s.Namespace+"/"+s.Name)
	}
	want := []string{"ServiceAccount:" + systemNS + "/nghttpx-gateway"}
	if b.RoleRef.Name != role.Name || !slices.Equal(subjects, want) {
		t.Errorf("binding roleRef %+v subjects %v, want %v", b.RoleRef, subjects, want)
	}
}

// The in-pod topology's extra RBAC (config/in-pod, not in default) only
// reads: pods in the controller's namespace, nodes cluster-wide.
func TestInPodRBACIsReadOnly(t *testing.T) {
	want := map[string]string{"Role": "pods", "ClusterRole": "nodes"}
	seen := map[string]bool{}
	for _, o := range build(t, "in-pod") {
		switch o.GetKind() {
		case "Role", "ClusterRole":
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			seen[o.GetKind()] = true
			for _, rule := range r.Rules {
				if !slices.Equal(rule.APIGroups, []string{""}) || !slices.Equal(rule.Resources, []string{want[o.GetKind()]}) {
					t.Errorf("%s: rule %+v, want only %s", key(o), rule, want[o.GetKind()])
				}
				for _, v := range rule.Verbs {
					if v != "get" && v != "list" && v != "watch" {
						t.Errorf("%s: verb %s is not read-only", key(o), v)
					}
				}
			}
		case "RoleBinding", "ClusterRoleBinding":
		default:
			t.Errorf("unexpected %s", key(o))
		}
	}
	if len(seen) != 2 {
		t.Errorf("roles %v, want a Role and a ClusterRole", seen)
	}
}
