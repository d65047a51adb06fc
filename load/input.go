package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

// Input is the set of objects one translation sees. Slices may be in any order and
// may hold the same object twice (the last one wins); Translate sorts them.
type Input struct {
	GatewayClasses  []gatewayv1.GatewayClass
	Gateways        []gatewayv1.Gateway
	HTTPRoutes      []gatewayv1.HTTPRoute
	GRPCRoutes      []gatewayv1.GRPCRoute
	ListenerSets    []gatewayv1.ListenerSet
	ReferenceGrants []gatewayv1beta1.ReferenceGrant
	Services        []corev1.Service
	EndpointSlices  []discoveryv1.EndpointSlice
	Secrets         []corev1.Secret
	Namespaces      []corev1.Namespace
	// Ingresses, IngressClasses and ConfigMaps are decoded for the Ingress shim
	// (package ingressshim), which turns them into GatewayClasses, Gateways,
	// HTTPRoutes, ReferenceGrants and Extensions; Translate reads ConfigMaps only
	// as GatewayClass parameters and as client CA bundles (spec.tls.frontend).
	Ingresses      []networkingv1.Ingress
	IngressClasses []networkingv1.IngressClass
	ConfigMaps     []corev1.ConfigMap
	// Certificates are cert-manager Certificates (cert-manager.io/v1). They only
	// explain a missing certificate Secret in status (see CertificateIndex); an
	// existing Secret is used whatever they say.
	Certificates []cmv1.Certificate
	// BackendTLSPolicies say how to verify TLS backends; the CA ConfigMaps they
	// name are in ConfigMaps.
	BackendTLSPolicies []gatewayv1.BackendTLSPolicy
	// Extensions carry nghttpx settings for individual HTTPRoute rules and
	// backendRefs that Gateway API cannot express (filled by the Ingress shim).
	Extensions Extensions
	// Other holds every object of a kind the translator does not use and that has
	// no field above (TLSRoute, ...).
	Other []unstructured.Unstructured
	// SkippedKinds lists "apiVersion/Kind" of the objects in Other, sorted, unique.
	SkippedKinds []string
}

// Append adds all objects of other to in.
func (in *Input) Append(other *Input) {
	if other == nil {
		return
	}
	in.GatewayClasses = append(in.GatewayClasses, other.GatewayClasses...)
	in.Gateways = append(in.Gateways, other.Gateways...)
	in.HTTPRoutes = append(in.HTTPRoutes, other.HTTPRoutes...)
	in.GRPCRoutes = append(in.GRPCRoutes, other.GRPCRoutes...)
	in.ListenerSets = append(in.ListenerSets, other.ListenerSets...)
	in.ReferenceGrants = append(in.ReferenceGrants, other.ReferenceGrants...)
	in.BackendTLSPolicies = append(in.BackendTLSPolicies, other.BackendTLSPolicies...)
	in.Services = append(in.Services, other.Services...)
	in.EndpointSlices = append(in.EndpointSlices, other.EndpointSlices...)
	in.Secrets = append(in.Secrets, other.Secrets...)
	in.Namespaces = append(in.Namespaces, other.Namespaces...)
	in.Ingresses = append(in.Ingresses, other.Ingresses...)
	in.IngressClasses = append(in.IngressClasses, other.IngressClasses...)
	in.ConfigMaps = append(in.ConfigMaps, other.ConfigMaps...)
	in.Certificates = append(in.Certificates, other.Certificates...)
	in.Extensions.Append(&other.Extensions)
	in.Other = append(in.Other, other.Other...)
	for _, k := range other.SkippedKinds {
		in.addSkippedKind(k)
	}
}

func (in *Input) addSkippedKind(k string) {
	i, found := slices.BinarySearch(in.SkippedKinds, k)
	if !found {
		in.SkippedKinds = slices.Insert(in.SkippedKinds, i, k)
	}
}

// DecodeYAML reads a stream of YAML (or JSON) documents separated by "---". A
// document may also be a List (kind: List, or a typed list such as HTTPRouteList)
// whose items are decoded one by one. Ingresses, IngressClasses and ConfigMaps
// (networking.k8s.io/v1, v1) go to their own slices for the Ingress shim,
// cert-manager Certificates (cert-manager.io/v1) to Certificates; other
// kinds the translator does not use go to Other; unknown fields are an error, so
// typos do not pass silently.
func DecodeYAML(data []byte) (*Input, error) {
	d := newDecoder()
	in := &Input{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML document %d: %w", i, err)
		}
		if err := d.decodeDocument(in, doc, fmt.Sprintf("document %d", i)); err != nil {
			return nil, err
		}
	}
	return in, nil
}

type decoder struct {
	scheme *runtime.Scheme
	codec  *kjson.Serializer
}

func newDecoder() *decoder {
	s := runtime.NewScheme()
	// AddToScheme only fails on conflicting registrations, which these are not.
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, discoveryv1.AddToScheme, networkingv1.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install,
		addCertificates,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("building scheme: %v", err))
		}
	}
	codec := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Strict: true})
	return &decoder{scheme: s, codec: codec}
}

// addCertificates registers only cert-manager's Certificate: its other kinds
// (Issuers, ...) stay in Other, unvalidated, as before.
func addCertificates(s *runtime.Scheme) error {
	s.AddKnownTypes(cmv1.SchemeGroupVersion, &cmv1.Certificate{}, &cmv1.CertificateList{})
	return nil
}

