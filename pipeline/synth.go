package pipeline

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// SyntheticInput builds one Gateway with an HTTP listener on port, `routes`
// HTTPRoutes (each with its own hostname, two path rules and a header match) spread
// over `services` Services with `endpoints` ready addresses each (127.0.0.1 on
// consecutive ports from backendPort). Benchmarks and load tests use it to size
// the pipeline; it is deterministic.
func SyntheticInput(routes, services, endpoints int, port int32, backendPort int32) *load.Input {
	in := &load.Input{}
	in.GatewayClasses = append(in.GatewayClasses, gatewayv1.GatewayClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "GatewayClass"},
		ObjectMeta: metav1.ObjectMeta{Name: "nghttpx"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName},
	})
	in.Gateways = append(in.Gateways, gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default", Generation: 1},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "nghttpx",
			Listeners: []gatewayv1.Listener{{
				Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: port,
				AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr.To(gatewayv1.NamespacesFromSame)}},
			}},
		},
	})
	for s := 0; s < services; s++ {
		name := fmt.Sprintf("svc-%d", s)
		in.Services = append(in.Services, corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromInt32(backendPort),
			}}},
		})
		slice := discoveryv1.EndpointSlice{
			TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		for e := 0; e < endpoints; e++ {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("127.0.%d.%d", 1+e/250, 1+e%250)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(backendPort)}}
		in.EndpointSlices = append(in.EndpointSlices, slice)
	}
	for r := 0; r < routes; r++ {
		svc := gatewayv1.ObjectName(fmt.Sprintf("svc-%d", r%max(services, 1)))
		ref := []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: svc, Port: ptr.To(gatewayv1.PortNumber(80)),
		}}}}
		in.HTTPRoutes = append(in.HTTPRoutes, gatewayv1.HTTPRoute{
			TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("route-%d", r), Namespace: "default", Generation: 1},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "bench"}}},
				Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(fmt.Sprintf("host-%d.example", r))},
				Rules: []gatewayv1.HTTPRouteRule{
					{
						Matches: []gatewayv1.HTTPRouteMatch{{
							Path:    &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/api")},
							Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-version", Value: "2"}},
						}},
						BackendRefs: ref,
					},
					{
						Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To("/exact")}}},
						BackendRefs: ref,
					},
					{BackendRefs: ref},
				},
			},
		})
	}
	return in
}
