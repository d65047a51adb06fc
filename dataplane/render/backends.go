package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Backend groups: every (cluster, parameter profile) a rule uses is one nghttpx
// pattern /__ngxgw/<key>/ that only the router can reach: by choosing it
// (Features.BackendGroup) or by rewriting the path to it.

// ClusterPathPrefix starts every synthetic cluster pattern.
const ClusterPathPrefix = "/__ngxgw/"

// CatchAllKey is the BackendGroup.Key of the catch-all pattern "/".
const CatchAllKey = "catch-all"

// catchAllLine lets nghttpx start without any cluster; the address is never dialled
// (dnf) and fallback.rb answers 503 for anything that ends up here.
const catchAllLine = "backend=" + dnfAddress + ";/;dnf;mruby=%s"

// profile is the per-group nghttpx parameter set derived from a rule and one of its
// backends: everything nghttpx configures per pattern rather than per request.
type profile struct {
	readTimeoutMillis  int64
	writeTimeoutMillis int64
	// affinity is "", "ip" or "cookie"; the cookie fields go with "cookie".
	affinity, cookieName, cookiePath, cookieSecure, cookieStickiness string
	// proto overrides the cluster's protocol ("h2" or "http/1.1"); "" keeps it.
	proto    string
	tls, dns bool
	sni      string
	// tlsCA and tlsSAN are the absolute paths of a cluster's BackendTLSPolicy
	// files (backendtls.go); "" when not used.
	tlsCA, tlsSAN string
	// script is the per-pattern program (a scripted-*.rb file) running the rule's
	// user script; "" means restore.rb.
	script string
	// dnf: nothing is forwarded (the user script answers).
	dnf bool
}

// profileOf maps Gateway API timeouts onto the backend read timeout: nghttpx has no
// whole-request timeout, so the stricter of the two bounds the wait for the backend.
func profileOf(t *model.Timeouts) (profile, error) {
	if t == nil {
		return profile{}, nil
	}
	if t.RequestMillis < 0 || t.BackendRequestMillis < 0 {
		return profile{}, fmt.Errorf("negative timeout")
	}
	ms := t.RequestMillis
	if b := t.BackendRequestMillis; b != 0 && (ms == 0 || b < ms) {
		ms = b
	}
	if ms > maxTimeoutMillis {
		return profile{}, fmt.Errorf("timeout %dms longer than a day", ms)
	}
	return profile{readTimeoutMillis: ms}, nil
}

// String names every field as nghttpx parameters: the group key hashes it. A line
// writes the per-address ones (proto, tls, sni, dns) and mruby first (memberParams),
// then the rest in this order.
func (p profile) String() string {
	var parts []string
	if p.readTimeoutMillis != 0 {
		parts = append(parts, "read-timeout="+duration(p.readTimeoutMillis))
	}
	if p.writeTimeoutMillis != 0 {
		parts = append(parts, "write-timeout="+duration(p.writeTimeoutMillis))
	}
	if p.affinity != "" {
		parts = append(parts, "affinity="+p.affinity)
	}
	if p.affinity == string(model.AffinityCookie) {
		parts = append(parts, "affinity-cookie-name="+p.cookieName)
		if p.cookiePath != "" {
			parts = append(parts, "affinity-cookie-path="+p.cookiePath)
		}
		if p.cookieSecure != "" {
			parts = append(parts, "affinity-cookie-secure="+p.cookieSecure)
		}
		if p.cookieStickiness != "" {
			parts = append(parts, "affinity-cookie-stickiness="+p.cookieStickiness)
		}
	}
	if p.proto != "" {
		parts = append(parts, "proto="+p.proto)
	}
	if p.tls {
		parts = append(parts, "tls")
		if p.sni != "" {
			parts = append(parts, "sni="+p.sni)
		}
		if p.tlsCA != "" {
			parts = append(parts, "tls-ca="+p.tlsCA)
		}
		if p.tlsSAN != "" {
			parts = append(parts, "tls-san="+p.tlsSAN)
		}
	}
	if p.dns {
		parts = append(parts, "dns")
	}
	if p.script != "" {
		parts = append(parts, "mruby="+p.script)
	}
	if p.dnf {
		parts = append(parts, "dnf")
	}
	return strings.Join(parts, ";")
}

