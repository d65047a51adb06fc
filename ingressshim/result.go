package ingressshim

import (
	"slices"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Input is what the shim reads. Slices may be in any order and may hold the same
// object twice (the last one wins).
type Input struct {
	Ingresses      []networkingv1.Ingress
	IngressClasses []networkingv1.IngressClass
	Services       []corev1.Service
	Secrets        []corev1.Secret
	ConfigMaps     []corev1.ConfigMap
	// Certificates (cert-manager) explain a missing TLS Secret in its event.
	Certificates []cmv1.Certificate
}

// InputFrom takes the shim's objects from a load.Input (as DecodeYAML or the
// informers fill it).
func InputFrom(in *load.Input) Input {
	if in == nil {
		return Input{}
	}
	return Input{
		Ingresses:      in.Ingresses,
		IngressClasses: in.IngressClasses,
		Services:       in.Services,
		Secrets:        in.Secrets,
		ConfigMaps:     in.ConfigMaps,
		Certificates:   in.Certificates,
	}
}

// Event types, as in corev1.
const (
	EventNormal  = corev1.EventTypeNormal
	EventWarning = corev1.EventTypeWarning
)

// Event reasons.
const (
	// ReasonInvalidAnnotation: an annotation value or one of its entries cannot be
	// used (syntax, type, range, unknown key, null).
	ReasonInvalidAnnotation = "InvalidAnnotation"
	// ReasonUnusedAnnotationEntry: a backend-config or path-config entry matches no
	// backend or path of the Ingress.
	ReasonUnusedAnnotationEntry = "UnusedAnnotationEntry"
	// ReasonUnsupportedAnnotation: kubernetes.io/ingress.class is not supported.
	ReasonUnsupportedAnnotation = "UnsupportedAnnotation"
	// ReasonMrubyNotAllowed: path-config asks for mruby but the operator did not
	// allow it; the path answers 500.
	ReasonMrubyNotAllowed = "MrubyNotAllowed"
	// ReasonDoNotForwardWithoutMruby: doNotForward without a script; the path
	// answers 500.
	ReasonDoNotForwardWithoutMruby = "DoNotForwardWithoutMruby"
	ReasonInvalidHost              = "InvalidHost"
	ReasonInvalidPath              = "InvalidPath"
	// ReasonPathConflict: another path (older Ingress, or earlier in this one)
	// serves the same host and match; this one is not served.
	ReasonPathConflict = "PathConflict"
	// ReasonPathShared (Normal): an older Ingress of the same namespace with the
	// same settings serves the same host and match; the backends share traffic.
	ReasonPathShared = "PathShared"
	// ReasonBackendNotFound: the Service or its port does not exist; the path
	// answers 500 until it does.
	ReasonBackendNotFound = "BackendNotFound"
	// ReasonUnsupportedBackend: a resource backend or an ExternalName Service.
	ReasonUnsupportedBackend = "UnsupportedBackend"
	// ReasonInvalidTLSSecret: a spec.tls Secret is missing or unusable.
	ReasonInvalidTLSSecret = "InvalidTLSSecret"
	// ReasonTLSHostNotServed: a spec.tls host gets another certificate (it is
	// not this Ingress's host, or an older Ingress's certificate covers it).
	ReasonTLSHostNotServed = "TLSHostNotServed"
	// ReasonDefaultBackendIgnored: spec.defaultBackend is not used.
	ReasonDefaultBackendIgnored = "DefaultBackendIgnored"
	// Controller-level reasons (Result.Events).
	ReasonInvalidOption     = "InvalidOption"
	ReasonConfigMapNotFound = "ConfigMapNotFound"
	ReasonNoListener        = "NoListener"
)

// Event is a Kubernetes Event to record on an object.
type Event struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ObjectEvent is an event about an object other than an Ingress (a Secret or
// Service named by an option, the operator ConfigMap, a synthetic Gateway), or
// about the controller's options when Regarding is nil (log it).
type ObjectEvent struct {
	Regarding *model.ObjectRef `json:"regarding,omitempty"`
	Event
}

// GatewayRef names a synthetic Gateway.
type GatewayRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// IngressResult describes one Ingress the shim serves.
type IngressResult struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Class is the IngressClass that selected the Ingress; empty when the Ingress
	// has no class and was taken because there is no default IngressClass.
	Class string `json:"class,omitempty"`
	// Selection says why the Ingress is ours, in words.
	Selection string `json:"selection"`
	// Gateway serves the Ingress (its address goes into the Ingress status).
	Gateway GatewayRef `json:"gateway"`
	// HTTPRoutes built for this Ingress, in its namespace, sorted.
	HTTPRoutes []string `json:"httpRoutes,omitempty"`
	// Events to record on the Ingress (and to log), in a stable order. They are
	// recomputed by every translation: the caller should record only new ones.
	Events []Event `json:"events,omitempty"`
	// NonPortable lists the settings of this Ingress that Gateway API cannot
	// express and that travel in Extensions instead (Convert prints them).
	NonPortable []string `json:"nonPortable,omitempty"`
}

// SkippedIngress is an Ingress that is not ours, with the reason. No event is
// recorded on it: it belongs to someone else.
type SkippedIngress struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
}

