package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/source"
)

// grantAccess gives every Gateway's proxy ServiceAccount list and watch on
// exactly the Secrets and ConfigMaps its proxy reads (source.References runs
// the proxy's own snapshot), plus its keys Secret, through one Role and
// RoleBinding per namespace (an Ingress data plane also the --nghttpx-secret
// Secret), and deletes the grants nobody needs any more. A
// Gateway whose references cannot be computed keeps its current grants.
func (c *Controller) grantAccess(ctx context.Context, res *translate.Result) error {
	var errs []error
	keep := map[types.NamespacedName]map[string]bool{}
	for i := range res.Gateways {
		g := &res.Gateways[i]
		k := types.NamespacedName{Namespace: g.Namespace, Name: g.Name}
		if c.servedInPod(g) {
			// No proxy ServiceAccount: the controller reads from its own cache.
			continue
		}
		var ing *source.Ingress
		if c.isSynthetic("Gateway", g.Namespace, g.Name) && c.ing != nil {
			ing = &source.Ingress{Shim: c.ing.opts.Shim}
		}
		a, err := c.src.References(ctx, k, ing)
		if err != nil {
			errs = append(errs, fmt.Errorf("references of Gateway %s: %w", k, err))
			keep[k] = c.grantedNamespaces(k)
			continue
		}
		grants := map[string]provision.Grant{}
		for _, ns := range a.Namespaces() {
			grants[ns] = provision.Grant{Secrets: a.Secrets[ns], ConfigMaps: a.ConfigMaps[ns]}
		}
		grantSecret(grants, types.NamespacedName{Namespace: g.Namespace, Name: provision.KeysName(g.Name)})
		if orig := c.opts.originalKeys(); orig.Name != "" && ing != nil {
			// An Ingress data plane reads its keys from the original
			// controller's keys Secret (kube/proxyagent keys.go).
			grantSecret(grants, orig)
		}
		keep[k] = map[string]bool{}
		for ns := range grants {
			keep[k][ns] = true
		}
		if g.DeletionTimestamp != nil {
			continue
		}
		if err := c.prov.EnsureAccess(ctx, k, grants); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.prov.PruneAccess(ctx, keep); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// grantSecret adds Secret k, by name, to grants.
func grantSecret(grants map[string]provision.Grant, k types.NamespacedName) {
	g := grants[k.Namespace]
	if !slices.Contains(g.Secrets, k.Name) {
		g.Secrets = append(slices.Clone(g.Secrets), k.Name)
		slices.Sort(g.Secrets)
	}
	grants[k.Namespace] = g
}

// grantedNamespaces are the namespaces Gateway k has access grants in now.
func (c *Controller) grantedNamespaces(k types.NamespacedName) map[string]bool {
	out := map[string]bool{}
	var l rbacv1.RoleList
	if err := c.cache.List(context.Background(), &l, provision.AccessSelector(k)); err != nil {
		return out
	}
	for _, r := range l.Items {
		out[r.Namespace] = true
	}
	return out
}

// adminToken is the token Gateway gw's proxies require on /status, from its
// keys Secret in the cache ("" while there is none).
func (c *Controller) adminToken(gw types.NamespacedName) string {
	var s corev1.Secret
	if err := c.cache.Get(context.Background(), types.NamespacedName{Namespace: gw.Namespace, Name: provision.KeysName(gw.Name)}, &s); err != nil {
		return ""
	}
	return string(s.Data[keys.DataAdminToken])
}