// withProxy adds a rule's nghttpx settings (Ingress path-config) to its profile.
// Every value ends up inside a backend= line, so each is checked against what
// nghttpx parses there: no ';' (the parameter separator), no control bytes.
func (p profile) withProxy(po *model.ProxyOptions) (profile, error) {
	if po == nil {
		return p, nil
	}
	for _, ms := range []int64{po.ReadTimeoutMillis, po.WriteTimeoutMillis} {
		if ms < 0 || ms > maxTimeoutMillis {
			return p, fmt.Errorf("proxy timeout %dms out of range (0 to a day)", ms)
		}
	}
	// The stricter read timeout wins: both bound the wait for the backend.
	if r := po.ReadTimeoutMillis; r != 0 && (p.readTimeoutMillis == 0 || r < p.readTimeoutMillis) {
		p.readTimeoutMillis = r
	}
	p.writeTimeoutMillis = po.WriteTimeoutMillis
	if a := po.Affinity; a != nil {
		switch a.Type {
		case model.AffinityIP:
			p.affinity = string(a.Type)
		case model.AffinityCookie:
			p.affinity = string(a.Type)
			if err := checkCookieName(a.CookieName); err != nil {
				return p, err
			}
			if a.CookiePath != "" {
				if err := validate.CookiePath(a.CookiePath); err != nil {
					return p, fmt.Errorf("affinity cookie path: %w", err)
				}
			}
			switch a.CookieSecure {
			case "", "auto", "yes", "no":
			default:
				return p, fmt.Errorf("affinity cookie secure %q: want auto, yes or no", a.CookieSecure)
			}
			switch a.CookieStickiness {
			case "", "loose", "strict":
			default:
				return p, fmt.Errorf("affinity cookie stickiness %q: want loose or strict", a.CookieStickiness)
			}
			p.cookieName, p.cookiePath, p.cookieSecure, p.cookieStickiness = a.CookieName, a.CookiePath, a.CookieSecure, a.CookieStickiness
		default:
			return p, fmt.Errorf("affinity type %q not supported", a.Type)
		}
	}
	return p, nil
}

// withBackend adds a backend's connection settings (Ingress backend-config).
func (p profile) withBackend(bo *model.BackendOptions) (profile, error) {
	if bo == nil {
		return p, nil
	}
	switch bo.Protocol {
	case "":
	case model.BackendH2C:
		p.proto = "h2"
	case model.BackendHTTP1:
		p.proto = "http/1.1"
	default:
		return p, fmt.Errorf("backend protocol %q not supported", bo.Protocol)
	}
	p.tls, p.dns = bo.TLS, bo.DNS
	if bo.TLS && bo.SNI != "" {
		if err := checkHostname(bo.SNI, false); err != nil {
			return p, fmt.Errorf("backend SNI: %w", err)
		}
		p.sni = bo.SNI
	}
	return p, nil
}

// duration writes milliseconds as nghttpx accepts them (Ns or Nms).
func duration(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10) + "s"
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// groupKey is [a-z0-9-]: the cluster name folded to that alphabet for readability,
// plus a hash of the exact name and profile for uniqueness.
func groupKey(cluster string, p profile) string {
	return foldedKey(cluster, cluster+"\x00"+p.String())
}

