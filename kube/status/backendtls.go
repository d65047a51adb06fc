package status

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BackendTLSPolicy writes the status.ancestors entries of our controller in
// desired; other controllers' entries are never touched.
func (w *Writer) BackendTLSPolicy(ctx context.Context, desired *gatewayv1.BackendTLSPolicy) error {
	name := w.controllerName()
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.BackendTLSPolicy{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.BackendTLSPolicy)
		cur.Status.Ancestors = mergeAncestors(cur.Status.Ancestors, desired.Status.Ancestors, name)
	}, func(obj client.Object) any { return obj.(*gatewayv1.BackendTLSPolicy).Status })
}

// mergeAncestors replaces the entries of controller name in cur with those in
// desired, as mergeParents does for routes. The API allows 16 entries: ours
// that do not fit are dropped.
func mergeAncestors(cur, desired []gatewayv1.PolicyAncestorStatus, name string) []gatewayv1.PolicyAncestorStatus {
	out := mergeOwned(cur, desired, name,
		func(p gatewayv1.PolicyAncestorStatus) gatewayv1.GatewayController { return p.ControllerName },
		func(a, b gatewayv1.PolicyAncestorStatus) bool {
			return equality.Semantic.DeepEqual(a.AncestorRef, b.AncestorRef)
		})
	if len(out) > 16 {
		out = out[:16]
	}
	return out
}
