package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// routeTableHeader starts routes.rb; it holds no user data.
const routeTableHeader = "# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.\n"

// Status codes the router answers with itself.
const (
	statusInvalidBackend = 500 // Gateway API: invalid backendRefs get 500
	statusNoEndpoints    = 503 // a Service without ready endpoints
)

// invalidStatus is what a rule's share of invalid backends is answered with:
// 500, or 503 for gRPC rules, which gRPC clients read as UNAVAILABLE.
func invalidStatus(r model.Rule) int {
	if r.GRPC {
		return statusNoEndpoints
	}
	return statusInvalidBackend
}

// tableBuilder turns the model's ports into the route table literal and records the
// backend groups the table refers to.
type tableBuilder struct {
	opts     Options
	clusters map[string]*model.Cluster
	groups   map[string]*groupUse // by group key
	resp     map[string]rbValue   // response header operations by content key
	cors     map[string]rbValue   // CORS response operations by content key (cors.go)
	// users are the rules' user scripts, each run by its own per-pattern program.
	users map[userScript]bool
	// exact are the rules of exact-host virtual hosts by host, which go to the
	// host's shard (shards.go); shardFiles are the shards rendered by table.
	exact      map[string][]exactEntry
	shardFiles map[string][]byte
	// mirrorUsed: some rule mirrors (mirror.go), so the tee group and the
	// internal frontend are rendered.
	mirrorUsed bool
	// badTLS are clusters whose TLS settings cannot be written: their shares
	// answer 500.
	badTLS map[string]bool
	// dropped is what was left out (drop.go).
	dropped []Dropped
	// idents are the users of each group pattern (identity.go); cur is the
	// rule being rendered.
	idents map[string][]accesslog.Identity
	cur    accesslog.Identity
}

// groupUse is one backend group: its members' endpoints share one pattern and the
// group-level parameters of profile (timeouts, affinity, script, dnf). Normally one
// cluster; several when a rule with session affinity sends traffic to several, so
// that the affinity spans all their endpoints, as in the original Ingress
// controller. A do-not-forward group has no member.
type groupUse struct {
	members []groupMember
	profile profile
	// restore: some request reaches the group with internal headers (response
	// header modifiers, CORS, a mirror copy), so with Features.BackendGroup it
	// still runs restore.rb; without the feature every group does.
	restore bool
}

// addGroup records group g under key; a group used with internal headers keeps
// restore.rb for every use.
func (tb *tableBuilder) addGroup(key string, g *groupUse) {
	if old, ok := tb.groups[key]; ok && old.restore {
		g.restore = true
	}
	tb.groups[key] = g
}

// groupMember is one cluster of a group with its per-address parameters (proto,
// tls, sni, dns in prof).
type groupMember struct {
	cluster *model.Cluster
	prof    profile
}

// routedBackend is one backendRef of a rule as the router sees it: a share of the
// traffic that the router answers itself (status) or sends to a group (member).
type routedBackend struct {
	weight int32
	status int
	member groupMember
	// members are further clusters merged into member's group (affinity).
	members   []groupMember
	req, resp rbArr
}

// dnfCluster stands in for the cluster name in the key of do-not-forward groups.
const dnfCluster = "do-not-forward"

func newTableBuilder(gw *model.Gateway, opts Options) (*tableBuilder, error) {
	tb := &tableBuilder{
		opts:     opts,
		clusters: make(map[string]*model.Cluster, len(gw.Clusters)),
		groups:   map[string]*groupUse{},
		resp:     map[string]rbValue{},
		cors:     map[string]rbValue{},
		users:    map[userScript]bool{},
		badTLS:   map[string]bool{},
		idents:   map[string][]accesslog.Identity{},
		exact:    map[string][]exactEntry{},
	}
	for i := range gw.Clusters {
		c := &gw.Clusters[i]
		if c.Name == "" {
			return nil, fmt.Errorf("cluster without a name")
		}
		if _, dup := tb.clusters[c.Name]; dup {
			return nil, fmt.Errorf("cluster %q defined twice", c.Name)
		}
		tb.clusters[c.Name] = c
	}
	return tb, nil
}

