package translate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/validate"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// BackendTLSPolicy (GEP-1897): a policy targets Services (optionally one port by
// name through sectionName). The oldest policy wins a target (then namespace/name);
// a port-specific target beats a Service-wide one. A winning policy that cannot
// be used (no valid CA certificate, unsupported well-known CA set) makes its
// backends answer 500 rather than connect unverified. Status goes to every
// Gateway of ours whose attached routes use a targeted Service port.

// btlsPolicy is one BackendTLSPolicy after validation.
type btlsPolicy struct {
	in  *gatewayv1.BackendTLSPolicy
	key nsName
	// tls is the verification to apply; nil when the policy cannot be used.
	tls *model.ClusterTLS
	// accepted and resolvedRefs are the conditions of every ancestor entry.
	accepted, resolvedRefs condition
	// ancestors are the Gateways whose routes use a target of the policy.
	ancestors map[nsName]bool
}

// btlsTarget is a Service, or one of its ports by name.
type btlsTarget struct {
	svc     nsName
	section string
}

// btlsUse is a Service port a route's backendRef resolved to.
type btlsUse struct {
	svc      nsName
	portName string
}

// backendTLS indexes the policies of one translation.
type backendTLS struct {
	// policies in precedence order.
	policies []*btlsPolicy
	// winner per target; all lists every policy naming the target.
	winner map[btlsTarget]*btlsPolicy
	all    map[btlsTarget][]*btlsPolicy
	// uses are the Service ports each route's backends resolved to.
	uses map[routeKey][]btlsUse
}

// resolveBackendTLSPolicies validates every policy and decides conflicts.
func (t *translator) resolveBackendTLSPolicies(in []gatewayv1.BackendTLSPolicy) {
	b := &backendTLS{winner: map[btlsTarget]*btlsPolicy{}, all: map[btlsTarget][]*btlsPolicy{}, uses: map[routeKey][]btlsUse{}}
	t.btls = b
	ps := dedupSorted(in, func(p *gatewayv1.BackendTLSPolicy) nsName { return keyOf(p) })
	slices.SortStableFunc(ps, func(a, b *gatewayv1.BackendTLSPolicy) int {
		if c := a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return compareKeys(keyOf(a), keyOf(b))
	})
	for _, p := range ps {
		bp := &btlsPolicy{in: p, key: keyOf(p), ancestors: map[nsName]bool{}}
		b.policies = append(b.policies, bp)
		var targets []btlsTarget
		for _, ref := range p.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != "Service" {
				continue
			}
			tg := btlsTarget{svc: nsName{p.Namespace, string(ref.Name)}}
			if ref.SectionName != nil {
				tg.section = string(*ref.SectionName)
			}
			targets = append(targets, tg)
		}
		conflicted := ""
		for _, tg := range targets {
			b.all[tg] = append(b.all[tg], bp)
			if w := b.winner[tg]; w != nil && conflicted == "" {
				conflicted = fmt.Sprintf("BackendTLSPolicy %s targets %s first", w.key, tg)
			}
		}
		t.validateBackendTLSPolicy(bp)
		if conflicted != "" {
			bp.tls = nil
			bp.accepted = falseCond(string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.PolicyReasonConflicted),
				conflicted+"; the older policy takes precedence")
			continue
		}
		if len(targets) == 0 && bp.accepted.Status == metav1.ConditionTrue {
			bp.accepted = falseCond(string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.PolicyReasonTargetNotFound),
				"no targetRef names a core Service, the only kind supported")
		}
		for _, tg := range targets {
			b.winner[tg] = bp
		}
	}
}

func (tg btlsTarget) String() string {
	if tg.section == "" {
		return "Service " + tg.svc.String()
	}
	return fmt.Sprintf("port %s of Service %s", tg.section, tg.svc)
}

