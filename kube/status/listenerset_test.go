package status

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

func TestListenerSetStatusAndAttachedCount(t *testing.T) {
	ls := &gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Name: "ls", Namespace: "ns"}}
	ls.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionUnknown, Reason: "Pending", LastTransitionTime: metav1.Unix(0, 0)},
		{Type: "example.com/Audited", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: metav1.Unix(0, 0)},
	}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns"}}
	w, base, n := newWriter(t, interceptor.Funcs{}, ls, gw)

	desired := ls.DeepCopy()
	desired.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Unix(1, 0)},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: metav1.Unix(1, 0)},
	}
	desired.Status.Listeners = []gatewayv1.ListenerEntryStatus{{Name: "extra", AttachedRoutes: 2}}
	desiredGW := gw.DeepCopy()
	desiredGW.Status.AttachedListenerSets = new(int32(1))
	res := &translate.Result{Gateways: []gatewayv1.Gateway{*desiredGW}, ListenerSets: []gatewayv1.ListenerSet{*desired}}
	if err := w.Write(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.ListenerSet
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(ls), &got); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Accepted not written: %+v", got.Status.Conditions)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, "example.com/Audited"); c == nil {
		t.Errorf("foreign condition lost: %+v", got.Status.Conditions)
	}
	if len(got.Status.Listeners) != 1 || got.Status.Listeners[0].AttachedRoutes != 2 {
		t.Errorf("listeners %+v", got.Status.Listeners)
	}
	var gotGW gatewayv1.Gateway
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(gw), &gotGW); err != nil {
		t.Fatal(err)
	}
	if gotGW.Status.AttachedListenerSets == nil || *gotGW.Status.AttachedListenerSets != 1 {
		t.Errorf("attachedListenerSets %v", gotGW.Status.AttachedListenerSets)
	}
	if n.updates != 2 {
		t.Errorf("%d status updates, want 2", n.updates)
	}
	// The same result again changes nothing and writes nothing.
	if err := w.Write(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	if n.updates != 2 || w.Counters().Skipped.Load() != 2 {
		t.Errorf("second write: %d updates, %d skipped; want 2 and 2", n.updates, w.Counters().Skipped.Load())
	}
}
