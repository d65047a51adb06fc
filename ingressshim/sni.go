package ingressshim

import (
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// tlsCert is one spec.tls entry with a usable Secret.
type tlsCert struct {
	index  int
	hosts  []string
	secret nsName
}

// sniEntries decides which server names each certificate of the Gateway's
// HTTPS listener is served for (load.ExclusiveGateway.SNI):
//   - an Ingress's certificate only for the hosts of its spec.tls entry (all
//     hosts of its rules when the entry lists none) that the same Ingress has a
//     rule for (a wildcard entry: the Ingress's rule hosts under it, by name): a certificate never answers for a host its Ingress does not
//     serve, whatever names the certificate carries;
//   - a host listed by several Ingresses gets the oldest one's certificate
//     (the order in which Ingresses claim paths); the others get an Event;
//   - every other name, and clients without SNI, get the default TLS Secret
//     (--default-tls-secret) or, without one, no real certificate at all (the
//     data plane's placeholder): no Ingress's certificate becomes the default.
func (t *translator) sniEntries(gs *gatewayState) {
	gs.sni = nil
	if !gs.https {
		return
	}
	if k := t.cfg.defaultTLSSecret; k != nil && t.checkSecret(*k) == nil {
		gs.sni = append(gs.sni, load.SNISecret{Secret: k.String()})
	}
	owner := map[string]*ingressState{}
	for _, is := range gs.ingresses { // oldest first
		ruleHosts := map[string]bool{}
		var sorted []string
		for _, r := range is.ing.Spec.Rules {
			h := strings.ToLower(r.Host)
			if h != "" && !ruleHosts[h] {
				ruleHosts[h] = true
				sorted = append(sorted, h)
			}
		}
		slices.Sort(sorted)
		for _, tc := range is.tlsCerts {
			hosts := tc.hosts
			if len(hosts) == 0 {
				hosts = sorted
			}
			var names []string
			for _, h := range hosts {
				h = strings.ToLower(h)
				suffix, wild := strings.CutPrefix(h, "*")
				if !wild || ruleHosts[h] {
					names = append(names, h)
					continue
				}
				n := len(names)
				{
					// A wildcard entry covers this Ingress's own hosts under it,
					// each by name; the wildcard itself could reach other tenants' hosts.
					for _, r := range sorted {
						if strings.HasSuffix(r, suffix) && len(r) > len(suffix) && !strings.HasPrefix(r, "*") {
							names = append(names, r)
						}
					}
				}
				if len(names) == n {
					names = append(names, h) // warned below
				}
			}
			for _, h := range names {
				if !ruleHosts[h] {
					is.warn(ReasonTLSHostNotServed, "spec.tls[%d]: host %q has no rule in this Ingress, so Secret %s is not served for it", tc.index, h, tc.secret.Name)
					continue
				}
				if o := owner[h]; o != nil && o != is {
					is.warn(ReasonTLSHostNotServed, "spec.tls[%d]: host %q: the certificate of the older Ingress %s/%s is served for it, not Secret %s",
						tc.index, h, o.ing.Namespace, o.ing.Name, tc.secret.Name)
					continue
				}
				if owner[h] == is {
					continue // an earlier entry of this Ingress names it
				}
				owner[h] = is
				gs.sni = append(gs.sni, load.SNISecret{Hostname: h, Secret: tc.secret.String()})
			}
		}
	}
}