// validateBackendTLSPolicy sets bp.tls and the conditions from the policy alone.
func (t *translator) validateBackendTLSPolicy(bp *btlsPolicy) {
	p, v := bp.in, &bp.in.Spec.Validation
	accepted := func() {
		bp.accepted = trueCond(string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.PolicyReasonAccepted), "Policy is accepted")
	}
	bp.resolvedRefs = trueCond(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs),
		string(gatewayv1.BackendTLSPolicyReasonResolvedRefs), "All references are resolved")
	invalid := func(msg string) {
		bp.accepted = falseCond(string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.PolicyReasonInvalid), msg)
	}
	tls := &model.ClusterTLS{
		Source:   model.ObjectRef{Group: gatewayv1.GroupName, Kind: "BackendTLSPolicy", Namespace: p.Namespace, Name: p.Name},
		Hostname: string(v.Hostname),
	}
	if err := checkPreciseHostname(tls.Hostname); err != nil {
		invalid(fmt.Sprintf("validation.hostname: %v", err))
		return
	}
	for i, san := range v.SubjectAltNames {
		switch san.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			if err := checkSANHostname(string(san.Hostname)); err != nil {
				invalid(fmt.Sprintf("validation.subjectAltNames[%d].hostname: %v", i, err))
				return
			}
			tls.SubjectAltNames = append(tls.SubjectAltNames, model.SubjectAltName{Type: "dns", Value: string(san.Hostname)})
		case gatewayv1.URISubjectAltNameType:
			if err := checkSANURI(string(san.URI)); err != nil {
				invalid(fmt.Sprintf("validation.subjectAltNames[%d].uri: %v", i, err))
				return
			}
			tls.SubjectAltNames = append(tls.SubjectAltNames, model.SubjectAltName{Type: "uri", Value: string(san.URI)})
		default:
			invalid(fmt.Sprintf("validation.subjectAltNames[%d]: type %q is not supported", i, san.Type))
			return
		}
	}
	wk := v.WellKnownCACertificates
	switch {
	case wk != nil && *wk != "" && len(v.CACertificateRefs) > 0:
		invalid("set either validation.caCertificateRefs or validation.wellKnownCACertificates, not both")
		return
	case wk != nil && *wk != "":
		if *wk != gatewayv1.WellKnownCACertificatesSystem {
			invalid(fmt.Sprintf("validation.wellKnownCACertificates %q is not supported; use %q or caCertificateRefs",
				*wk, gatewayv1.WellKnownCACertificatesSystem))
			return
		}
		accepted()
		bp.tls = tls
		return
	case len(v.CACertificateRefs) == 0:
		invalid("validation needs caCertificateRefs or wellKnownCACertificates")
		return
	}
	var bundle []byte
	var problems []string
	reason := ""
	for _, ref := range v.CACertificateRefs {
		pem, r, msg := t.backendCACertificate(p.Namespace, ref)
		if r != "" {
			problems = append(problems, msg)
			if reason == "" {
				reason = r
			}
			continue
		}
		bundle = append(bundle, pem...)
	}
	if len(problems) > 0 {
		bp.resolvedRefs = falseCond(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), reason, joinMessages(problems))
	}
	if bundle == nil {
		bp.accepted = falseCond(string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate),
			"no caCertificateRef is usable; see ResolvedRefs")
		return
	}
	accepted()
	if len(problems) > 0 {
		// Connections that would rely on an invalid reference must fail.
		return
	}
	tls.CACertPEM = bundle
	bp.tls = tls
}

// backendCACertificate reads the ca.crt of one caCertificateRef (a ConfigMap in
// the policy's namespace); on failure it returns the ResolvedRefs reason and a
// message.
func (t *translator) backendCACertificate(ns string, ref gatewayv1.LocalObjectReference) ([]byte, string, string) {
	k := nsName{ns, string(ref.Name)}
	if ref.Group != "" || ref.Kind != "ConfigMap" {
		return nil, string(gatewayv1.BackendTLSPolicyReasonInvalidKind),
			fmt.Sprintf("caCertificateRef %s has kind %s; only core ConfigMaps are supported", k, groupKind(string(ref.Group), string(ref.Kind)))
	}
	cm := t.idx.configMaps[k]
	if cm == nil {
		return nil, string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s does not exist", k)
	}
	data := []byte(cm.Data[CACertificateKey])
	if _, ok := cm.Data[CACertificateKey]; !ok {
		data = cm.BinaryData[CACertificateKey]
	}
	if len(data) == 0 {
		return nil, string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef),
			fmt.Sprintf("ConfigMap %s has no key %s", k, CACertificateKey)
	}
	out, err := caBundle(data)
	if err != nil {
		return nil, string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef),
			fmt.Sprintf("ConfigMap %s key %s: %v", k, CACertificateKey, err)
	}
	return out, "", ""
}

// backendTLSFor returns the policy that decides how route r reaches port sp of
// Service svc (nil: none), and records the use for the policies' status.
func (t *translator) backendTLSFor(r *gatewayv1.HTTPRoute, svc nsName, sp *corev1.ServicePort) *btlsPolicy {
	b := t.btls
	if b == nil {
		return nil
	}
	rk := routeKeyOf(r)
	u := btlsUse{svc: svc, portName: sp.Name}
	if !slices.Contains(b.uses[rk], u) {
		b.uses[rk] = append(b.uses[rk], u)
	}
	if sp.Name != "" {
		if w := b.winner[btlsTarget{svc, sp.Name}]; w != nil {
			return w
		}
	}
	return b.winner[btlsTarget{svc: svc}]
}

