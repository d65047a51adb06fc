package translate

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// DefaultControllerName is the GatewayClass controllerName this implementation owns.
const DefaultControllerName = "zlab.co.jp/nghttpx"

// Options parameterise a translation. The zero value is usable.
type Options struct {
	// ControllerName selects our GatewayClasses; default DefaultControllerName.
	ControllerName string
	// DefaultAddress is assigned to Gateways without spec.addresses ("127.0.0.1" in
	// standalone mode). Empty means no address is known yet: such Gateways are
	// translated but not Programmed (AddressNotAssigned).
	DefaultAddress string
	// AddressUsable reports whether a static IP address from spec.addresses can be
	// bound. Nil means every valid IP address is usable.
	AddressUsable func(netip.Addr) bool
	// Now is the lastTransitionTime of conditions whose status changes. Translate
	// never reads the clock; zero means the Unix epoch.
	Now metav1.Time
	// SupportedFeatures is copied into GatewayClass status.supportedFeatures (sorted).
	SupportedFeatures []string
	// GatewayAddresses, when set, returns the addresses assigned to a Gateway from
	// outside, such as its provisioned Service's load-balancer IPs or host names.
	// It replaces DefaultAddress for that Gateway; an empty result means none is
	// assigned yet (Programmed=False, AddressNotAssigned). IPs become status
	// addresses of type IPAddress and model addresses; host names become status
	// addresses of type Hostname only.
	GatewayAddresses func(namespace, name string) []string
	// BindAddresses, when set, replaces the addresses of every model (not the
	// status): a data plane behind a Service binds the wildcard address whatever
	// address the Gateway is reached at.
	BindAddresses []string
	// ParametersNamespace, when set, is the only namespace a GatewayClass
	// parameters ConfigMap may live in (the controller watches ConfigMaps there
	// only). Empty allows any namespace.
	ParametersNamespace string
	// SkipParameters accepts every parametersRef without reading it and leaves
	// model Settings nil. The proxy agent sets it: the controller validated the
	// parameters and passes the resolved settings to it as flags.
	SkipParameters bool
	// OCSP configures OCSP stapling from certificate Secrets (off by default). Its
	// validity check uses Now; a zero Now skips it.
	OCSP OCSPOptions
	// NoClientValidation: the data plane cannot verify client certificates per
	// port (nghttpx without the per-frontend verify-client patch). HTTPS
	// listeners with spec.tls.frontend validation are then not accepted
	// (UnsupportedValue).
	NoClientValidation bool
	// ReservedPorts are the ports the data plane listens on itself (admin
	// endpoint, backend API, ...), with what uses them: a listener on one is not
	// accepted (PortUnavailable) instead of breaking the whole data plane.
	ReservedPorts map[int32]string
}

// Result is the outcome of a translation.
type Result struct {
	// GatewayClasses whose controllerName is ours, deep copies with status set.
	GatewayClasses []gatewayv1.GatewayClass
	// Gateways of our GatewayClasses, deep copies with status set.
	Gateways []gatewayv1.Gateway
	// HTTPRoutes that reference one of our Gateways or carry a status entry of our
	// controller, deep copies in which only our status.parents entries changed.
	HTTPRoutes []gatewayv1.HTTPRoute
	// GRPCRoutes likewise.
	GRPCRoutes []gatewayv1.GRPCRoute
	// ListenerSets whose parent is one of our Gateways, deep copies with status set.
	ListenerSets []gatewayv1.ListenerSet
	// BackendTLSPolicies that apply to a Service our Gateways' routes use, or that
	// carry an ancestor entry of our controller, deep copies in which only our
	// status.ancestors entries changed.
	BackendTLSPolicies []gatewayv1.BackendTLSPolicy
	// Models holds one resolved model per accepted Gateway that has at least one
	// programmed listener, sorted by namespace/name.
	Models []*model.Gateway
	// OCSPRecheck is the earliest time an OCSP verdict changes with no object
	// changing (a stapled response's nextUpdate; OCSPResult.Recheck): callers
	// translate again then, so an expired response stops being stapled. Zero
	// when none (stapling off, or no time check).
	OCSPRecheck time.Time
}

