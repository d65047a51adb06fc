package ingressshim

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// classIndex holds the IngressClasses, deduplicated by name.
type classIndex struct {
	byName map[string]*networkingv1.IngressClass
	// ours are the classes with our controller, oldest first (then by name).
	ours []*networkingv1.IngressClass
	// dflt is the effective default class: among the classes annotated
	// ingressclass.kubernetes.io/is-default-class: "true", the newest (then the
	// first by name), as the Kubernetes admission plugin picks it.
	dflt *networkingv1.IngressClass
}

func newClassIndex(classes []networkingv1.IngressClass, controller string) classIndex {
	x := classIndex{byName: map[string]*networkingv1.IngressClass{}}
	for i := range classes {
		x.byName[classes[i].Name] = &classes[i]
	}
	for _, name := range sortedKeys(x.byName) {
		c := x.byName[name]
		if c.Spec.Controller == controller {
			x.ours = append(x.ours, c)
		}
		if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" {
			continue
		}
		if x.dflt == nil || x.dflt.CreationTimestamp.Before(&c.CreationTimestamp) {
			x.dflt = c
		}
	}
	slices.SortStableFunc(x.ours, func(a, b *networkingv1.IngressClass) int { return compareAge(a, b) })
	return x
}

// compareAge orders objects oldest first, then by namespace and name.
func compareAge(a, b metav1.Object) int {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		if ta.Before(&tb) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.GetNamespace(), b.GetNamespace()); c != 0 {
		return c
	}
	return strings.Compare(a.GetName(), b.GetName())
}

// selection is the outcome of IngressClass selection for one Ingress.
type selection struct {
	ours bool
	// class is the selecting IngressClass ("" when none did).
	class string
	// gateway is the name of the Gateway that serves the Ingress.
	gateway string
	// why explains the decision.
	why string
}

// selectIngress decides whether ing is ours, as the original controller
// documents it:
//
//   - spec.ingressClassName set: ours iff that IngressClass exists and its
//     controller is ours;
//   - unset and RequireIngressClass: not ours (the standard Kubernetes rule);
//   - unset, a default IngressClass exists: ours iff it is ours;
//   - unset, no default IngressClass: ours (historical behaviour).
//
// An Ingress selected by a class is served by that class's Gateway. One without
// a class (last case) joins our oldest IngressClass's Gateway, so that it shares
// the data plane as it shared the one nghttpx of the original controller, or the
// Gateway DefaultGatewayName when no IngressClass is ours.
func (t *translator) selectIngress(ing *networkingv1.Ingress) selection {
	cfg := t.cfg
	if cfg.WatchNamespace != "" && ing.Namespace != cfg.WatchNamespace {
		return selection{why: fmt.Sprintf("it is outside the watched namespace %s", cfg.WatchNamespace)}
	}
	if n := ing.Spec.IngressClassName; n != nil && *n != "" {
		c := t.classes.byName[*n]
		switch {
		case c == nil:
			return selection{why: fmt.Sprintf("its IngressClass %s does not exist", *n)}
		case c.Spec.Controller != cfg.IngressClassController:
			return selection{why: fmt.Sprintf("its IngressClass %s belongs to controller %q", *n, c.Spec.Controller)}
		}
		return selection{ours: true, class: c.Name, gateway: c.Name, why: "spec.ingressClassName is " + c.Name}
	}
	if cfg.RequireIngressClass {
		return selection{why: "it has no spec.ingressClassName and --require-ingress-class is set"}
	}
	if d := t.classes.dflt; d != nil {
		if d.Spec.Controller != cfg.IngressClassController {
			return selection{why: fmt.Sprintf("it has no spec.ingressClassName and the default IngressClass %s belongs to controller %q",
				d.Name, d.Spec.Controller)}
		}
		return selection{ours: true, class: d.Name, gateway: d.Name,
			why: fmt.Sprintf("no spec.ingressClassName; the default IngressClass %s is ours", d.Name)}
	}
	if len(t.classes.ours) > 0 {
		c := t.classes.ours[0]
		return selection{ours: true, gateway: c.Name,
			why: fmt.Sprintf("no spec.ingressClassName and no default IngressClass; served with %s, our oldest IngressClass", c.Name)}
	}
	return selection{ours: true, gateway: cfg.DefaultGatewayName,
		why: "no spec.ingressClassName, no default IngressClass and no IngressClass of ours"}
}