// table renders routes.rb.
func (tb *tableBuilder) table(gw *model.Gateway) ([]byte, error) {
	var ports rbHash
	for _, p := range gw.Ports {
		pv, err := tb.port(p)
		if err != nil {
			return nil, fmt.Errorf("port %d: %w", p.Port, err)
		}
		ports = append(ports, rbPair{rbInt(p.Port), pv})
	}
	keys := make([]string, 0, len(tb.resp))
	for k := range tb.resp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// [[key, ops], ...] rather than a hash: a long array loads in chunks (rubylit.go).
	resp := rbArr{}
	for _, k := range keys {
		resp = append(resp, rbArr{rbStr(k), tb.resp[k]})
	}
	top := rbHash{}
	top.add("ports", ports)
	tb.shards(&top)
	top.add("resp", resp)
	if len(tb.cors) > 0 {
		top.add("cors", keyedList(tb.cors))
	}

	var b strings.Builder
	b.WriteString(routeTableHeader)
	writeRuby(&b, top, 0)
	b.WriteByte('\n')
	return []byte(b.String()), nil
}

func (tb *tableBuilder) port(p model.Port) (rbValue, error) {
	h := rbHash{}
	h.add("tls", rbBool(p.Protocol == model.ProtocolHTTPS))
	ls := rbArr{}
	for _, l := range p.Listeners {
		if err := checkHostPattern(l.Hostname); err != nil {
			tb.drop(l.Source, "listener "+l.Source.Section, err)
			continue
		}
		lh := hostMatch(l.Hostname)
		var vhs []renderedVHost
		for _, vh := range l.VirtualHosts {
			if err := checkHostPattern(vh.Hostname); err != nil {
				tb.drop(l.Source, "virtual host "+vh.Hostname+" of listener "+l.Source.Section, err)
				continue
			}
			rules := rbArr{}
			for _, r := range vh.Rules {
				err := validate.Rule(&r)
				var rv rbValue
				if err == nil {
					tb.cur = tb.identity(p, l, r)
					rv, err = tb.rule(p, r)
				}
				if err != nil {
					tb.drop(r.Source, "rule "+r.Name, err)
					continue
				}
				rules = append(rules, rv)
			}
			vhs = append(vhs, renderedVHost{host: vh.Hostname, rules: rules})
		}
		if tb.shardVHosts(p.Port, len(ls), vhs) {
			lh.add("exact", rbBool(true))
		}
		head := rbArr{}
		for _, vh := range vhs {
			if vh.exact() {
				continue
			}
			vhh := hostMatch(vh.host)
			vhh.add("rules", vh.rules)
			head = append(head, vhh)
		}
		lh.add("vhosts", head)
		ls = append(ls, lh)
	}
	h.add("listeners", ls)
	return h, nil
}

// drop records a piece left out; a rule shared by several virtual hosts is
// reported once.
func (tb *tableBuilder) drop(src model.ObjectRef, what string, err error) {
	for _, d := range tb.dropped {
		if d.What == what && d.Source == src {
			return
		}
	}
	tb.dropped = append(tb.dropped, Dropped{Source: src, What: what, Reason: err.Error()})
}

func checkHostPattern(h string) error {
	if h == "" {
		return nil
	}
	return checkHostname(h, true)
}

// hostMatch starts a listener or virtual host entry: :host for an exact name,
// :suffix (".example.com", the host must be longer) for a wildcard, nothing for any.
func hostMatch(h string) rbHash {
	e := rbHash{}
	switch {
	case h == "":
	case strings.HasPrefix(h, "*."):
		e.add("suffix", rbStr(h[1:]))
	default:
		e.add("host", rbStr(h))
	}
	return e
}

