package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
)

// Backend groups: every (cluster, parameter profile) a rule uses is one nghttpx
// pattern /__ngxgw/<key>/ that only the router's path rewrite can reach.

// ClusterPathPrefix starts every synthetic cluster pattern.
const ClusterPathPrefix = "/__ngxgw/"

// CatchAllKey is the BackendGroup.Key of the catch-all pattern "/".
const CatchAllKey = "catch-all"

// catchAllLine lets nghttpx start without any cluster; the address is never dialled
// (dnf) and fallback.rb answers 503 for anything that ends up here.
const catchAllLine = "backend=127.0.0.1,9;/;dnf;mruby=%s"

// profile is the per-group nghttpx parameter set derived from a rule.
type profile struct {
	readTimeoutMillis int64
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
	if ms > 24*3600*1000 {
		return profile{}, fmt.Errorf("timeout %dms longer than a day", ms)
	}
	return profile{readTimeoutMillis: ms}, nil
}

func (p profile) String() string {
	if p.readTimeoutMillis == 0 {
		return ""
	}
	return "read-timeout=" + duration(p.readTimeoutMillis)
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
	var b strings.Builder
	dash := false
	for i := 0; i < len(cluster) && b.Len() < 40; i++ {
		c := cluster[i]
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
	sum := sha256.Sum256([]byte(cluster + "\x00" + p.String()))
	return name + "-" + hex.EncodeToString(sum[:4])
}

// backendGroups renders the groups the route table uses, sorted by key, then the
// catch-all.
func backendGroups(groups map[string]*groupUse, opts Options) ([]BackendGroup, error) {
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	restore := opts.StateDir + "/" + RestoreScriptFile
	out := make([]BackendGroup, 0, len(keys)+1)
	for _, k := range keys {
		g := groups[k]
		var proto string
		switch g.cluster.Protocol {
		case model.BackendH2C:
			proto = "h2"
		case model.BackendHTTP1, model.BackendWebSocket, "":
			// WebSocket upgrades pass over HTTP/1.1 backends; nghttpx turns RFC 8441
			// requests from HTTP/2 clients into HTTP/1.1 upgrades.
			proto = "http/1.1"
		default:
			return nil, fmt.Errorf("cluster %q: protocol %q not supported", g.cluster.Name, g.cluster.Protocol)
		}
		params := ";proto=" + proto + ";mruby=" + restore
		if s := g.profile.String(); s != "" {
			params += ";" + s
		}
		eps, err := endpoints(g.cluster)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %w", g.cluster.Name, err)
		}
		lines := make([]string, 0, len(eps))
		for _, ep := range eps {
			lines = append(lines, "backend="+ep+";"+ClusterPathPrefix+k+"/"+params)
		}
		out = append(out, BackendGroup{Key: k, Lines: lines})
	}
	out = append(out, BackendGroup{
		Key:   CatchAllKey,
		Lines: []string{fmt.Sprintf(catchAllLine, opts.StateDir+"/"+FallbackScriptFile)},
	})
	return out, nil
}

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
