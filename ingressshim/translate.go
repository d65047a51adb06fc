package ingressshim

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Translate turns the Ingresses that are ours into synthetic Gateway API objects
// plus extensions, and reports per-Ingress events. It is pure and deterministic:
// the same Input and Options give the same Result whatever the input order.
func Translate(in Input, opts Options) *Result {
	t := newTranslator(in, newConfig(opts))
	t.run()
	return t.res
}

type translator struct {
	cfg          *config
	classes      classIndex
	ingresses    []*networkingv1.Ingress // deduplicated, sorted by namespace/name
	services     map[nsName]*corev1.Service
	secrets      map[nsName]*corev1.Secret
	configMaps   map[nsName]*corev1.ConfigMap
	secretChecks map[nsName]error
	certs        *translate.CertificateIndex
	gateways     map[string]*gatewayState
	res          *Result
	seenEvents   map[string]bool
}

// gatewayState is one synthetic Gateway with everything its Ingresses claim.
type gatewayState struct {
	name  string
	class string
	// ingresses served by this Gateway, oldest first: the order in which they
	// claim paths.
	ingresses []*ingressState
	claims    map[matchKey]*claim
	// certs are the usable certificate Secrets, the default TLS Secret first.
	certs       []nsName
	http, https bool
	// sni says which server names each certificate is served for (sni.go).
	sni []load.SNISecret
	// defaultRoute answers what no Ingress rule matches; nil when an Ingress
	// rule or defaultBackend claims every host and path "/".
	defaultRoute *routeSpec
}

func (gs *gatewayState) addCert(k nsName) {
	if !slices.Contains(gs.certs, k) {
		gs.certs = append(gs.certs, k)
	}
}

// ingressState is one Ingress being translated.
type ingressState struct {
	ing    *networkingv1.Ingress
	gw     *gatewayState
	sel    selection
	ann    *annotations
	res    *IngressResult
	claims []*claim
	// tlsAll is set by a spec.tls entry without hosts; tlsHosts lists the others.
	tlsAll   bool
	tlsHosts []string
	// tlsCerts are the spec.tls entries with a usable Secret.
	tlsCerts []tlsCert
	events   map[Event]bool
	notes    map[string]bool
}

func (is *ingressState) key() nsName { return nsName{is.ing.Namespace, is.ing.Name} }

func (is *ingressState) event(typ, reason, format string, args ...any) {
	e := Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)}
	if !is.events[e] {
		is.events[e] = true
		is.res.Events = append(is.res.Events, e)
	}
}

func (is *ingressState) warn(reason, format string, args ...any) {
	is.event(EventWarning, reason, format, args...)
}

func (is *ingressState) addNotes(notes []string) {
	for _, n := range notes {
		if !is.notes[n] {
			is.notes[n] = true
			is.res.NonPortable = append(is.res.NonPortable, n)
		}
	}
}

func newTranslator(in Input, cfg *config) *translator {
	t := &translator{
		cfg:          cfg,
		classes:      newClassIndex(in.IngressClasses, cfg.IngressClassController),
		services:     map[nsName]*corev1.Service{},
		secrets:      map[nsName]*corev1.Secret{},
		configMaps:   map[nsName]*corev1.ConfigMap{},
		secretChecks: map[nsName]error{},
		certs:        translate.NewCertificateIndex(in.Certificates),
		gateways:     map[string]*gatewayState{},
		res:          &Result{},
		seenEvents:   map[string]bool{},
	}
	ings := map[nsName]*networkingv1.Ingress{}
	for i := range in.Ingresses {
		ings[nsName{in.Ingresses[i].Namespace, in.Ingresses[i].Name}] = &in.Ingresses[i]
	}
	for _, ing := range ings {
		t.ingresses = append(t.ingresses, ing)
	}
	slices.SortFunc(t.ingresses, func(a, b *networkingv1.Ingress) int {
		return compareKeys(nsName{a.Namespace, a.Name}, nsName{b.Namespace, b.Name})
	})
	for i := range in.Services {
		t.services[nsName{in.Services[i].Namespace, in.Services[i].Name}] = &in.Services[i]
	}
	for i := range in.Secrets {
		t.secrets[nsName{in.Secrets[i].Namespace, in.Secrets[i].Name}] = &in.Secrets[i]
	}
	for i := range in.ConfigMaps {
		t.configMaps[nsName{in.ConfigMaps[i].Namespace, in.ConfigMaps[i].Name}] = &in.ConfigMaps[i]
	}
	return t
}

func compareKeys(a, b nsName) int {
	if a.Namespace != b.Namespace {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// objectEvent records an event about something other than an Ingress; a nil
// ref means the controller's options.
func (t *translator) objectEvent(ref *model.ObjectRef, typ, reason, format string, args ...any) {
	e := ObjectEvent{Regarding: ref, Event: Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)}}
	key := fmt.Sprintf("%v\x00%s\x00%s\x00%s", ref, typ, reason, e.Message)
	if ref != nil {
		key = fmt.Sprintf("%v\x00%s\x00%s\x00%s", *ref, typ, reason, e.Message)
	}
	if !t.seenEvents[key] {
		t.seenEvents[key] = true
		t.res.Events = append(t.res.Events, e)
	}
}

