package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LabelAccess marks the Roles and RoleBindings that grant a Gateway's proxy the
// Secrets and ConfigMaps it reads (value "true").
const LabelAccess = "gateway.nghttpx.dev/proxy-access"

// Grant is what a Gateway's proxy may read in one namespace, by name: list and
// watch with field selector metadata.name (kube/source Named). Names sorted.
type Grant struct {
	Secrets    []string
	ConfigMaps []string
}

// AccessName names the Role and RoleBinding of Gateway gw in every namespace
// they are in: "nghttpx-proxy.<gateway namespace>.<Name(gateway)>", hashed when
// longer than a name may be.
func AccessName(gw types.NamespacedName) string {
	n := "nghttpx-proxy." + gw.Namespace + "." + Name(gw.Name)
	if len(n) <= 253 {
		return n
	}
	return n[:240] + "-" + shortHash(n)
}

// AccessSelector selects the access Roles and RoleBindings of gw.
func AccessSelector(gw types.NamespacedName) client.MatchingLabels {
	return client.MatchingLabels(accessLabels(gw))
}

func accessLabels(gw types.NamespacedName) map[string]string {
	return map[string]string{
		LabelManagedBy:        ManagedBy,
		LabelAccess:           "true",
		LabelGatewayName:      LabelValue(gw.Name),
		LabelGatewayNamespace: gw.Namespace,
	}
}

// AccessRole is the Role of gw's proxy in namespace ns. Only list and watch: the
// controller holds both on Secrets and ConfigMaps cluster-wide, so RBAC's
// escalation check lets it grant them without the escalate or bind verbs.
func AccessRole(gw types.NamespacedName, ns string, g Grant) *rbacv1ac.RoleApplyConfiguration {
	r := rbacv1ac.Role(AccessName(gw), ns).WithLabels(accessLabels(gw))
	if len(g.Secrets) > 0 {
		r.WithRules(rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("secrets").
			WithResourceNames(g.Secrets...).WithVerbs("list", "watch"))
	}
	if len(g.ConfigMaps) > 0 {
		r.WithRules(rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("configmaps").
			WithResourceNames(g.ConfigMaps...).WithVerbs("list", "watch"))
	}
	return r
}

// AccessRoleBinding binds AccessRole in ns to gw's proxy ServiceAccount.
func AccessRoleBinding(gw types.NamespacedName, ns string) *rbacv1ac.RoleBindingApplyConfiguration {
	return rbacv1ac.RoleBinding(AccessName(gw), ns).WithLabels(accessLabels(gw)).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(AccessName(gw))).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithNamespace(gw.Namespace).WithName(Name(gw.Name)))
}

// EnsureAccess applies, for Gateway gw, one Role and RoleBinding per namespace
// of grants (the Role first: a binding to a missing Role grants nothing).
func (p *Provisioner) EnsureAccess(ctx context.Context, gw types.NamespacedName, grants map[string]Grant) error {
	var errs []error
	for _, ns := range sortedGrantNamespaces(grants) {
		k := types.NamespacedName{Namespace: ns, Name: AccessName(gw)}
		if err := apply(ctx, p, k, AccessRole(gw, ns, grants[ns]), &rbacv1.Role{}, func(r *rbacv1.Role) (runtime.ApplyConfiguration, error) {
			return rbacv1ac.ExtractRole(r, FieldOwner)
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := apply(ctx, p, k, AccessRoleBinding(gw, ns), &rbacv1.RoleBinding{}, func(r *rbacv1.RoleBinding) (runtime.ApplyConfiguration, error) {
			return rbacv1ac.ExtractRoleBinding(r, FieldOwner)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PruneAccess deletes the access Roles and RoleBindings that keep does not list
// (keep: Gateway -> namespaces it has grants in): those of Gateways no longer
// ours and of namespaces a Gateway no longer references.
func (p *Provisioner) PruneAccess(ctx context.Context, keep map[types.NamespacedName]map[string]bool) error {
	sel := client.MatchingLabels{LabelManagedBy: ManagedBy, LabelAccess: "true"}
	var roles rbacv1.RoleList
	var bindings rbacv1.RoleBindingList
	var errs []error
	var objs []client.Object
	if err := p.Reader.List(ctx, &bindings, sel); err != nil {
		errs = append(errs, fmt.Errorf("list RoleBindings: %w", err))
	}
	for i := range bindings.Items {
		objs = append(objs, &bindings.Items[i])
	}
	if err := p.Reader.List(ctx, &roles, sel); err != nil {
		errs = append(errs, fmt.Errorf("list Roles: %w", err))
	}
	for i := range roles.Items {
		objs = append(objs, &roles.Items[i])
	}
	wanted := map[types.NamespacedName]bool{}
	for gw, nss := range keep {
		for ns := range nss {
			wanted[types.NamespacedName{Namespace: ns, Name: AccessName(gw)}] = true
		}
	}
	for _, o := range objs {
		if wanted[client.ObjectKeyFromObject(o)] {
			continue
		}
		if err := p.Client.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err))
			continue
		}
		p.observe(ActionDelete, o)
		p.Log.Info("deleted proxy access grant no longer needed", "kind", fmt.Sprintf("%T", o), "object", o.GetNamespace()+"/"+o.GetName())
	}
	return errors.Join(errs...)
}

func sortedGrantNamespaces(m map[string]Grant) []string {
	out := make([]string, 0, len(m))
	for ns := range m {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}
