package translate

import (
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

type backendKey struct {
	load.RuleRef
	index int
}

// extensionIndex looks extensions up by position.
type extensionIndex struct {
	rules    map[load.RuleRef]*load.RuleExtension
	backends map[backendKey]*load.BackendExtension
	// exclusive maps a Gateway to the routes it alone accepts (nil: any route).
	exclusive map[nsName]*exclusiveRoutes
}

type exclusiveRoutes struct {
	owner  string
	routes map[nsName]bool
	sni    []load.SNISecret
}

func newExtensionIndex(e *load.Extensions) extensionIndex {
	x := extensionIndex{rules: map[load.RuleRef]*load.RuleExtension{}, backends: map[backendKey]*load.BackendExtension{},
		exclusive: map[nsName]*exclusiveRoutes{}}
	for _, g := range e.ExclusiveGateways {
		k := nsName{g.Namespace, g.Name}
		ex := x.exclusive[k]
		if ex == nil {
			ex = &exclusiveRoutes{owner: g.Owner, routes: map[nsName]bool{}}
			x.exclusive[k] = ex
		}
		ex.sni = append(ex.sni, g.SNI...)
		for _, r := range g.Routes {
			ns, name, _ := strings.Cut(r, "/")
			ex.routes[nsName{ns, name}] = true
		}
	}
	for i := range e.Rules {
		x.rules[e.Rules[i].RuleRef] = &e.Rules[i]
	}
	for i := range e.Backends {
		b := &e.Backends[i]
		x.backends[backendKey{b.RuleRef, b.BackendRef}] = b
	}
	return x
}

func cloneProxyOptions(p *model.ProxyOptions) *model.ProxyOptions {
	if p == nil {
		return nil
	}
	out := *p
	if p.Affinity != nil {
		out.Affinity = new(*p.Affinity)
	}
	return &out
}

func cloneBackendOptions(p *model.BackendOptions) *model.BackendOptions {
	if p == nil {
		return nil
	}
	return new(*p)
}
