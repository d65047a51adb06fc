package status

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func ancestorStatus(ctrl, gw, reason string) gatewayv1.PolicyAncestorStatus {
	return gatewayv1.PolicyAncestorStatus{
		AncestorRef:    parentRef(gw),
		ControllerName: gatewayv1.GatewayController(ctrl),
		Conditions: []metav1.Condition{{
			Type: "Accepted", Status: metav1.ConditionTrue, Reason: reason, Message: reason,
			LastTransitionTime: metav1.Unix(0, 0),
		}},
	}
}

func policy(ancestors ...gatewayv1.PolicyAncestorStatus) *gatewayv1.BackendTLSPolicy {
	p := &gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: gatewayv1.BackendTLSPolicySpec{Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "abc.example.com"}}}
	p.Status.Ancestors = ancestors
	return p
}

// Only our ancestor entries change: ours are updated in place, stale ones
// removed, new ones appended; another controller's entry is kept as stored.
func TestBackendTLSPolicyOnlyOurAncestors(t *testing.T) {
	stored := policy(
		ancestorStatus(theirs, "a", "Theirs"),
		ancestorStatus(ours, "stale", "Old"),
		ancestorStatus(ours, "b", "Old"),
	)
	w, base, n := newWriter(t, interceptor.Funcs{}, stored)
	desired := policy(
		ancestorStatus(theirs, "a", "MustNotBeWritten"),
		ancestorStatus(ours, "new", "New"),
		ancestorStatus(ours, "b", "New"),
	)
	if err := w.BackendTLSPolicy(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.BackendTLSPolicy
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &got); err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, a := range got.Status.Ancestors {
		summary = append(summary, string(a.ControllerName)+"/"+string(a.AncestorRef.Name)+"/"+a.Conditions[0].Reason)
	}
	want := []string{theirs + "/a/Theirs", ours + "/b/New", ours + "/new/New"}
	if !slices.Equal(summary, want) {
		t.Fatalf("ancestors %v, want %v", summary, want)
	}
	if err := w.BackendTLSPolicy(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	if n.updates != 1 || w.Counters().Skipped.Load() != 1 {
		t.Errorf("updates %d, skipped %d; want 1 write then a skip", n.updates, w.Counters().Skipped.Load())
	}
}
