package source

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/types"
)

// Access is what the proxy of one Gateway reads by name (Options.Named): the
// Secrets and ConfigMaps, sorted, by namespace. The controller grants exactly
// this to the Gateway's proxy ServiceAccount.
type Access struct {
	Secrets    map[string][]string
	ConfigMaps map[string][]string
}

// Namespaces lists every namespace of a, sorted.
func (a Access) Namespaces() []string {
	var out []string
	for ns := range a.Secrets {
		out = append(out, ns)
	}
	for ns := range a.ConfigMaps {
		out = append(out, ns)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// References computes the Access of the proxy of Gateway gw from s's cache
// (which must hold at least what the proxy's would): it runs the proxy's own
// snapshot (Options.Gateway = gw, ing for a synthetic Gateway of the Ingress
// front-end) and records what it reads, so the grant and the reads cannot
// disagree. Secrets and ConfigMaps that do not exist yet are included: the
// proxy watches for them.
func (s *Source) References(ctx context.Context, gw types.NamespacedName, ing *Ingress) (Access, error) {
	a := Access{Secrets: map[string][]string{}, ConfigMaps: map[string][]string{}}
	record := func(kind string, k types.NamespacedName) {
		m := a.Secrets
		if kind == "ConfigMap" {
			m = a.ConfigMaps
		}
		if !slices.Contains(m[k.Namespace], k.Name) {
			m[k.Namespace] = append(m[k.Namespace], k.Name)
		}
	}
	sub := New(s.cache, Options{ControllerName: s.opts.ControllerName, Gateway: gw, Ingress: ing, Record: record, Log: s.opts.Log})
	s.mu.Lock()
	sub.noListenerSets = s.noListenerSets
	sub.noGRPCRoutes = s.noGRPCRoutes
	s.mu.Unlock()
	if _, err := sub.Snapshot(ctx); err != nil {
		return Access{}, err
	}
	for _, m := range []map[string][]string{a.Secrets, a.ConfigMaps} {
		for _, v := range m {
			slices.Sort(v)
		}
	}
	return a, nil
}