// finishBackendTLSPolicies finds every policy's ancestors among gws and returns
// the policies whose status concerns us, with only our ancestor entries rewritten.
func (t *translator) finishBackendTLSPolicies(gws []*gatewayState) []gatewayv1.BackendTLSPolicy {
	b := t.btls
	if b == nil {
		return nil
	}
	for _, gs := range gws {
		gk := keyOf(gs.in)
		for _, l := range gs.mergedListeners() {
			for _, a := range l.attachments {
				for _, u := range b.uses[a.route.key] {
					tgs := []btlsTarget{{svc: u.svc}}
					if u.portName != "" {
						tgs = append(tgs, btlsTarget{u.svc, u.portName})
					}
					for _, tg := range tgs {
						for _, bp := range b.all[tg] {
							bp.ancestors[gk] = true
						}
					}
				}
			}
		}
	}
	ours := func(a gatewayv1.PolicyAncestorStatus) bool { return string(a.ControllerName) == t.opts.ControllerName }
	var out []gatewayv1.BackendTLSPolicy
	for _, bp := range b.policies {
		if len(bp.ancestors) == 0 && !slices.ContainsFunc(bp.in.Status.Ancestors, ours) {
			continue
		}
		o := bp.in.DeepCopy()
		var statuses []gatewayv1.PolicyAncestorStatus
		for _, a := range o.Status.Ancestors {
			if !ours(a) {
				statuses = append(statuses, a)
			}
		}
		keys := make([]nsName, 0, len(bp.ancestors))
		for k := range bp.ancestors {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			ref := gatewayv1.ParentReference{
				Group:     new(gatewayv1.Group(gatewayv1.GroupName)),
				Kind:      new(gatewayv1.Kind("Gateway")),
				Namespace: new(gatewayv1.Namespace(k.Namespace)),
				Name:      gatewayv1.ObjectName(k.Name),
			}
			var old []metav1.Condition
			for _, a := range bp.in.Status.Ancestors {
				if ours(a) && reflect.DeepEqual(a.AncestorRef, ref) {
					old = a.Conditions
				}
			}
			statuses = append(statuses, gatewayv1.PolicyAncestorStatus{
				AncestorRef:    ref,
				ControllerName: gatewayv1.GatewayController(t.opts.ControllerName),
				Conditions: mergeConditions(old, []condition{bp.accepted, bp.resolvedRefs},
					[]string{string(gatewayv1.PolicyConditionAccepted), string(gatewayv1.BackendTLSPolicyConditionResolvedRefs)},
					bp.in.Generation, t.opts.Now),
			})
		}
		// The API allows 16 ancestors; ours come after the others, sorted.
		if len(statuses) > 16 {
			statuses = statuses[:16]
		}
		if statuses == nil {
			statuses = []gatewayv1.PolicyAncestorStatus{}
		}
		o.Status.Ancestors = statuses
		out = append(out, *o)
	}
	return out
}

// clusterTLS returns a copy of the policy's verification for a cluster.
func (bp *btlsPolicy) clusterTLS() *model.ClusterTLS {
	c := *bp.tls
	c.SubjectAltNames = slices.Clone(bp.tls.SubjectAltNames)
	return &c
}

// isHTTPSAppProtocol: appProtocols that ask for TLS to the backend, usable once a
// BackendTLSPolicy says how to verify it.
func isHTTPSAppProtocol(p *string) bool {
	return p != nil && (strings.EqualFold(*p, "https") || *p == "kubernetes.io/https")
}

// checkPreciseHostname accepts a DNS name without wildcard, as SNI and for
// certificate matching.
func checkPreciseHostname(h string) error {
	if h == "" {
		return fmt.Errorf("empty")
	}
	if strings.HasPrefix(h, "*") {
		return fmt.Errorf("%q: wildcards are not allowed", h)
	}
	return checkSANHostname(h)
}

// checkSANHostname accepts a lower-case DNS name, optionally with a leading "*."
// label: what the data plane writes as SNI and into the SAN file.
func checkSANHostname(h string) error { return validate.Hostname(h, true) }

// checkSANURI accepts an absolute URI of printable ASCII (no spaces), the form
// certificates carry.
func checkSANURI(u string) error {
	i := strings.Index(u, ":")
	if i <= 0 || i == len(u)-1 || len(u) > 2048 {
		return fmt.Errorf("%q: not an absolute URI", u)
	}
	for j := 0; j < len(u); j++ {
		if u[j] <= ' ' || u[j] >= 0x7f {
			return fmt.Errorf("%q: byte %q not allowed", u, u[j])
		}
	}
	return nil
}

// backendClientCertificate resolves the Gateway's spec.tls.backend
// clientCertificateRef. It returns nil and no condition without one; otherwise the
// Gateway ResolvedRefs condition and, when usable, the certificate.
func (t *translator) backendClientCertificate(g *gatewayv1.Gateway) (*model.Certificate, *condition) {
	if g.Spec.TLS == nil || g.Spec.TLS.Backend == nil || g.Spec.TLS.Backend.ClientCertificateRef == nil {
		return nil, nil
	}
	cert, reason, msg := t.resolveCertificateFrom(gatewayOwner(g), *g.Spec.TLS.Backend.ClientCertificateRef)
	if cert == nil {
		r := gatewayv1.GatewayReasonInvalidClientCertificateRef
		if reason == string(gatewayv1.ListenerReasonRefNotPermitted) {
			r = gatewayv1.GatewayReasonRefNotPermitted
		}
		c := falseCond(string(gatewayv1.GatewayConditionResolvedRefs), string(r),
			"spec.tls.backend.clientCertificateRef: "+msg)
		return nil, &c
	}
	cert.OCSPResponse = nil
	c := trueCond(string(gatewayv1.GatewayConditionResolvedRefs), string(gatewayv1.GatewayReasonResolvedRefs), "All references are resolved")
	return cert, &c
}
