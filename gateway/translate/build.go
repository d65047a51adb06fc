package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// finishGateway writes the Gateway's status once all routes have attached, and
// builds its model when it is accepted and has a listener to serve.
func (t *translator) finishGateway(gs *gatewayState) {
	g, out := gs.in, gs.out
	accepted := gs.accepted()

	oldListeners := map[gatewayv1.SectionName][]gatewayv1.ListenerStatus{}
	for _, ls := range g.Status.Listeners {
		oldListeners[ls.Name] = append(oldListeners[ls.Name], ls)
	}
	out.Status.Listeners = make([]gatewayv1.ListenerStatus, 0, len(gs.listeners))
	var notValid []string
	programmable := 0
	for _, l := range gs.listeners {
		oldConds := firstConditions(oldListeners[l.spec.Name])
		out.Status.Listeners = append(out.Status.Listeners, gatewayv1.ListenerStatus{
			Name:           l.spec.Name,
			SupportedKinds: l.supportedKinds,
			AttachedRoutes: int32(len(l.attachedRoutes)),
			Conditions:     mergeConditions(oldConds, l.conditions(accepted), listenerConditionTypes(), g.Generation, t.opts.Now),
		})
		if !l.accepted() || len(l.refProblems) > 0 {
			notValid = append(notValid, l.name())
		}
		if l.programmable() {
			programmable++
		}
	}

	var conds []condition
	switch {
	case gs.notAccepted != nil:
		conds = append(conds, *gs.notAccepted)
	case len(gs.listeners) == 0:
		conds = append(conds, falseCond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonListenersNotValid),
			"the Gateway has no listeners"))
	case !accepted:
		conds = append(conds, falseCond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonListenersNotValid),
			fmt.Sprintf("no listener is valid: %s", strings.Join(notValid, ", "))))
	case len(notValid) > 0:
		conds = append(conds, trueCond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonListenersNotValid),
			fmt.Sprintf("Gateway is accepted, but these listeners are not valid: %s", strings.Join(notValid, ", "))))
	default:
		conds = append(conds, trueCond(string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayReasonAccepted), "Gateway is accepted"))
	}
	if accepted && gs.settingsProblem != "" {
		// An unusable annotation does not reject the Gateway (the class setting
		// applies); Accepted's message is rewritten on every translation, so the
		// note disappears once the annotation is fixed.
		conds[0].Message += "; " + gs.settingsProblem
	}
	switch {
	case !accepted:
		conds = append(conds, falseCond(string(gatewayv1.GatewayConditionProgrammed), string(gatewayv1.GatewayReasonInvalid), "Gateway is not accepted"))
	case programmable+gs.listenerSetProgrammable() == 0:
		conds = append(conds, falseCond(string(gatewayv1.GatewayConditionProgrammed), string(gatewayv1.GatewayReasonInvalid), "no listener can be programmed"))
	case gs.addressProblem != nil:
		conds = append(conds, *gs.addressProblem)
	default:
		conds = append(conds, trueCond(string(gatewayv1.GatewayConditionProgrammed), string(gatewayv1.GatewayReasonProgrammed), "Gateway is programmed"))
	}
	if c := insecureFrontendCondition(g); c != nil {
		conds = append(conds, *c)
	}
	backendCert, backendCertCond := t.backendClientCertificate(g)
	if backendCertCond != nil {
		conds = append(conds, *backendCertCond)
	}
	out.Status.Conditions = mergeConditions(g.Status.Conditions, conds,
		[]string{string(gatewayv1.GatewayConditionAccepted), string(gatewayv1.GatewayConditionProgrammed),
			string(gatewayv1.GatewayConditionInsecureFrontendValidationMode),
			string(gatewayv1.GatewayConditionResolvedRefs)}, g.Generation, t.opts.Now)
	out.Status.AttachedListenerSets = gs.attachedListenerSetCount()

	// A Gateway that is not accepted binds nothing.
	out.Status.Addresses = nil
	for _, a := range gs.addresses {
		if !accepted {
			break
		}
		out.Status.Addresses = append(out.Status.Addresses, gatewayv1.GatewayStatusAddress{
			Type: new(gatewayv1.IPAddressType), Value: a,
		})
	}
	for _, h := range gs.hostnames {
		if !accepted {
			break
		}
		out.Status.Addresses = append(out.Status.Addresses, gatewayv1.GatewayStatusAddress{
			Type: new(gatewayv1.HostnameAddressType), Value: h,
		})
	}
	if accepted && programmable+gs.listenerSetProgrammable() > 0 {
		gs.model = t.buildModel(gs)
		gs.model.BackendClientCertificate = backendCert
	}
}