func (tb *tableBuilder) rule(p model.Port, r model.Rule) (rbValue, error) {
	h := rbHash{}
	h.add("name", rbStr(r.Name))
	if err := tb.match(&h, r.Match); err != nil {
		return nil, err
	}
	if r.Redirect != nil && r.Rewrite != nil {
		return nil, fmt.Errorf("redirect and rewrite on one rule")
	}
	if r.CORS != nil {
		c, err := tb.corsEntry(r.CORS)
		if err != nil {
			return nil, fmt.Errorf("cors: %w", err)
		}
		h.add("cors", c)
	}
	if r.Redirect != nil {
		rd, err := redirect(p, r)
		if err != nil {
			return nil, fmt.Errorf("redirect: %w", err)
		}
		h.add("redirect", rd)
		return h, nil
	}
	if r.DirectStatus != 0 {
		if r.DirectStatus < 200 || r.DirectStatus > 599 {
			return nil, fmt.Errorf("direct status %d out of range 200-599", r.DirectStatus)
		}
		h.add("status", rbInt(r.DirectStatus))
		if r.DirectBody != "" {
			if len(r.DirectBody) > maxStringLen {
				return nil, fmt.Errorf("direct body too long (%d bytes)", len(r.DirectBody))
			}
			h.add("body", rbStr(r.DirectBody))
		}
		return h, nil
	}
	if r.Rewrite != nil {
		rw, err := rewrite(r)
		if err != nil {
			return nil, fmt.Errorf("rewrite: %w", err)
		}
		h.add("rewrite", rw)
	}
	prof, err := profileOf(r.Timeouts)
	if err != nil {
		return nil, err
	}
	if prof, err = prof.withProxy(r.Proxy); err != nil {
		return nil, err
	}
	if p := r.Proxy; p != nil && (p.Mruby != "" || p.DoNotForward) {
		if p.Mruby == "" || !tb.opts.AllowMruby {
			// A script the operator did not allow, or doNotForward without one:
			// answer 500 rather than forward without what the script guards.
			h.add("status", rbInt(invalidStatus(r)))
			return h, nil
		}
		us := userScript{source: p.Mruby, dnf: p.DoNotForward}
		tb.users[us] = true
		_, prof.script, _ = us.files(tb.opts)
		if p.DoNotForward {
			prof.dnf = true
			key := groupKey(dnfCluster, prof)
			tb.addGroup(key, &groupUse{profile: prof})
			tb.used(key, nil)
			b := rbHash{}
			b.add("weight", rbInt(1))
			b.add("cluster", rbStr(key))
			h.add("backends", rbArr{b})
			return h, nil
		}
	}
	var routed []routedBackend
	for i, wb := range r.Backends {
		rb, ok, err := tb.backend(r, wb, prof)
		if err != nil {
			return nil, fmt.Errorf("backend %d: %w", i, err)
		}
		if ok {
			routed = append(routed, rb)
		}
	}
	if len(routed) == 0 {
		// No backend can take traffic: Gateway API answers 500.
		h.add("status", rbInt(invalidStatus(r)))
		return h, nil
	}
	if prof.affinity != "" {
		routed = combineForAffinity(routed)
	}
	backends := rbArr{}
	for _, rb := range routed {
		backends = append(backends, tb.backendEntry(rb, prof, r.CORS != nil))
	}
	h.add("backends", backends)
	if v, ok, err := retryValue(r.Retry, tb.opts.Features); err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	} else if ok {
		h.add("retry", rbStr(v))
	}
	ms, ok, err := tb.mirrors(r)
	if err != nil {
		return nil, err
	}
	if ok {
		h.add("mirror", ms)
	}
	return h, nil
}

// combineForAffinity merges the backends of a rule with session affinity that go
// to groups into one share of the traffic served by one group, so that nghttpx's
// affinity (a hash over the group's addresses, which ignores weights) pins a client
// to one endpoint of any of them. Only backends with the same header modifiers as
// the first one merge; the others keep their own groups (and affinity within each).
func combineForAffinity(routed []routedBackend) []routedBackend {
	var out []routedBackend
	merged := -1
	ops := func(rb routedBackend) string { return flatRuby(rb.req) + "\x00" + flatRuby(rb.resp) }
	for _, rb := range routed {
		switch {
		case rb.status != 0 || merged >= 0 && ops(rb) != ops(out[merged]):
			out = append(out, rb)
		case merged < 0:
			merged = len(out)
			out = append(out, rb)
		default:
			out[merged].weight += rb.weight
			out[merged].members = append(out[merged].members, rb.member)
		}
	}
	return out
}

// backendEntry renders a share of the rule's traffic and records its group; cors:
// the rule has a CORS filter (its requests carry x-ngxgw-cors).
func (tb *tableBuilder) backendEntry(rb routedBackend, ruleProf profile, cors bool) rbValue {
	h := rbHash{}
	h.add("weight", rbInt(rb.weight))
	if rb.status != 0 {
		h.add("status", rbInt(rb.status))
		return h
	}
	members := append([]groupMember{rb.member}, rb.members...)
	restore := cors || len(rb.resp) > 0
	var key string
	if len(members) == 1 {
		key = groupKey(rb.member.cluster.Name, rb.member.prof)
		tb.addGroup(key, &groupUse{members: members, profile: rb.member.prof, restore: restore})
	} else {
		// Every member's cluster and parameters are part of the identity.
		id := "affinity\x00" + ruleProf.String()
		for _, m := range members {
			id += "\x00" + m.cluster.Name + "\x00" + m.prof.String()
		}
		key = foldedKey("affinity/"+members[0].cluster.Name, id)
		tb.addGroup(key, &groupUse{members: members, profile: ruleProf, restore: restore})
	}
	tb.used(key, members)
	h.add("cluster", rbStr(key))
	if len(rb.req) > 0 {
		h.add("req", rb.req)
	}
	if len(rb.resp) > 0 {
		k := contentKey(rb.resp)
		tb.resp[k] = rb.resp
		h.add("resp", rbStr(k))
	}
	return h
}

