package translate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// gatewayState is what the translator knows about one Gateway of our class.
type gatewayState struct {
	in        *gatewayv1.Gateway
	out       *gatewayv1.Gateway
	listeners []*listenerState
	// listenerSets naming this Gateway as parent, in precedence order.
	listenerSets []*listenerSetState

	// notAccepted is the Accepted=False condition, if the Gateway is rejected as a
	// whole before its listeners are looked at.
	notAccepted *condition
	// addresses the data plane binds, in spec order, deduplicated.
	addresses []string
	// hostnames are Hostname-type status addresses from Options.GatewayAddresses.
	hostnames []string
	// addressProblem is the Programmed=False reason and message caused by
	// addresses, if any.
	addressProblem *condition

	model *model.Gateway
	// settings resolved from the class parameters and annotations (nil: none);
	// settingsProblem is a sentence about an unusable annotation.
	settings        *model.Settings
	settingsProblem string
}

func (t *translator) processGateway(g *gatewayv1.Gateway, cs *classState) *gatewayState {
	gs := &gatewayState{in: g, out: g.DeepCopy()}
	reject := func(reason, msg string) {
		if gs.notAccepted == nil {
			c := falseCond(string(gatewayv1.GatewayConditionAccepted), reason, msg)
			gs.notAccepted = &c
		}
	}
	if !cs.accepted {
		reject(string(gatewayv1.GatewayReasonInvalid), fmt.Sprintf("GatewayClass %s is not accepted", cs.out.Name))
	}
	if inf := g.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil {
		reject(string(gatewayv1.GatewayReasonInvalidParameters),
			"spec.infrastructure.parametersRef is not supported by this controller; remove it")
	}
	if !t.opts.SkipParameters {
		gs.settings, gs.settingsProblem = gatewaySettings(g, cs.params)
	}
	t.resolveAddresses(gs, reject)
	for i := range g.Spec.Listeners {
		gs.listeners = append(gs.listeners, t.processListener(g, &g.Spec.Listeners[i]))
	}
	findConflicts(gs.listeners)
	return gs
}

// resolveAddresses decides which IP addresses the Gateway gets.
func (t *translator) resolveAddresses(gs *gatewayState, reject func(reason, msg string)) {
	programmedFalse := func(reason, msg string) {
		if gs.addressProblem == nil {
			c := falseCond(string(gatewayv1.GatewayConditionProgrammed), reason, msg)
			gs.addressProblem = &c
		}
	}
	add := func(a netip.Addr) {
		s := a.String()
		for _, x := range gs.addresses {
			if x == s {
				return
			}
		}
		gs.addresses = append(gs.addresses, s)
	}
	addDefault := func() {
		if t.opts.GatewayAddresses != nil {
			t.assignedAddresses(gs, add, programmedFalse)
			return
		}
		if t.opts.DefaultAddress == "" {
			programmedFalse(string(gatewayv1.GatewayReasonAddressNotAssigned), "no address has been assigned to the Gateway yet")
			return
		}
		a, err := netip.ParseAddr(t.opts.DefaultAddress)
		if err != nil {
			programmedFalse(string(gatewayv1.GatewayReasonAddressNotAssigned),
				fmt.Sprintf("the default address %q is not an IP address", t.opts.DefaultAddress))
			return
		}
		add(a)
	}
	spec := gs.in.Spec.Addresses
	if len(spec) == 0 {
		addDefault()
		return
	}
	var unsupported []string
	for _, sa := range spec {
		typ := gatewayv1.IPAddressType
		if sa.Type != nil {
			typ = *sa.Type
		}
		if typ != gatewayv1.IPAddressType {
			unsupported = append(unsupported, fmt.Sprintf("%s %q", typ, sa.Value))
			continue
		}
		if sa.Value == "" {
			addDefault()
			continue
		}
		a, err := netip.ParseAddr(sa.Value)
		if err != nil || a.Zone() != "" {
			// A zone cannot be bound by address alone (nor does the CRD allow one).
			unsupported = append(unsupported, fmt.Sprintf("%s %q (not an IP address)", typ, sa.Value))
			continue
		}
		if t.opts.AddressUsable != nil && !t.opts.AddressUsable(a) {
			programmedFalse(string(gatewayv1.GatewayReasonAddressNotUsable),
				fmt.Sprintf("address %s cannot be used on this host; remove it or use another", a))
			continue
		}
		add(a)
	}
	if len(unsupported) > 0 {
		reject(string(gatewayv1.GatewayReasonUnsupportedAddress),
			fmt.Sprintf("unsupported addresses %s; only IPAddress addresses are supported", strings.Join(unsupported, ", ")))
	}
}

// assignedAddresses adds the addresses Options.GatewayAddresses reports for gs.
func (t *translator) assignedAddresses(gs *gatewayState, add func(netip.Addr), programmedFalse func(reason, msg string)) {
	got := t.opts.GatewayAddresses(gs.in.Namespace, gs.in.Name)
	n := 0
	for _, v := range got {
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			add(a)
			n++
			continue
		}
		if len(validation.IsDNS1123Subdomain(v)) == 0 && !slices.Contains(gs.hostnames, v) {
			gs.hostnames = append(gs.hostnames, v)
			n++
		}
	}
	if n == 0 {
		programmedFalse(string(gatewayv1.GatewayReasonAddressNotAssigned), "no address has been assigned to the Gateway yet")
	}
}

// accepted reports whether the Gateway is accepted: nothing rejected it as a whole
// and at least one listener is accepted.
func (gs *gatewayState) accepted() bool {
	if gs.notAccepted != nil {
		return false
	}
	for _, l := range gs.listeners {
		if l.accepted() {
			return true
		}
	}
	return false
}
