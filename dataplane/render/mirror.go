package render

import (
	"fmt"
	"strconv"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// RequestMirror. nghttpx cannot duplicate a request, so a rule with mirrors is
// steered through a tee (package dataplane/mirror) running next to nghttpx:
//
//	client -> frontend -> router.rb: rule, primary group by weight, request
//	  filters, sampled mirror groups -> group MirrorTeeKey (the tee, no script)
//	tee -> internal frontend (x-ngxgw-target: primary key) -> router.rb steers
//	  to /__ngxgw/<key>/ -> restore.rb and the backend; the answer goes back
//	tee -> internal frontend (x-ngxgw-target: each mirror key), answers dropped
//
// Only the internal frontend trusts x-ngxgw-target; everywhere else the router
// strips client x-ngxgw-* headers as always. A request none of whose mirrors was
// sampled goes straight to its group.

// MirrorTeeKey is the BackendGroup.Key (and pattern /__ngxgw/<key>/) of the tee;
// cluster keys always end in a dash and eight hex digits, so it cannot clash.
const MirrorTeeKey = "mirror-tee"

// Headers between the router, the tee and the internal frontend.
const (
	// MirrorPrimaryHeader is the primary cluster key the tee forwards to.
	MirrorPrimaryHeader = "x-ngxgw-mirror-primary"
	// MirrorKeysHeader lists the mirror cluster keys, separated by spaces.
	MirrorKeysHeader = "x-ngxgw-mirror-keys"
	// MirrorTargetHeader tells the internal frontend which group to use.
	MirrorTargetHeader = "x-ngxgw-target"
)

func (o Options) mirrorEnabled() bool { return o.MirrorTeePort != 0 && o.MirrorInternalPort != 0 }

func (o Options) validateMirrorPorts() error {
	if (o.MirrorTeePort == 0) != (o.MirrorInternalPort == 0) {
		return fmt.Errorf("mirror tee port %d and internal port %d: set both or neither", o.MirrorTeePort, o.MirrorInternalPort)
	}
	if !o.mirrorEnabled() {
		return nil
	}
	used := map[int]string{o.APIPort: "API"}
	if o.HealthPort != 0 {
		used[o.HealthPort] = "health"
	}
	for _, p := range []struct {
		what string
		port int
	}{{"mirror tee", o.MirrorTeePort}, {"mirror internal", o.MirrorInternalPort}} {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%s port %d out of range 1-65535", p.what, p.port)
		}
		if other, dup := used[p.port]; dup {
			return fmt.Errorf("%s port %d is also the %s port", p.what, p.port, other)
		}
		used[p.port] = p.what
	}
	return nil
}

// mirrors renders a rule's mirrors as [[group key, numerator, denominator], ...]
// and records their groups (the cluster with its TLS settings, no rule
// timeouts). Mirrors that can never send a copy (share 0, no endpoints, TLS the
// binary cannot verify) are left out; ok is false when none is left.
func (tb *tableBuilder) mirrors(r model.Rule) (rbArr, bool, error) {
	if !tb.opts.mirrorEnabled() || len(r.Mirrors) == 0 {
		return nil, false, nil
	}
	out := rbArr{}
	for i, m := range r.Mirrors {
		if m.Denominator < 1 || m.Numerator < 0 || m.Numerator > m.Denominator {
			return nil, false, fmt.Errorf("mirror %d: share %d/%d invalid", i, m.Numerator, m.Denominator)
		}
		c, ok := tb.clusters[m.Cluster]
		if !ok {
			return nil, false, fmt.Errorf("mirror %d: cluster %q not in the Gateway's clusters", i, m.Cluster)
		}
		if m.Numerator == 0 || len(c.Endpoints) == 0 {
			continue
		}
		prof, ok := profile{}.withClusterTLS(c.TLS, tb.opts)
		if !ok {
			continue
		}
		key := groupKey(c.Name, prof)
		// A copy carries the primary's internal headers: restore.rb strips them.
		tb.addGroup(key, &groupUse{members: []groupMember{{cluster: c, prof: prof}}, profile: prof, restore: true})
		out = append(out, rbArr{rbStr(key), rbInt(m.Numerator), rbInt(m.Denominator)})
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	tb.mirrorUsed = true
	return out, true, nil
}

// teeGroup is the tee's backend group. It runs no script, so the internal
// headers reach the tee. Its read timeout is the longest allowed: the second
// pass through nghttpx applies the rule's own timeouts.
func teeGroup(opts Options) BackendGroup {
	line := "backend=127.0.0.1," + strconv.Itoa(opts.MirrorTeePort) + ";" + ClusterPathPrefix + MirrorTeeKey +
		"/;proto=http/1.1;read-timeout=" + duration(maxTimeoutMillis)
	return BackendGroup{Key: MirrorTeeKey, Lines: []string{line}}
}

// internalFrontend is the frontend the tee sends requests back to.
func internalFrontend(opts Options) string {
	return "127.0.0.1," + strconv.Itoa(opts.MirrorInternalPort) + ";no-tls"
}