func (t *translator) run() {
	for _, p := range t.cfg.problems {
		t.objectEvent(nil, EventWarning, ReasonInvalidOption, "%s", p)
	}
	t.readOperatorConfig()

	// Every IngressClass of ours gets a Gateway, even without Ingresses: it
	// serves the default backend, as the original controller's nghttpx does.
	if t.cfg.OneGateway {
		// Like the original's nghttpx, which runs with no Ingress at all.
		t.gateway(t.cfg.DefaultGatewayName, "")
	}
	for _, c := range t.classes.ours {
		t.gateway(t.gatewayName(c.Name), c.Name)
	}
	var states []*ingressState
	for _, ing := range t.ingresses {
		sel := t.selectIngress(ing)
		if !sel.ours {
			t.res.Skipped = append(t.res.Skipped, SkippedIngress{Namespace: ing.Namespace, Name: ing.Name, Reason: sel.why})
			continue
		}
		gs := t.gateway(t.gatewayName(sel.gateway), sel.class)
		is := &ingressState{
			ing: ing, gw: gs, sel: sel, events: map[Event]bool{}, notes: map[string]bool{},
			res: &IngressResult{
				Namespace: ing.Namespace, Name: ing.Name, Class: sel.class, Selection: sel.why,
				Gateway: GatewayRef{Namespace: t.cfg.Namespace, Name: gs.name},
			},
		}
		gs.ingresses = append(gs.ingresses, is)
		states = append(states, is)
	}

	if k := t.cfg.defaultTLSSecret; k != nil {
		if err := t.checkSecret(*k); err != nil {
			t.objectEvent(&model.ObjectRef{Kind: "Secret", Namespace: k.Namespace, Name: k.Name}, EventWarning, ReasonInvalidTLSSecret,
				"the default TLS Secret (--default-tls-secret) cannot be used: %v; cleartext requests are still redirected to HTTPS", err)
		}
	}
	for _, name := range sortedKeys(t.gateways) {
		t.processGateway(t.gateways[name])
	}
	t.build()
	for _, is := range states {
		t.res.Ingresses = append(t.res.Ingresses, *is.res)
	}
}

// gatewayName is the Gateway that serves what selection gave name: with
// OneGateway, always DefaultGatewayName.
func (t *translator) gatewayName(name string) string {
	if t.cfg.OneGateway {
		return t.cfg.DefaultGatewayName
	}
	return name
}

func (t *translator) gateway(name, class string) *gatewayState {
	gs := t.gateways[name]
	if gs == nil {
		gs = &gatewayState{name: name, class: class, claims: map[matchKey]*claim{}}
		t.gateways[name] = gs
	}
	if gs.class == "" {
		gs.class = class
	}
	return gs
}

func (t *translator) readOperatorConfig() {
	k := t.cfg.configMap
	if k == nil {
		return
	}
	ref := &model.ObjectRef{Kind: "ConfigMap", Namespace: k.Namespace, Name: k.Name}
	cm := t.configMaps[*k]
	if cm == nil {
		t.objectEvent(ref, EventWarning, ReasonConfigMapNotFound,
			"the ConfigMap %s (--nghttpx-configmap) does not exist; nghttpx runs with its defaults", k)
		return
	}
	t.res.Operator = &OperatorConfig{
		Source:           *ref,
		ExtraConfig:      cm.Data["nghttpx-conf"],
		MrubyFileContent: cm.Data["nghttpx-mruby-file-content"],
	}
}

// processGateway lets the Gateway's Ingresses claim their paths, oldest first,
// then their defaultBackends, then fills in the default route.
func (t *translator) processGateway(gs *gatewayState) {
	slices.SortFunc(gs.ingresses, func(a, b *ingressState) int { return compareAge(a.ing, b.ing) })
	if k := t.cfg.defaultTLSSecret; k != nil && t.checkSecret(*k) == nil {
		gs.addCert(*k)
	}
	var ingressCerts []nsName
	for _, is := range gs.ingresses {
		ingressCerts = append(ingressCerts, t.prepare(is)...)
	}
	slices.SortFunc(ingressCerts, compareKeys)
	for _, k := range ingressCerts {
		gs.addCert(k)
	}
	gs.http = !t.cfg.DisableHTTP
	gs.https = !t.cfg.DisableHTTPS && len(gs.certs) > 0
	t.sniEntries(gs)

	for _, is := range gs.ingresses {
		t.claimRules(is)
	}
	for _, is := range gs.ingresses {
		t.claimDefaultBackend(is)
	}
	t.defaultRoute(gs)
	for _, is := range gs.ingresses {
		for _, msg := range is.ann.unused() {
			is.warn(ReasonUnusedAnnotationEntry, "%s", msg)
		}
	}
}

// prepare parses the Ingress's annotations and TLS entries; it returns the
// usable certificate Secrets.
func (t *translator) prepare(is *ingressState) []nsName {
	ing := is.ing
	is.ann = parseAnnotations(ing.Annotations)
	for _, p := range is.ann.problems {
		is.warn(ReasonInvalidAnnotation, "%s", p)
	}
	if v, ok := ing.Annotations[annotationIngressClass]; ok {
		is.warn(ReasonUnsupportedAnnotation, "annotation %s (%q) is not supported and was ignored; the IngressClass rules alone "+
			"selected this Ingress (%s). Set spec.ingressClassName instead", annotationIngressClass, v, is.sel.why)
	}
	var certs []nsName
	for i, tls := range ing.Spec.TLS {
		if len(tls.Hosts) == 0 {
			is.tlsAll = true
		}
		is.tlsHosts = append(is.tlsHosts, tls.Hosts...)
		if tls.SecretName == "" {
			continue // the hosts use the default certificate
		}
		k := nsName{ing.Namespace, tls.SecretName}
		if t.cfg.DisableHTTPS {
			continue
		}
		if err := t.checkSecret(k); err != nil {
			is.warn(ReasonInvalidTLSSecret, "spec.tls[%d]: %v; HTTPS clients get another certificate until it is fixed, "+
				"and cleartext requests are still redirected to HTTPS", i, err)
			continue
		}
		certs = append(certs, k)
		is.tlsCerts = append(is.tlsCerts, tlsCert{index: i, hosts: tls.Hosts, secret: k})
	}
	return certs
}
