package controller

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Reasons of the Events recorded on Gateway API objects (all Warnings: each
// asks the user to act).
const (
	ReasonRejected            = "Rejected"
	ReasonRefNotResolved      = "RefNotResolved"
	ReasonProvisioningFailed  = "ProvisioningFailed"
	ReasonDataPlaneNotReady   = "DataPlaneNotReady"
	ReasonCertificateExpiring = "CertificateExpiring"
)

// Actions of those Events.
const (
	actionTranslate = "Translate"
	actionProvision = "Provision"
	actionProgram   = "Program"
	actionCheckCert = "CheckCertificate"
)

// CertificateWarning is how long before its NotAfter a listener certificate
// gets a CertificateExpiring Event.
const CertificateWarning = 14 * 24 * time.Hour

// objectEvent is one Event a batch wants on an object. key identifies it
// across batches (object UID, reason and what it is about, not the message);
// stored is true when the object's status on the API server already shows
// it, so a new leader does not repeat what its predecessor recorded.
type objectEvent struct {
	obj          client.Object
	key          string
	reason, note string
	action       string
	stored       bool
}

// objectEvents records Events on Gateway API objects for the leader: each
// once when it appears, again only after it went away for a batch.
type objectEvents struct {
	recorder events.EventRecorder
	metrics  *ctrlMetrics
	log      logr.Logger
	// active are the keys of the previous batch.
	active map[string]bool
}

// record records the events of one batch that the previous batch did not have.
func (e *objectEvents) record(evs []objectEvent) {
	next := make(map[string]bool, len(evs))
	for _, ev := range evs {
		if next[ev.key] {
			continue
		}
		next[ev.key] = true
		if e.active[ev.key] || ev.stored {
			continue
		}
		kind := ev.obj.GetObjectKind().GroupVersionKind().Kind
		e.log.Info("event: "+ev.note, "kind", kind, "object", client.ObjectKeyFromObject(ev.obj).String(), "reason", ev.reason)
		if e.recorder != nil {
			e.recorder.Eventf(ev.obj, nil, corev1.EventTypeWarning, ev.reason, ev.action, "%s", truncateNote(ev.note))
		}
		if e.metrics != nil {
			e.metrics.events.WithLabelValues(ev.reason).Inc()
		}
	}
	e.active = next
}

// maxNote is the API server's limit on an Event's note (condition messages
// may be longer).
const maxNote = 1024

func truncateNote(s string) string {
	if len(s) <= maxNote {
		return s
	}
	s = s[:maxNote-3]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// withKind sets the kind of a typed object, which the recorder needs to
// reference it (typed objects from a translation carry none).
func withKind[T client.Object](obj T, kind string) T {
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: gatewayv1.GroupName, Version: gatewayv1.GroupVersion.Version, Kind: kind})
	return obj
}

// storedFalse reports whether conds (on the API server) already have cond's
// type False for the same reason.
func storedFalse(conds []metav1.Condition, c metav1.Condition) bool {
	s := meta.FindStatusCondition(conds, c.Type)
	return s != nil && s.Status == metav1.ConditionFalse && s.Reason == c.Reason
}