// Translate resolves Gateway API objects into per-Gateway models and computes the
// status of every object we own. It is pure and deterministic: the same Input and
// Options give the same Result.
func Translate(in *load.Input, opts Options) *Result {
	if opts.ControllerName == "" {
		opts.ControllerName = DefaultControllerName
	}
	if opts.Now.IsZero() {
		// A condition needs a lastTransitionTime; use the epoch (as the CRD
		// defaults do) rather than the clock.
		opts.Now = metav1.Unix(0, 0).Rfc3339Copy()
	}
	if in == nil {
		in = &load.Input{}
	}
	t := &translator{
		opts:     opts,
		idx:      newIndex(in),
		classes:  map[string]*classState{},
		gateways: map[nsName]*gatewayState{},
		clusters: map[string]*model.Cluster{},
		ocsp:     map[nsName]*OCSPResult{},

		listenerSets: map[nsName]*listenerSetState{},
	}
	res := &Result{}
	t.resolveBackendTLSPolicies(in.BackendTLSPolicies)
	for _, c := range t.idx.classes {
		if string(c.Spec.ControllerName) != opts.ControllerName {
			continue
		}
		cs := t.processClass(c)
		res.GatewayClasses = append(res.GatewayClasses, *cs.out)
	}
	var gws []*gatewayState
	for _, g := range t.idx.gateways {
		cs := t.classes[string(g.Spec.GatewayClassName)]
		if cs == nil {
			continue
		}
		gs := t.processGateway(g, cs)
		t.gateways[keyOf(g)] = gs
		gws = append(gws, gs)
	}
	t.processListenerSets()
	res.HTTPRoutes, res.GRPCRoutes = t.processRoutes()
	for _, gs := range gws {
		t.finishGateway(gs)
		res.Gateways = append(res.Gateways, *gs.out)
		if gs.model != nil {
			res.Models = append(res.Models, gs.model)
		}
	}
	res.ListenerSets = t.finishListenerSets()
	res.BackendTLSPolicies = t.finishBackendTLSPolicies(gws)
	res.OCSPRecheck = t.ocspRecheck()
	return res
}

type translator struct {
	opts     Options
	idx      *index
	classes  map[string]*classState
	gateways map[nsName]*gatewayState
	// clusters resolved so far, by name; shared between Gateways.
	clusters map[string]*model.Cluster
	// listenerSets whose parent is one of our Gateways.
	listenerSets map[nsName]*listenerSetState
	// ocsp holds the OCSP verdict per certificate Secret (OCSP stapling only).
	ocsp map[nsName]*OCSPResult
	// btls holds the BackendTLSPolicies (backendtls.go).
	btls *backendTLS
}

type classState struct {
	out      *gatewayv1.GatewayClass
	accepted bool
	// params are the validated parametersRef parameters, nil without one.
	params *classParams
}

func (t *translator) processClass(c *gatewayv1.GatewayClass) *classState {
	out := c.DeepCopy()
	cs := &classState{out: out, accepted: true}
	var conds []condition
	params, problem := t.resolveParameters(c)
	cs.params = params
	if problem != "" {
		cs.accepted = false
		conds = append(conds, falseCond(string(gatewayv1.GatewayClassConditionStatusAccepted),
			string(gatewayv1.GatewayClassReasonInvalidParameters), problem))
	} else {
		conds = append(conds, trueCond(string(gatewayv1.GatewayClassConditionStatusAccepted),
			string(gatewayv1.GatewayClassReasonAccepted), "GatewayClass is accepted"))
	}
	conds = append(conds, trueCond(string(gatewayv1.GatewayClassConditionStatusSupportedVersion),
		string(gatewayv1.GatewayClassReasonSupportedVersion), "Gateway API version is supported"))
	out.Status.Conditions = mergeConditions(c.Status.Conditions, conds, nil, c.Generation, t.opts.Now)
	if len(t.opts.SupportedFeatures) > 0 {
		fs := slices.Clone(t.opts.SupportedFeatures)
		slices.Sort(fs)
		fs = slices.Compact(fs)
		out.Status.SupportedFeatures = make([]gatewayv1.SupportedFeature, len(fs))
		for i, f := range fs {
			out.Status.SupportedFeatures[i] = gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)}
		}
	}
	t.classes[c.Name] = cs
	return cs
}

// joinMessages joins condition messages into one sentence list.
func joinMessages(msgs []string) string {
	return strings.Join(msgs, "; ")
}
