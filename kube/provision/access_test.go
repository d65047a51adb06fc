package provision

import (
	"context"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// TestAccess: one Role (list, watch by resourceNames) and RoleBinding (to the
// Gateway's ServiceAccount) per namespace; unchanged grants are not re-applied;
// grants of namespaces no longer referenced are pruned, others' kept.
func TestAccess(t *testing.T) {
	p, c := newProvisioner(t)
	ctx := context.Background()
	gw := types.NamespacedName{Namespace: "apps", Name: "web"}
	other := types.NamespacedName{Namespace: "apps", Name: "api"}
	grants := map[string]Grant{
		"apps":   {Secrets: []string{"tls", "web-nghttpx-keys"}},
		"shared": {Secrets: []string{"wild"}, ConfigMaps: []string{"ca"}},
	}
	if err := p.EnsureAccess(ctx, gw, grants); err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureAccess(ctx, other, map[string]Grant{"shared": {Secrets: []string{"api"}}}); err != nil {
		t.Fatal(err)
	}
	name := AccessName(gw)
	if name != "nghttpx-proxy.apps.web-nghttpx" {
		t.Errorf("AccessName = %s", name)
	}
	var role rbacv1.Role
	if err := c.Get(ctx, types.NamespacedName{Namespace: "shared", Name: name}, &role); err != nil {
		t.Fatal(err)
	}
	if len(role.Rules) != 2 || !slices.Equal(role.Rules[0].Resources, []string{"secrets"}) || !slices.Equal(role.Rules[0].ResourceNames, []string{"wild"}) ||
		!slices.Equal(role.Rules[0].Verbs, []string{"list", "watch"}) ||
		!slices.Equal(role.Rules[1].Resources, []string{"configmaps"}) || !slices.Equal(role.Rules[1].ResourceNames, []string{"ca"}) {
		t.Errorf("Role rules %+v", role.Rules)
	}
	var rb rbacv1.RoleBinding
	if err := c.Get(ctx, types.NamespacedName{Namespace: "shared", Name: name}, &rb); err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != name || len(rb.Subjects) != 1 ||
		rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Namespace != "apps" || rb.Subjects[0].Name != "web-nghttpx" {
		t.Errorf("RoleBinding %+v %+v", rb.RoleRef, rb.Subjects)
	}
	applies := p.Counters().Applies.Load()
	if err := p.EnsureAccess(ctx, gw, grants); err != nil {
		t.Fatal(err)
	}
	if p.Counters().Applies.Load() != applies {
		t.Error("unchanged grants re-applied")
	}
	// web stops referencing anything in "shared": only its grant there goes.
	keep := map[types.NamespacedName]map[string]bool{gw: {"apps": true}, other: {"shared": true}}
	if err := p.PruneAccess(ctx, keep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []types.NamespacedName{{Namespace: "shared", Name: name}} {
		if err := c.Get(ctx, k, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
			t.Errorf("Role %s after prune: %v", k, err)
		}
		if err := c.Get(ctx, k, &rbacv1.RoleBinding{}); !apierrors.IsNotFound(err) {
			t.Errorf("RoleBinding %s after prune: %v", k, err)
		}
	}
	for _, k := range []types.NamespacedName{{Namespace: "apps", Name: name}, {Namespace: "shared", Name: AccessName(other)}} {
		if err := c.Get(ctx, k, &rbacv1.Role{}); err != nil {
			t.Errorf("Role %s pruned: %v", k, err)
		}
	}
}
