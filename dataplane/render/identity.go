package render

import (
	"sort"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Route identities for the access log: which (listener, rule, backend) sends
// requests to each backend group, keyed by the group's nghttpx pattern, which
// nghttpx logs as $backend_pattern.

// identity is rule r of listener l on port p, without its backend.
func (tb *tableBuilder) identity(p model.Port, l model.Listener, r model.Rule) accesslog.Identity {
	id := accesslog.Identity{Port: p.Port, Listener: l.Source.Section, RouteKind: r.Source.Kind,
		Route: r.Source.Namespace + "/" + r.Source.Name, Rule: ruleIndex(r.Name)}
	if ing, ok := tb.opts.IngressRoutes[id.Route]; ok {
		id.RouteKind, id.Route = "Ingress", ing
	}
	if id.Listener == "" {
		id.Listener = accesslog.None
	}
	return id
}

// ruleIndex is the rule index in a model rule name
// ("httproute/ns/name/rule/3/match/0"), or "-".
func ruleIndex(name string) string {
	i := strings.LastIndex(name, "/rule/")
	if i < 0 {
		return accesslog.None
	}
	rest := name[i+len("/rule/"):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	if _, err := strconv.Atoi(rest); err != nil {
		return accesslog.None
	}
	return rest
}

// used records that the current rule sends requests to group key through
// members (none: a do-not-forward group).
func (tb *tableBuilder) used(key string, members []groupMember) {
	id := tb.cur
	var names []string
	for _, m := range members {
		s := m.cluster.Source
		n := s.Namespace + "/" + s.Name
		if s.Section != "" {
			n += ":" + s.Section // the Service port
		}
		names = append(names, n)
	}
	id.Backend = strings.Join(names, "+")
	if id.Backend == "" {
		id.Backend = accesslog.None
	}
	pat := ClusterPathPrefix + key + "/"
	for _, u := range tb.idents[pat] {
		if u == id {
			return // the same rule under another virtual host
		}
	}
	tb.idents[pat] = append(tb.idents[pat], id)
}

// routes is the Gateway's accesslog.Routes, each group's users sorted.
func (tb *tableBuilder) routes(gw *model.Gateway) *accesslog.Routes {
	r := &accesslog.Routes{Gateway: gw.Source.Namespace + "/" + gw.Source.Name, Groups: map[string][]accesslog.Identity{}}
	for _, p := range []int{tb.opts.APIPort, tb.opts.HealthPort, tb.opts.MirrorInternalPort} {
		if p != 0 {
			r.InternalPorts = append(r.InternalPorts, p)
		}
	}
	for pat, ids := range tb.idents {
		out := make([]accesslog.Identity, len(ids))
		for i, id := range ids {
			id.Gateway = r.Gateway
			out[i] = id
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i], out[j]
			if a.Port != b.Port {
				return a.Port < b.Port
			}
			return a.Listener+"\x00"+a.Route+"\x00"+a.Rule+"\x00"+a.Backend < b.Listener+"\x00"+b.Route+"\x00"+b.Rule+"\x00"+b.Backend
		})
		r.Groups[pat] = out
	}
	return r
}