// conditionEvents are the Rejected and RefNotResolved Events of res (what is
// written as status; synthetic objects already dropped): one per Accepted=False
// or ResolvedRefs=False condition of a GatewayClass, Gateway, Gateway listener
// or route parent of ours. in holds the stored status.
func conditionEvents(res *translate.Result, in *load.Input, controllerName string) []objectEvent {
	var out []objectEvent
	add := func(obj client.Object, scope, what string, c metav1.Condition, stored []metav1.Condition) {
		reason := ReasonRejected
		switch {
		case c.Type == string(gatewayv1.GatewayConditionAccepted) && c.Status == metav1.ConditionFalse:
		case c.Type == string(gatewayv1.ListenerConditionResolvedRefs) && c.Status == metav1.ConditionFalse:
			reason = ReasonRefNotResolved
		default:
			return
		}
		verb := "is not accepted"
		if reason == ReasonRefNotResolved {
			verb = "has references that cannot be resolved"
		}
		out = append(out, objectEvent{
			obj: obj, key: fmt.Sprintf("%s\x00%s\x00%s\x00%s", obj.GetUID(), scope, c.Type, c.Reason),
			reason: reason, action: actionTranslate, stored: storedFalse(stored, c),
			note: fmt.Sprintf("%s %s (%s): %s", what, verb, c.Reason, c.Message),
		})
	}
	storedClasses := map[string][]metav1.Condition{}
	for _, gc := range in.GatewayClasses {
		storedClasses[gc.Name] = gc.Status.Conditions
	}
	for i := range res.GatewayClasses {
		gc := withKind(res.GatewayClasses[i].DeepCopy(), "GatewayClass")
		for _, c := range gc.Status.Conditions {
			add(gc, "", "The GatewayClass", c, storedClasses[gc.Name])
		}
	}
	storedGateways := map[types.NamespacedName]*gatewayv1.Gateway{}
	for i := range in.Gateways {
		g := &in.Gateways[i]
		storedGateways[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = g
	}
	for i := range res.Gateways {
		g := withKind(res.Gateways[i].DeepCopy(), "Gateway")
		stored := storedGateways[types.NamespacedName{Namespace: g.Namespace, Name: g.Name}]
		if stored == nil {
			stored = &gatewayv1.Gateway{}
		}
		for _, c := range g.Status.Conditions {
			add(g, "", "The Gateway", c, stored.Status.Conditions)
		}
		for _, l := range g.Status.Listeners {
			var sl []metav1.Condition
			for _, s := range stored.Status.Listeners {
				if s.Name == l.Name {
					sl = s.Conditions
				}
			}
			for _, c := range l.Conditions {
				add(g, "listener/"+string(l.Name), fmt.Sprintf("Listener %s", l.Name), c, sl)
			}
		}
	}
	routeParents := func(obj client.Object, kind string, parents, stored []gatewayv1.RouteParentStatus) {
		for _, p := range parents {
			if string(p.ControllerName) != controllerName {
				continue
			}
			var sp []metav1.Condition
			for _, s := range stored {
				if s.ControllerName == p.ControllerName && parentKey(s.ParentRef, obj.GetNamespace()) == parentKey(p.ParentRef, obj.GetNamespace()) {
					sp = s.Conditions
				}
			}
			pk := parentKey(p.ParentRef, obj.GetNamespace())
			for _, c := range p.Conditions {
				add(obj, "parent/"+pk, fmt.Sprintf("The %s, for parent %s,", kind, pk), c, sp)
			}
		}
	}
	storedHTTP := map[types.NamespacedName][]gatewayv1.RouteParentStatus{}
	for _, r := range in.HTTPRoutes {
		storedHTTP[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] = r.Status.Parents
	}
	for i := range res.HTTPRoutes {
		r := withKind(res.HTTPRoutes[i].DeepCopy(), "HTTPRoute")
		routeParents(r, "HTTPRoute", r.Status.Parents, storedHTTP[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}])
	}
	storedGRPC := map[types.NamespacedName][]gatewayv1.RouteParentStatus{}
	for _, r := range in.GRPCRoutes {
		storedGRPC[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] = r.Status.Parents
	}
	for i := range res.GRPCRoutes {
		r := withKind(res.GRPCRoutes[i].DeepCopy(), "GRPCRoute")
		routeParents(r, "GRPCRoute", r.Status.Parents, storedGRPC[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}])
	}
	return out
}

// parentKey names a parentRef: kind namespace/name[/section][:port].
func parentKey(p gatewayv1.ParentReference, routeNS string) string {
	kind, ns := "Gateway", routeNS
	if p.Kind != nil {
		kind = string(*p.Kind)
	}
	if p.Namespace != nil {
		ns = string(*p.Namespace)
	}
	s := kind + " " + ns + "/" + string(p.Name)
	if p.SectionName != nil {
		s += "/" + string(*p.SectionName)
	}
	if p.Port != nil {
		s += fmt.Sprintf(":%d", *p.Port)
	}
	return s
}

// dataPlaneEvent is a Gateway's DataPlaneNotReady Event, if it is due: its
// Programmed condition is held False (Pending) because no ready pod runs the
// current configuration past the poller's grace period, while pods are ready
// (they fail to apply it) or after some pod had run this generation (the pods
// went away). A new Gateway whose pods are still starting gets none.
func dataPlaneEvent(g *gatewayv1.Gateway, pr progress) (objectEvent, bool) {
	c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(gatewayv1.GatewayReasonPending) ||
		!pr.overdue || (pr.ready == 0 && !pr.confirmed) {
		return objectEvent{}, false
	}
	g = withKind(g.DeepCopy(), "Gateway")
	return objectEvent{
		obj: g, key: string(g.UID) + "\x00" + ReasonDataPlaneNotReady, reason: ReasonDataPlaneNotReady, action: actionProgram,
		note: "The data plane does not run the current configuration: " + c.Message +
			" Check the data-plane pods (kubectl get pods -n " + g.Namespace + " -l " + provision.LabelGatewayName + "=" + g.Name + ") and their logs.",
	}, true
}