// OperatorConfig is the content of the operator ConfigMap (--nghttpx-configmap).
// Both keys are operator-owned and passed on verbatim for the renderer.
type OperatorConfig struct {
	Source model.ObjectRef `json:"source"`
	// ExtraConfig (key nghttpx-conf) holds extra lines for nghttpx's main
	// configuration.
	ExtraConfig string `json:"extraConfig,omitempty"`
	// MrubyFileContent (key nghttpx-mruby-file-content) is a global mruby script.
	MrubyFileContent string `json:"mrubyFileContent,omitempty"`
}

// Result is the outcome of a translation. Object slices are sorted by
// namespace/name; the objects are synthetic and must never be written to the API
// server.
type Result struct {
	GatewayClasses  []gatewayv1.GatewayClass        `json:"gatewayClasses,omitempty"`
	Gateways        []gatewayv1.Gateway             `json:"gateways,omitempty"`
	HTTPRoutes      []gatewayv1.HTTPRoute           `json:"httpRoutes,omitempty"`
	ReferenceGrants []gatewayv1beta1.ReferenceGrant `json:"referenceGrants,omitempty"`
	// Extensions carry the nghttpx settings of the HTTPRoutes above that Gateway
	// API cannot express.
	Extensions load.Extensions `json:"extensions,omitempty"`

	// Ingresses lists every Ingress the shim serves, sorted by namespace/name.
	Ingresses []IngressResult `json:"ingresses,omitempty"`
	// Skipped lists the other Ingresses, sorted by namespace/name.
	Skipped []SkippedIngress `json:"skipped,omitempty"`
	// Events not about a single Ingress.
	Events []ObjectEvent `json:"events,omitempty"`
	// Operator is the operator ConfigMap's content, nil when none is configured or
	// found.
	Operator *OperatorConfig `json:"operator,omitempty"`
}

// GatewayInput returns the synthetic objects and extensions as a load.Input to
// be appended to the real objects before translate.Translate.
func (r *Result) GatewayInput() *load.Input {
	return &load.Input{
		GatewayClasses:  r.GatewayClasses,
		Gateways:        r.Gateways,
		HTTPRoutes:      r.HTTPRoutes,
		ReferenceGrants: r.ReferenceGrants,
		Extensions:      r.Extensions,
	}
}

// Synthetic reports whether the object of the given kind ("GatewayClass",
// "Gateway", "HTTPRoute" or "ReferenceGrant"), namespace and name is one of the
// synthetic objects of r. translate.Translate returns status for them like for any
// object; a status writer must skip them, they do not exist in the API server.
func (r *Result) Synthetic(kind, namespace, name string) bool {
	match := func(ns, n string) bool { return ns == namespace && n == name }
	switch kind {
	case "GatewayClass":
		return slices.ContainsFunc(r.GatewayClasses, func(o gatewayv1.GatewayClass) bool { return match("", o.Name) })
	case "Gateway":
		return slices.ContainsFunc(r.Gateways, func(o gatewayv1.Gateway) bool { return match(o.Namespace, o.Name) })
	case "HTTPRoute":
		return slices.ContainsFunc(r.HTTPRoutes, func(o gatewayv1.HTTPRoute) bool { return match(o.Namespace, o.Name) })
	case "ReferenceGrant":
		return slices.ContainsFunc(r.ReferenceGrants, func(o gatewayv1beta1.ReferenceGrant) bool { return match(o.Namespace, o.Name) })
	}
	return false
}
