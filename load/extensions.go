package load

import "github.com/nghttpx-gateway/nghttpx-gateway/model"

// Extensions carry settings that Gateway API cannot express for individual
// HTTPRoute rules and backendRefs, addressed by position. Only the Ingress shim
// fills them, for its synthetic routes; Translate copies them into the model
// (model.Rule.Proxy, DirectStatus, DirectBody and model.WeightedBackend.Proxy).
// Entries that address no rule or backendRef are ignored; when two entries
// address the same one, the later wins.
type Extensions struct {
	Rules    []RuleExtension    `json:"rules,omitempty"`
	Backends []BackendExtension `json:"backends,omitempty"`
	// ExclusiveGateways are Gateways whose listeners accept only the HTTPRoutes
	// listed with them, whatever their allowedRoutes say: the Ingress shim's
	// synthetic Gateways take only the shim's own routes, so no namespace can
	// attach a route to an Ingress host. Any other route naming one of them gets
	// Accepted=False, NotAllowedByListeners.
	ExclusiveGateways []ExclusiveGateway `json:"exclusiveGateways,omitempty"`
}

// ExclusiveGateway names a Gateway and the only HTTPRoutes that may attach to it.
type ExclusiveGateway struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Routes are "namespace/name" of the HTTPRoutes allowed to attach.
	Routes []string `json:"routes,omitempty"`
	// Owner says in status messages who owns the Gateway ("the Ingress front-end").
	Owner string `json:"owner,omitempty"`
	// SNI, when set, says which TLS server names each certificate of the
	// Gateway's HTTPS listeners is served for (model.Listener.SNI), in order,
	// the first entry for a name winning: the shim's one listener carries the
	// certificates of many Ingresses, each only for its own hosts.
	SNI []SNISecret `json:"sni,omitempty"`
}

// SNISecret serves the TLS Secret "namespace/name" for Hostname (exact,
// "*.suffix", or "" for any other name).
type SNISecret struct {
	Hostname string `json:"hostname,omitempty"`
	Secret   string `json:"secret"`
}

// RuleRef addresses one rule of an HTTPRoute.
type RuleRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Rule is the index in spec.rules.
	Rule int `json:"rule"`
}

// RuleExtension applies to every model rule built from one HTTPRoute rule.
type RuleExtension struct {
	RuleRef
	// DirectStatus, when non-zero, replaces the 500 that a rule without
	// backendRefs answers with; ignored for rules with backendRefs or a redirect.
	DirectStatus int `json:"directStatus,omitempty"`
	// DirectBody goes with DirectStatus (model.Rule.DirectBody).
	DirectBody string `json:"directBody,omitempty"`
	// Proxy becomes model.Rule.Proxy. DoNotForward is honoured only with a
	// non-empty Mruby and only for rules without backendRefs or redirect;
	// otherwise it is dropped.
	Proxy *model.ProxyOptions `json:"proxy,omitempty"`
}

// BackendExtension applies to one backendRef of an HTTPRoute rule.
type BackendExtension struct {
	RuleRef
	// BackendRef is the index in the rule's backendRefs.
	BackendRef int                   `json:"backendRef"`
	Proxy      *model.BackendOptions `json:"proxy,omitempty"`
}

// Append adds the entries of other to e.
func (e *Extensions) Append(other *Extensions) {
	e.Rules = append(e.Rules, other.Rules...)
	e.Backends = append(e.Backends, other.Backends...)
	e.ExclusiveGateways = append(e.ExclusiveGateways, other.ExclusiveGateways...)
}
