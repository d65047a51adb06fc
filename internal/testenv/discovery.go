package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DiscoveryServer is an API server on 127.0.0.1 that answers discovery for the
// kinds of s (plural and scope guessed, cluster scope for the well-known
// cluster-scoped kinds) and 503 to everything else: a controller-runtime
// manager can be built against it and started, but its caches never sync.
func DiscoveryServer(t testing.TB, s *runtime.Scheme) *httptest.Server {
	t.Helper()
	clusterScoped := map[string]bool{"GatewayClass": true, "IngressClass": true, "Namespace": true, "Node": true,
		"ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true, "ClusterIssuer": true,
		"PersistentVolume": true, "StorageClass": true, "PriorityClass": true}
	lists := map[schema.GroupVersion]*metav1.APIResourceList{}
	for gvk := range s.AllKnownTypes() {
		if strings.HasSuffix(gvk.Kind, "List") || gvk.Version == "__internal" || strings.HasSuffix(gvk.Kind, "Options") ||
			gvk.Kind == "WatchEvent" || gvk.Kind == "Status" {
			continue
		}
		gv := gvk.GroupVersion()
		l := lists[gv]
		if l == nil {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			lists[gv] = l
		}
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: plural.Resource, Kind: gvk.Kind,
			Namespaced: !clusterScoped[gvk.Kind], Verbs: metav1.Verbs{"get", "list", "watch"}})
	}
	byGroup := map[string]*metav1.APIGroup{}
	for gv := range lists {
		if gv.Group == "" {
			continue
		}
		g := byGroup[gv.Group]
		if g == nil {
			g = &metav1.APIGroup{Name: gv.Group}
			byGroup[gv.Group] = g
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		g.Versions = append(g.Versions, v)
		g.PreferredVersion = v
	}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range byGroup {
		groups.Groups = append(groups.Groups, *g)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
		switch p := r.URL.Path; {
		case p == "/api":
			reply(&metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
		case p == "/apis":
			reply(groups)
		case p == "/api/v1":
			reply(lists[schema.GroupVersion{Version: "v1"}])
		case strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") == 3:
			gv, _ := schema.ParseGroupVersion(strings.TrimPrefix(p, "/apis/"))
			if l := lists[gv]; l != nil {
				reply(l)
				return
			}
			http.NotFound(w, r)
		default:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