func (tb *tableBuilder) match(h *rbHash, m model.Match) error {
	switch m.Path.Type {
	case model.PathExact:
		if err := checkPath(m.Path.Value, "?"); err != nil {
			return fmt.Errorf("path match: %w", err)
		}
		h.add("path", rbArr{rbSym("exact"), rbStr(m.Path.Value)})
	case model.PathPrefix:
		if err := checkPath(m.Path.Value, "?"); err != nil {
			return fmt.Errorf("path match: %w", err)
		}
		// Element-wise prefix: the router compares without the trailing slash.
		h.add("path", rbArr{rbSym("prefix"), rbStr(strings.TrimRight(m.Path.Value, "/"))})
	default:
		return fmt.Errorf("path match type %q not supported", m.Path.Type)
	}
	if m.Method != "" {
		if err := checkMethod(m.Method); err != nil {
			return err
		}
		h.add("method", rbStr(m.Method))
	}
	if len(m.Headers) > 0 {
		seen := map[string]bool{}
		hs := rbArr{}
		for _, nv := range m.Headers {
			n, err := headerName(nv.Name)
			if err != nil {
				return fmt.Errorf("header match: %w", err)
			}
			if err := checkHeaderValue(nv.Value); err != nil {
				return fmt.Errorf("header match %s: %w", n, err)
			}
			if seen[n] { // Gateway API: only the first entry of a name counts
				continue
			}
			seen[n] = true
			hs = append(hs, rbArr{rbStr(n), rbStr(nv.Value)})
		}
		h.add("headers", hs)
	}
	if len(m.QueryParams) > 0 {
		seen := map[string]bool{}
		qs := rbArr{}
		for _, nv := range m.QueryParams {
			if err := checkQueryPart("name", nv.Name, true); err != nil {
				return err
			}
			if err := checkQueryPart("value", nv.Value, false); err != nil {
				return err
			}
			if seen[nv.Name] {
				continue
			}
			seen[nv.Name] = true
			qs = append(qs, rbArr{rbStr(nv.Name), rbStr(nv.Value)})
		}
		h.add("query", qs)
	}
	return nil
}

// pathModifier renders [:full, "/x"] or [:prefix, "/x"] (replacement without its
// trailing slash; "" strips the matched prefix).
func pathModifier(pm *model.PathModifier, m model.Match) (rbValue, error) {
	switch pm.Type {
	case model.ReplaceFullPath:
		if err := checkPath(pm.Value, "?"); err != nil {
			return nil, err
		}
		return rbArr{rbSym("full"), rbStr(pm.Value)}, nil
	case model.ReplacePrefixMatch:
		if m.Path.Type != model.PathPrefix {
			return nil, fmt.Errorf("ReplacePrefixMatch needs a PathPrefix match, rule has %q", m.Path.Type)
		}
		if pm.Value != "" {
			if err := checkPath(pm.Value, "?"); err != nil {
				return nil, err
			}
		}
		return rbArr{rbSym("prefix"), rbStr(strings.TrimRight(pm.Value, "/"))}, nil
	}
	return nil, fmt.Errorf("path modifier type %q not supported", pm.Type)
}

