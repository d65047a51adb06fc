package source

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grpcRouteRelevant: spec changes of GRPCRoutes that name an in-scope parent,
// or that carry a status entry of ours (to clear it), as for HTTPRoutes.
func (s *Source) grpcRouteRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(r *gatewayv1.GRPCRoute) bool {
		return s.refs.parentsName(r.Namespace, r.Spec.ParentRefs) ||
			!s.scope.one() && routeStatusOurs(&r.Status.RouteStatus, s.scope.controllerName)
	})
}

// addGRPCRoutes records the Services the GRPCRoutes with an in-scope parent use.
func (r *refs) addGRPCRoutes(routes []gatewayv1.GRPCRoute) {
	for i := range routes {
		rt := &routes[i]
		if !r.parentsName(rt.Namespace, rt.Spec.ParentRefs) {
			continue
		}
		for _, rule := range rt.Spec.Rules {
			for _, b := range rule.BackendRefs {
				r.addBackend(rt.Namespace, b.BackendObjectReference)
			}
		}
	}
}
