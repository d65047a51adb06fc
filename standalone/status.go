package standalone

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// statusLines summarises the status of every object in the pipeline's output, one
// entry per object key, so the runner can print only what changed. False
// conditions carry their message because that is what tells the user what to fix.
// The Ingress shim's synthetic objects are not the user's: its Gateways are shown
// as the Ingress data planes they are, its GatewayClass and HTTPRoutes not at all
// (what goes wrong with them is in the Ingresses' events, shown per Ingress).
func statusLines(o *pipeline.Output) map[string]string {
	res := o.Translation
	synthetic := func(kind, ns, name string) bool {
		return o.Ingress != nil && o.Ingress.Synthetic(kind, ns, name)
	}
	out := map[string]string{}
	for _, c := range res.GatewayClasses {
		if synthetic("GatewayClass", "", c.Name) {
			continue
		}
		out["GatewayClass "+c.Name] = conditions(c.Status.Conditions)
	}
	for _, g := range res.Gateways {
		var b strings.Builder
		b.WriteString(conditions(g.Status.Conditions))
		var addrs []string
		for _, a := range g.Status.Addresses {
			addrs = append(addrs, a.Value)
		}
		if len(addrs) > 0 {
			fmt.Fprintf(&b, " addresses=%s", strings.Join(addrs, ","))
		}
		for _, l := range g.Status.Listeners {
			fmt.Fprintf(&b, "\n    listener %s: %s attachedRoutes=%d", l.Name, conditions(l.Conditions), l.AttachedRoutes)
		}
		k := "Gateway " + g.Namespace + "/" + g.Name
		if synthetic("Gateway", g.Namespace, g.Name) {
			k = "Ingress Gateway " + g.Namespace + "/" + g.Name + " (synthetic)"
		}
		out[k] = b.String()
	}
	routes := func(kind, routeNS, name string, st *gatewayv1.RouteStatus) {
		var b strings.Builder
		for i, p := range st.Parents {
			if string(p.ControllerName) != controllerOf(res) {
				continue
			}
			if i > 0 {
				b.WriteString("\n   ")
			}
			ns := routeNS
			if p.ParentRef.Namespace != nil {
				ns = string(*p.ParentRef.Namespace)
			}
			sec := ""
			if p.ParentRef.SectionName != nil {
				sec = "/" + string(*p.ParentRef.SectionName)
			}
			fmt.Fprintf(&b, " parent %s/%s%s: %s", ns, p.ParentRef.Name, sec, conditions(p.Conditions))
		}
		out[kind+" "+routeNS+"/"+name] = strings.TrimPrefix(b.String(), " ")
	}
	for _, r := range res.HTTPRoutes {
		if !synthetic("HTTPRoute", r.Namespace, r.Name) {
			routes("HTTPRoute", r.Namespace, r.Name, &r.Status.RouteStatus)
		}
	}
	for _, r := range res.GRPCRoutes {
		routes("GRPCRoute", r.Namespace, r.Name, &r.Status.RouteStatus)
	}
	if o.Ingress != nil {
		ingressLines(o.Ingress, out)
	}
	return out
}

// ingressLines adds one entry per Ingress (its Gateway, routes and events) and one
// for the shim's events about other objects.
func ingressLines(res *ingressshim.Result, out map[string]string) {
	for _, ir := range res.Ingresses {
		var b strings.Builder
		fmt.Fprintf(&b, "served by %s/%s", ir.Gateway.Namespace, ir.Gateway.Name)
		if ir.Class != "" {
			fmt.Fprintf(&b, " (class %s)", ir.Class)
		}
		if len(ir.HTTPRoutes) > 0 {
			fmt.Fprintf(&b, " routes=%s", strings.Join(ir.HTTPRoutes, ","))
		}
		for _, e := range ir.Events {
			fmt.Fprintf(&b, "\n    %s %s: %s", e.Type, e.Reason, e.Message)
		}
		out["Ingress "+ir.Namespace+"/"+ir.Name] = b.String()
	}
	for _, s := range res.Skipped {
		out["Ingress "+s.Namespace+"/"+s.Name] = "not ours: " + s.Reason
	}
	if len(res.Events) > 0 {
		var b strings.Builder
		for i, e := range res.Events {
			if i > 0 {
				b.WriteString("\n   ")
			}
			b.WriteString(" ")
			if e.Regarding != nil {
				fmt.Fprintf(&b, "%s %s/%s: ", e.Regarding.Kind, e.Regarding.Namespace, e.Regarding.Name)
			}
			fmt.Fprintf(&b, "%s %s: %s", e.Type, e.Reason, e.Message)
		}
		out["Ingress controller"] = strings.TrimPrefix(b.String(), " ")
	}
}

func controllerOf(res *translate.Result) string {
	if len(res.GatewayClasses) > 0 {
		return string(res.GatewayClasses[0].Spec.ControllerName)
	}
	return translate.DefaultControllerName
}

func conditions(cs []metav1.Condition) string {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	var parts []string
	for _, c := range cs {
		s := fmt.Sprintf("%s=%s", c.Type, c.Status)
		// Conflicted is the one condition whose True is the problem.
		bad := c.Status != metav1.ConditionTrue
		if c.Type == "Conflicted" {
			bad = c.Status != metav1.ConditionFalse
		}
		if bad {
			s += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