// redirect resolves scheme and port now: the listener's port and protocol are known,
// so the router only fills in the request's host and path.
func redirect(p model.Port, r model.Rule) (rbValue, error) {
	rd := r.Redirect
	h := rbHash{}
	scheme := "http"
	if p.Protocol == model.ProtocolHTTPS {
		scheme = "https"
	}
	port := p.Port
	if rd.Scheme != nil {
		switch *rd.Scheme {
		case "http":
			port = 80
		case "https":
			port = 443
		default:
			return nil, fmt.Errorf("scheme %q not supported", *rd.Scheme)
		}
		scheme = *rd.Scheme
	}
	if rd.Port != nil {
		if err := checkPort(*rd.Port); err != nil {
			return nil, err
		}
		port = *rd.Port
	}
	h.add("scheme", rbStr(scheme))
	if rd.Hostname != nil {
		if err := checkHostname(*rd.Hostname, false); err != nil {
			return nil, err
		}
		h.add("host", rbStr(*rd.Hostname))
	}
	// Gateway API: no port in Location for http:80 and https:443.
	if !(scheme == "http" && port == 80 || scheme == "https" && port == 443) {
		h.add("port", rbInt(port))
	}
	if rd.Path != nil {
		pm, err := pathModifier(rd.Path, r.Match)
		if err != nil {
			return nil, err
		}
		h.add("path", pm)
	}
	code := rd.StatusCode
	if code == 0 {
		code = 302
	}
	switch code {
	case 301, 302, 303, 307, 308:
	default:
		return nil, fmt.Errorf("status code %d not supported", code)
	}
	h.add("status", rbInt(code))
	return h, nil
}

func rewrite(r model.Rule) (rbValue, error) {
	h := rbHash{}
	if r.Rewrite.Hostname != nil {
		if err := checkHostname(*r.Rewrite.Hostname, false); err != nil {
			return nil, err
		}
		h.add("host", rbStr(*r.Rewrite.Hostname))
	}
	if r.Rewrite.Path != nil {
		pm, err := pathModifier(r.Rewrite.Path, r.Match)
		if err != nil {
			return nil, err
		}
		h.add("path", pm)
	}
	return h, nil
}

// backend resolves one backendRef; ok is false when its weight is 0.
func (tb *tableBuilder) backend(r model.Rule, wb model.WeightedBackend, prof profile) (routedBackend, bool, error) {
	var rb routedBackend
	if wb.Weight < 0 || wb.Weight > 1000000 {
		return rb, false, fmt.Errorf("weight %d out of range 0-1000000", wb.Weight)
	}
	reqOps, err := headerOps(r.RequestHeaders, wb.RequestHeaders)
	if err != nil {
		return rb, false, fmt.Errorf("request header modifier: %w", err)
	}
	respOps, err := headerOps(r.ResponseHeaders, wb.ResponseHeaders)
	if err != nil {
		return rb, false, fmt.Errorf("response header modifier: %w", err)
	}
	if wb.Weight == 0 {
		return rb, false, nil
	}
	rb.weight = wb.Weight
	if wb.Invalid {
		rb.status = invalidStatus(r)
		return rb, true, nil
	}
	c, ok := tb.clusters[wb.Cluster]
	if !ok || wb.Cluster == "" {
		return rb, false, fmt.Errorf("cluster %q not in the Gateway's clusters", wb.Cluster)
	}
	if len(c.Endpoints) == 0 {
		rb.status = statusNoEndpoints
		return rb, true, nil
	}
	if prof, err = prof.withBackend(wb.Proxy); err != nil {
		return rb, false, err
	}
	prof, ok = prof.withClusterTLS(c.TLS, tb.opts)
	if !ok || tb.badTLS[c.Name] {
		rb.status = invalidStatus(r)
		return rb, true, nil
	}
	rb.member = groupMember{cluster: c, prof: prof}
	rb.req, rb.resp = reqOps, respOps
	return rb, true, nil
}

// headerOps flattens rule-level then backendRef-level modifiers into
// [[:set, name, value], [:add, name, value], [:remove, name]] applied in order.
func headerOps(mods ...*model.HeaderModifier) (rbArr, error) {
	ops := rbArr{}
	for _, m := range mods {
		if m == nil {
			continue
		}
		for _, l := range []struct {
			op  string
			nvs []model.NameValue
		}{{"set", m.Set}, {"add", m.Add}} {
			for _, nv := range l.nvs {
				n, err := headerName(nv.Name)
				if err != nil {
					return nil, err
				}
				if err := checkHeaderValue(nv.Value); err != nil {
					return nil, fmt.Errorf("%s: %w", n, err)
				}
				ops = append(ops, rbArr{rbSym(l.op), rbStr(n), rbStr(nv.Value)})
			}
		}
		for _, name := range m.Remove {
			n, err := headerName(name)
			if err != nil {
				return nil, err
			}
			ops = append(ops, rbArr{rbSym("remove"), rbStr(n)})
		}
	}
	return ops, nil
}

// contentKey names response header operations by their content, so a key read by
// restore.rb means the same operations in every version of the table.
func contentKey(v rbValue) string {
	sum := sha256.Sum256([]byte(flatRuby(v)))
	return "r" + hex.EncodeToString(sum[:8])
}