// foldedKey is readable folded to [a-z0-9-] (at most 40 bytes), a dash and a hash
// of identity.
func foldedKey(readable, identity string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(readable) && b.Len() < 40; i++ {
		c := readable[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "c"
	}
	sum := sha256.Sum256([]byte(identity))
	return name + "-" + hex.EncodeToString(sum[:4])
}

// backendGroups renders the groups the route table uses, sorted by key, then the
// catch-all. A line is: address; pattern; proto (the profile's, else the cluster's);
// mruby (the profile's program, else restore.rb); the rest of the profile.
func backendGroups(groups map[string]*groupUse, opts Options) ([]BackendGroup, error) {
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]BackendGroup, 0, len(keys)+1)
	for _, k := range keys {
		g := groups[k]
		p := g.profile
		if p.dnf {
			// No backend is ever dialled; the user script answers.
			line := "backend=" + dnfAddress + ";" + ClusterPathPrefix + k + "/;dnf;mruby=" + opts.StateDir + "/" + p.script
			out = append(out, BackendGroup{Key: k, Lines: []string{line}})
			continue
		}
		var lines []string
		for _, m := range g.members {
			params, err := memberParams(m, p, opts, g.restore || !opts.Features.BackendGroup)
			if err != nil {
				return nil, err
			}
			eps, err := endpoints(m.cluster)
			if err != nil {
				return nil, fmt.Errorf("cluster %q: %w", m.cluster.Name, err)
			}
			for _, ep := range eps {
				lines = append(lines, "backend="+ep+";"+ClusterPathPrefix+k+"/"+params)
			}
		}
		out = append(out, BackendGroup{Key: k, Lines: lines})
	}
	out = append(out, BackendGroup{
		Key:   CatchAllKey,
		Lines: []string{fmt.Sprintf(catchAllLine, opts.StateDir+"/"+FallbackScriptFile)},
	})
	return out, nil
}

// memberParams are the parameters of a member's lines: its own proto (else the
// cluster's), tls, sni and dns, then the group's program (its user script's, else
// restore.rb when restore is set, else none) and parameters.
func memberParams(m groupMember, g profile, opts Options, restore bool) (string, error) {
	proto := m.prof.proto
	if proto == "" {
		switch m.cluster.Protocol {
		case model.BackendH2C:
			proto = "h2"
		case model.BackendHTTP1, model.BackendWebSocket, "":
			// WebSocket upgrades pass over HTTP/1.1 backends; nghttpx turns RFC 8441
			// requests from HTTP/2 clients into HTTP/1.1 upgrades.
			proto = "http/1.1"
		default:
			return "", fmt.Errorf("cluster %q: protocol %q not supported", m.cluster.Name, m.cluster.Protocol)
		}
	}
	params := ";proto=" + proto
	if m.prof.tls {
		params += ";tls"
		if m.prof.sni != "" {
			params += ";sni=" + m.prof.sni
		}
		if m.prof.tlsCA != "" {
			params += ";tls-ca=" + m.prof.tlsCA
		}
		if m.prof.tlsSAN != "" {
			params += ";tls-san=" + m.prof.tlsSAN
		}
	}
	if m.prof.dns {
		params += ";dns"
	}
	script := ""
	switch {
	case g.script != "":
		script = g.script
	case restore:
		script = RestoreScriptFile
	}
	if script != "" {
		params += ";mruby=" + opts.StateDir + "/" + script
	}
	rest := g
	rest.proto, rest.tls, rest.sni, rest.dns, rest.script = "", false, "", false, ""
	rest.tlsCA, rest.tlsSAN = "", ""
	if s := rest.String(); s != "" {
		params += ";" + s
	}
	return params, nil
}

// dnfAddress is the never-dialled address of do-not-forward groups.
const dnfAddress = "127.0.0.1,9"

// endpoints returns "IP,PORT" for each distinct endpoint, sorted.
func endpoints(c *model.Cluster) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, ep := range c.Endpoints {
		ip, err := parseIP(ep.IP)
		if err != nil {
			return nil, err
		}
		if err := checkPort(ep.Port); err != nil {
			return nil, err
		}
		s := ip + "," + strconv.Itoa(int(ep.Port))
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out, nil
}
