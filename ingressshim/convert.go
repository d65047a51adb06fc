package ingressshim

import (
	"bytes"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Convert returns the Gateway API objects Translate produces for in as YAML
// documents a user can apply, and warnings: one per setting without a portable
// equivalent, one per Warning event. The internal default backend has no
// portable form and is left out; a rule with an mruby script loses its
// backendRefs, so that it answers 500 rather than serve without the script
// (each with a warning). It is the library behind `nghttpx-gateway convert`.
func Convert(in Input, opts Options) ([]byte, []string, error) {
	res := Translate(in, opts)
	var objs []runtime.Object
	for i := range res.GatewayClasses {
		objs = append(objs, &res.GatewayClasses[i])
	}
	for i := range res.Gateways {
		objs = append(objs, &res.Gateways[i])
	}
	var warnings []string
	scripted := map[load.RuleRef]bool{}
	for _, e := range res.Extensions.Rules {
		if e.Proxy != nil && e.Proxy.Mruby != "" {
			scripted[e.RuleRef] = true
		}
	}
	for i := range res.HTTPRoutes {
		r := &res.HTTPRoutes[i]
		for j := range r.Spec.Rules {
			rule := &r.Spec.Rules[j]
			if scripted[load.RuleRef{Namespace: r.Namespace, Name: r.Name, Rule: j}] && len(rule.BackendRefs) > 0 {
				// The script may guard the backend: without it, fail closed.
				rule.BackendRefs = nil
				warnings = append(warnings, fmt.Sprintf("HTTPRoute %s/%s rule %d (%s %s): its mruby script cannot be converted, "+
					"so its backendRefs are left out and it answers 500 rather than serve without the script; "+
					"port the script's logic, then add them back", r.Namespace, r.Name, j,
					deref(rule.Matches[0].Path.Type, ""), deref(rule.Matches[0].Path.Value, "")))
			}
		}
		if r.Annotations[AnnotationDefaultBackend] == "internal" {
			warnings = append(warnings, fmt.Sprintf("HTTPRoute %s/%s, the internal default backend (404 for requests that match no rule, "+
				"200 for /healthz), has no portable equivalent and is left out", r.Namespace, r.Name))
			continue
		}
		objs = append(objs, r)
	}
	for i := range res.ReferenceGrants {
		objs = append(objs, &res.ReferenceGrants[i])
	}

	for _, e := range res.Events {
		if e.Type != EventWarning {
			continue
		}
		if e.Regarding == nil {
			warnings = append(warnings, e.Message)
		} else {
			warnings = append(warnings, fmt.Sprintf("%s %s/%s: %s", e.Regarding.Kind, e.Regarding.Namespace, e.Regarding.Name, e.Message))
		}
	}
	for _, ir := range res.Ingresses {
		for _, e := range ir.Events {
			if e.Type == EventWarning {
				warnings = append(warnings, fmt.Sprintf("Ingress %s/%s: %s", ir.Namespace, ir.Name, e.Message))
			}
		}
		for _, n := range ir.NonPortable {
			warnings = append(warnings, fmt.Sprintf("Ingress %s/%s: %s", ir.Namespace, ir.Name, n))
		}
	}

	var buf bytes.Buffer
	for _, o := range objs {
		b, err := applyableYAML(o)
		if err != nil {
			return nil, nil, err
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), warnings, nil
}

// applyableYAML marshals an object without status and creationTimestamp, which a
// user does not write.
func applyableYAML(o runtime.Object) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", o, err)
	}
	u := unstructured.Unstructured{Object: m}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("marshalling %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return b, nil
}