// provisionEvent is a Gateway's ProvisioningFailed Event.
func provisionEvent(g *gatewayv1.Gateway, err error) objectEvent {
	g = withKind(g.DeepCopy(), "Gateway")
	return objectEvent{
		obj: g, key: string(g.UID) + "\x00" + ReasonProvisioningFailed, reason: ReasonProvisioningFailed, action: actionProvision,
		note: "The data plane's objects cannot be written (retried): " + err.Error(),
	}
}

// listenerCert is the leaf certificate of a TLS Secret a Gateway listener uses.
type listenerCert struct {
	gateway  types.NamespacedName
	listener gatewayv1.SectionName
	secret   types.NamespacedName
	notAfter time.Time
}

// listenerCerts finds the leaf certificate of every TLS Secret the listeners
// of gws reference (Secrets that are missing or do not parse are the
// translator's business: ResolvedRefs).
func listenerCerts(gws []gatewayv1.Gateway, secrets []corev1.Secret) []listenerCert {
	byKey := map[types.NamespacedName]*corev1.Secret{}
	for i := range secrets {
		byKey[types.NamespacedName{Namespace: secrets[i].Namespace, Name: secrets[i].Name}] = &secrets[i]
	}
	var out []listenerCert
	for _, g := range gws {
		for _, l := range g.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
					continue
				}
				k := types.NamespacedName{Namespace: g.Namespace, Name: string(ref.Name)}
				if ref.Namespace != nil {
					k.Namespace = string(*ref.Namespace)
				}
				s := byKey[k]
				if s == nil {
					continue
				}
				if na, ok := leafNotAfter(s.Data[corev1.TLSCertKey]); ok {
					out = append(out, listenerCert{gateway: types.NamespacedName{Namespace: g.Namespace, Name: g.Name},
						listener: l.Name, secret: k, notAfter: na})
				}
			}
		}
	}
	return out
}

// leafNotAfter is the NotAfter of the first certificate in a PEM bundle.
func leafNotAfter(pemData []byte) (time.Time, bool) {
	for len(pemData) > 0 {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			return time.Time{}, false
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return time.Time{}, false
		}
		return c.NotAfter, true
	}
	return time.Time{}, false
}

// certificateEvents are the CertificateExpiring Events of the certificates
// that expire within CertificateWarning of now, on the Gateways of res that
// use them, and the earliest time a certificate not yet due becomes due (zero
// if none).
func certificateEvents(res []gatewayv1.Gateway, certs []listenerCert, now time.Time) ([]objectEvent, time.Time) {
	gws := map[types.NamespacedName]*gatewayv1.Gateway{}
	for i := range res {
		gws[types.NamespacedName{Namespace: res[i].Namespace, Name: res[i].Name}] = &res[i]
	}
	var out []objectEvent
	var next time.Time
	for _, c := range certs {
		g := gws[c.gateway]
		if g == nil {
			continue // a synthetic Gateway of the Ingress shim
		}
		due := c.notAfter.Add(-CertificateWarning)
		if now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		left := c.notAfter.Sub(now)
		when := fmt.Sprintf("expires on %s, in %d days", c.notAfter.UTC().Format(time.RFC3339), int(math.Ceil(left.Hours()/24)))
		if left <= 0 {
			when = "expired on " + c.notAfter.UTC().Format(time.RFC3339)
		}
		obj := withKind(g.DeepCopy(), "Gateway")
		out = append(out, objectEvent{
			obj: obj, key: fmt.Sprintf("%s\x00%s\x00%s\x00%d", g.UID, ReasonCertificateExpiring, c.secret, c.notAfter.Unix()),
			reason: ReasonCertificateExpiring, action: actionCheckCert,
			note: fmt.Sprintf("The certificate in Secret %s (listener %s) %s: renew it.", c.secret, c.listener, when),
		})
	}
	slices.SortStableFunc(out, func(a, b objectEvent) int {
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	return out, next
}
