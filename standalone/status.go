package standalone

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
)

// statusLines summarises the status of every object in res, one entry per object
// key, so the runner can print only what changed. False conditions carry their
// message because that is what tells the user what to fix.
func statusLines(res *gateway.Result) map[string]string {
	out := map[string]string{}
	for _, c := range res.GatewayClasses {
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
		out["Gateway "+g.Namespace+"/"+g.Name] = b.String()
	}
	for _, r := range res.HTTPRoutes {
		var b strings.Builder
		for i, p := range r.Status.Parents {
			if string(p.ControllerName) != controllerOf(res) {
				continue
			}
			if i > 0 {
				b.WriteString("\n   ")
			}
			ns := r.Namespace
			if p.ParentRef.Namespace != nil {
				ns = string(*p.ParentRef.Namespace)
			}
			sec := ""
			if p.ParentRef.SectionName != nil {
				sec = "/" + string(*p.ParentRef.SectionName)
			}
			fmt.Fprintf(&b, " parent %s/%s%s: %s", ns, p.ParentRef.Name, sec, conditions(p.Conditions))
		}
		out["HTTPRoute "+r.Namespace+"/"+r.Name] = strings.TrimPrefix(b.String(), " ")
	}
	return out
}

func controllerOf(res *gateway.Result) string {
	if len(res.GatewayClasses) > 0 {
		return string(res.GatewayClasses[0].Spec.ControllerName)
	}
	return gateway.DefaultControllerName
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