func firstConditions(ls []gatewayv1.ListenerStatus) []metav1.Condition {
	if len(ls) == 0 {
		return nil
	}
	return ls[0].Conditions
}

// buildModel assembles the resolved model of an accepted Gateway from its
// programmable listeners and the routes attached to them.
func (t *translator) buildModel(gs *gatewayState) *model.Gateway {
	g := gs.in
	m := &model.Gateway{
		Source:    model.ObjectRef{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: g.Namespace, Name: g.Name},
		Addresses: slices.Clone(gs.addresses),
	}
	if len(t.opts.BindAddresses) > 0 {
		m.Addresses = slices.Clone(t.opts.BindAddresses)
	}
	if m.Addresses == nil {
		m.Addresses = []string{}
	}
	m.Settings = gs.settings
	ports := map[int32]*model.Port{}
	certs := map[string]*model.Certificate{}
	clusters := map[string]bool{}
	for _, l := range gs.mergedListeners() {
		if !l.programmable() {
			continue
		}
		ml := model.Listener{
			Source:   listenerSource(g, l),
			Hostname: l.hostname,
		}
		for _, c := range l.certs {
			ml.CertificateNames = append(ml.CertificateNames, c.Name)
			certs[c.Name] = c
		}
		if ex := t.idx.ext.exclusive[nsName{g.Namespace, g.Name}]; ex != nil && len(l.certs) > 0 {
			ml.SNI = sniCertificates(ex.sni, l.certs)
		}
		ml.VirtualHosts = virtualHosts(l)
		for _, vh := range ml.VirtualHosts {
			for _, r := range vh.Rules {
				for _, b := range r.Backends {
					if b.Cluster != "" {
						clusters[b.Cluster] = true
					}
				}
				for _, mr := range r.Mirrors { // RequestMirror targets need groups too
					clusters[mr.Cluster] = true
				}
			}
		}
		p := ports[l.spec.Port]
		if p == nil {
			p = &model.Port{Port: l.spec.Port, Protocol: model.Protocol(l.spec.Protocol)}
			ports[l.spec.Port] = p
		}
		if p.ClientValidation == nil {
			// Per port: every HTTPS listener of the port resolved the same one.
			p.ClientValidation = l.clientValidation
		}
		p.Listeners = append(p.Listeners, ml)
	}
	m.Ports = []model.Port{}
	for _, p := range ports {
		slices.SortStableFunc(p.Listeners, func(a, b model.Listener) int { return compareHostnames(a.Hostname, b.Hostname) })
		m.Ports = append(m.Ports, *p)
	}
	slices.SortFunc(m.Ports, func(a, b model.Port) int { return cmp.Compare(a.Port, b.Port) })
	for _, name := range sortedKeys(clusters) {
		m.Clusters = append(m.Clusters, *t.clusters[name])
	}
	for _, name := range sortedKeys(certs) {
		m.Certificates = append(m.Certificates, *certs[name])
	}
	return m
}

// virtualHosts groups the rules of the routes attached to l by hostname pattern,
// each group in precedence order.
func virtualHosts(l *listenerState) []model.VirtualHost {
	byHost := map[string][]rankedRule{}
	for _, a := range l.attachments {
		for _, h := range a.hostnames {
			for _, rule := range a.route.rules {
				if rule.invalid != nil {
					continue
				}
				for j := range rule.rules {
					byHost[h] = append(byHost[h], rankedRule{rule: &rule.rules[j], route: a.route, ruleIndex: rule.index, matchIndex: j})
				}
			}
		}
	}
	hosts := sortedKeys(byHost)
	sortHostnames(hosts)
	out := make([]model.VirtualHost, 0, len(hosts))
	for _, h := range hosts {
		rs := byHost[h]
		sortRules(rs)
		vh := model.VirtualHost{Hostname: h, Rules: make([]model.Rule, len(rs))}
		for i, r := range rs {
			vh.Rules[i] = *r.rule
		}
		out = append(out, vh)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sniCertificates maps an extension's SNI entries to the listener's certificates
// by Secret; entries for a Secret the listener does not serve are left out.
func sniCertificates(entries []load.SNISecret, certs []*model.Certificate) []model.SNICertificate {
	out := []model.SNICertificate{}
	for _, e := range entries {
		ns, name, _ := strings.Cut(e.Secret, "/")
		for _, c := range certs {
			if c.Source.Namespace == ns && c.Source.Name == name {
				out = append(out, model.SNICertificate{Hostname: e.Hostname, Certificate: c.Name})
				break
			}
		}
	}
	return out
}