func (d *decoder) decodeDocument(in *Input, doc []byte, where string) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	j = bytes.TrimSpace(j)
	if len(j) == 0 || string(j) == "null" {
		return nil
	}
	return d.decodeJSON(in, j, where, "", "")
}

// decodeJSON decodes one object; defaultAPIVersion and defaultKind fill in the type
// of typed list items, which usually omit it.
func (d *decoder) decodeJSON(in *Input, j []byte, where, defaultAPIVersion, defaultKind string) error {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(j, &head); err != nil {
		return fmt.Errorf("%s: not an object: %w", where, err)
	}
	if (head.Kind == "" || head.APIVersion == "") && defaultKind != "" {
		head.Kind, head.APIVersion = defaultKind, defaultAPIVersion
		if err := setType(&j, head.APIVersion, head.Kind); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	if head.APIVersion == "" || head.Kind == "" {
		return fmt.Errorf("%s (kind %q): apiVersion and kind are required", where, head.Kind)
	}
	if strings.HasSuffix(head.Kind, "List") && head.Items != nil {
		itemKind := strings.TrimSuffix(head.Kind, "List")
		if head.Kind == "List" {
			itemKind = ""
		}
		for k, item := range head.Items {
			w := fmt.Sprintf("%s item %d", where, k+1)
			if err := d.decodeJSON(in, item, w, head.APIVersion, itemKind); err != nil {
				return err
			}
		}
		return nil
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return fmt.Errorf("%s (kind %q): %w", where, head.Kind, err)
	}
	gvk := gv.WithKind(head.Kind)
	if !d.scheme.Recognizes(gvk) {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(j); err != nil {
			return fmt.Errorf("%s (kind %q): %w", where, head.Kind, err)
		}
		in.Other = append(in.Other, u)
		in.addSkippedKind(head.APIVersion + "/" + head.Kind)
		return nil
	}
	obj, _, err := d.codec.Decode(j, nil, nil)
	if err != nil {
		return fmt.Errorf("%s (kind %q): %w", where, head.Kind, err)
	}
	return in.add(obj, gvk, where)
}

func setType(j *[]byte, apiVersion, kind string) error {
	var m map[string]any
	if err := json.Unmarshal(*j, &m); err != nil {
		return err
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	out, err := json.Marshal(m)
	if err != nil {
		return err
	}
	*j = out
	return nil
}

// add files a typed object; older API versions of the same kind are converted
// (they share the v1 schema).
func (in *Input) add(obj runtime.Object, gvk schema.GroupVersionKind, where string) error {
	switch o := obj.(type) {
	case *gatewayv1.GatewayClass:
		in.GatewayClasses = append(in.GatewayClasses, *o)
	case *gatewayv1beta1.GatewayClass:
		c := gatewayv1.GatewayClass(*o)
		c.APIVersion = gatewayv1.GroupVersion.String()
		in.GatewayClasses = append(in.GatewayClasses, c)
	case *gatewayv1.Gateway:
		in.Gateways = append(in.Gateways, *o)
	case *gatewayv1beta1.Gateway:
		g := gatewayv1.Gateway(*o)
		g.APIVersion = gatewayv1.GroupVersion.String()
		in.Gateways = append(in.Gateways, g)
	case *gatewayv1.HTTPRoute:
		in.HTTPRoutes = append(in.HTTPRoutes, *o)
	case *gatewayv1beta1.HTTPRoute:
		r := gatewayv1.HTTPRoute(*o)
		r.APIVersion = gatewayv1.GroupVersion.String()
		in.HTTPRoutes = append(in.HTTPRoutes, r)
	case *gatewayv1.GRPCRoute:
		in.GRPCRoutes = append(in.GRPCRoutes, *o)
	case *gatewayv1.ListenerSet:
		in.ListenerSets = append(in.ListenerSets, *o)
	case *gatewayv1beta1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, *o)
	case *gatewayv1.ReferenceGrant:
		g := gatewayv1beta1.ReferenceGrant(*o)
		g.APIVersion = gatewayv1beta1.GroupVersion.String()
		in.ReferenceGrants = append(in.ReferenceGrants, g)
	case *gatewayv1.BackendTLSPolicy:
		in.BackendTLSPolicies = append(in.BackendTLSPolicies, *o)
	case *corev1.Service:
		in.Services = append(in.Services, *o)
	case *discoveryv1.EndpointSlice:
		in.EndpointSlices = append(in.EndpointSlices, *o)
	case *corev1.Secret:
		in.Secrets = append(in.Secrets, *o)
	case *corev1.Namespace:
		in.Namespaces = append(in.Namespaces, *o)
	case *corev1.ConfigMap:
		in.ConfigMaps = append(in.ConfigMaps, *o)
	case *networkingv1.Ingress:
		in.Ingresses = append(in.Ingresses, *o)
	case *networkingv1.IngressClass:
		in.IngressClasses = append(in.IngressClasses, *o)
	case *cmv1.Certificate:
		in.Certificates = append(in.Certificates, *o)
	default:
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("%s (kind %q): %w", where, gvk.Kind, err)
		}
		uo := unstructured.Unstructured{Object: u}
		uo.SetGroupVersionKind(gvk)
		in.Other = append(in.Other, uo)
		in.addSkippedKind(gvk.GroupVersion().String() + "/" + gvk.Kind)
	}
	return nil
}
