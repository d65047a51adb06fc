package status

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

const ours = translate.DefaultControllerName
const theirs = "example.com/other"

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := gatewayv1.Install(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func parentRef(name string) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{Name: gatewayv1.ObjectName(name)}
}

func parentStatus(ctrl, gw, reason string) gatewayv1.RouteParentStatus {
	return gatewayv1.RouteParentStatus{
		ParentRef:      parentRef(gw),
		ControllerName: gatewayv1.GatewayController(ctrl),
		Conditions: []metav1.Condition{{
			Type: "Accepted", Status: metav1.ConditionTrue, Reason: reason, Message: reason,
			LastTransitionTime: metav1.Unix(0, 0),
		}},
	}
}

func route(parents ...gatewayv1.RouteParentStatus) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
	r.Status.Parents = parents
	return r
}

type counts struct{ gets, updates int }

func newWriter(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) (*Writer, client.Client, *counts) {
	t.Helper()
	n := &counts{}
	base := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).WithStatusSubresource(objs...).Build()
	get := funcs.Get
	funcs.Get = func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		n.gets++
		if get != nil {
			return get(ctx, c, key, obj, opts...)
		}
		return c.Get(ctx, key, obj, opts...)
	}
	upd := funcs.SubResourceUpdate
	funcs.SubResourceUpdate = func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
		n.updates++
		if upd != nil {
			return upd(ctx, c, sub, obj, opts...)
		}
		return c.SubResource(sub).Update(ctx, obj, opts...)
	}
	c := interceptor.NewClient(base, funcs)
	return &Writer{Reader: c, Client: c, Log: testr.New(t)}, base, n
}

func TestHTTPRouteOnlyOurParents(t *testing.T) {
	stored := route(
		parentStatus(theirs, "a", "Theirs"),
		parentStatus(ours, "stale", "Old"),
		parentStatus(ours, "b", "Old"),
	)
	w, base, n := newWriter(t, interceptor.Funcs{}, stored)
	desired := route(
		parentStatus(theirs, "a", "MustNotBeWritten"),
		parentStatus(ours, "new", "New"),
		parentStatus(ours, "b", "New"),
	)
	if err := w.HTTPRoute(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.HTTPRoute
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &got); err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, p := range got.Status.Parents {
		summary = append(summary, string(p.ControllerName)+"/"+string(p.ParentRef.Name)+"/"+p.Conditions[0].Reason)
	}
	want := []string{theirs + "/a/Theirs", ours + "/b/New", ours + "/new/New"}
	if len(summary) != len(want) {
		t.Fatalf("parents %v, want %v", summary, want)
	}
	for i := range want {
		if summary[i] != want[i] {
			t.Fatalf("parents %v, want %v", summary, want)
		}
	}
	if w.Counters().Writes.Load() != 1 || n.updates != 1 {
		t.Errorf("writes %d, updates %d; want 1", w.Counters().Writes.Load(), n.updates)
	}

	// The same desired status again: nothing to write.
	if err := w.HTTPRoute(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	if n.updates != 1 || w.Counters().Skipped.Load() != 1 {
		t.Errorf("no-op write not skipped: updates %d, skipped %d", n.updates, w.Counters().Skipped.Load())
	}
}

func TestConflictRetriedFromFreshRead(t *testing.T) {
	stored := route(parentStatus(ours, "b", "Old"))
	conflicts := 0
	w, base, n := newWriter(t, interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if conflicts == 0 {
				conflicts++
				// Another controller writes its entry between our GET and update.
				var cur gatewayv1.HTTPRoute
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &cur); err != nil {
					return err
				}
				cur.Status.Parents = append(cur.Status.Parents, parentStatus(theirs, "x", "Theirs"))
				if err := c.Status().Update(ctx, &cur); err != nil {
					return err
				}
				return apierrors.NewConflict(schema.GroupResource{Resource: "httproutes"}, obj.GetName(), nil)
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	}, stored)
	if err := w.HTTPRoute(context.Background(), route(parentStatus(ours, "b", "New"))); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.HTTPRoute
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Parents) != 2 || got.Status.Parents[0].Conditions[0].Reason != "New" ||
		got.Status.Parents[1].ControllerName != theirs {
		t.Fatalf("after conflict: %+v", got.Status.Parents)
	}
	if w.Counters().Conflicts.Load() != 1 || w.Counters().Writes.Load() != 1 {
		t.Errorf("conflicts %d writes %d", w.Counters().Conflicts.Load(), w.Counters().Writes.Load())
	}
	if n.gets != 2 || n.updates != 2 {
		t.Errorf("gets %d updates %d, want 2 each (one fresh read per attempt)", n.gets, n.updates)
	}
}

func TestGatewayKeepsForeignConditionsAndSkipsMissing(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns"}}
	gw.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Pending", LastTransitionTime: metav1.Unix(0, 0)},
		{Type: "example.com/Audited", Status: metav1.ConditionTrue, Reason: "Ok", LastTransitionTime: metav1.Unix(0, 0)},
	}
	w, base, _ := newWriter(t, interceptor.Funcs{}, gw)
	desired := gw.DeepCopy()
	desired.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Unix(1, 0)},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: metav1.Unix(1, 0)},
	}
	desired.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	missing := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: "ns"}}
	if err := w.Write(context.Background(), &translate.Result{Gateways: []gatewayv1.Gateway{*desired, *missing}}); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.Gateway
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(gw), &got); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, "example.com/Audited"); c == nil || c.Reason != "Ok" {
		t.Errorf("foreign condition lost: %+v", got.Status.Conditions)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Accepted not written: %+v", got.Status.Conditions)
	}
	if got.Status.Conditions[0].Type != "Accepted" || len(got.Status.Conditions) != 3 {
		t.Errorf("conditions not merged in place: %+v", got.Status.Conditions)
	}
	if len(got.Status.Addresses) != 1 || got.Status.Addresses[0].Value != "10.0.0.1" {
		t.Errorf("addresses %+v", got.Status.Addresses)
	}
}

func TestCachedStatusSkipsWithoutAPIRequests(t *testing.T) {
	stored := route(parentStatus(theirs, "a", "Theirs"), parentStatus(ours, "b", "Same"))
	w, base, n := newWriter(t, interceptor.Funcs{}, stored)
	w.Cache = base // stands in for the informer cache
	if err := w.HTTPRoute(context.Background(), route(parentStatus(ours, "b", "Same"))); err != nil {
		t.Fatal(err)
	}
	if n.gets != 0 || n.updates != 0 || w.Counters().Skipped.Load() != 1 {
		t.Errorf("gets %d updates %d skipped %d; want 0, 0, 1", n.gets, n.updates, w.Counters().Skipped.Load())
	}
	// A real change is written from the cached copy: one request, no GET.
	if err := w.HTTPRoute(context.Background(), route(parentStatus(ours, "b", "Changed"))); err != nil {
		t.Fatal(err)
	}
	if n.gets != 0 || n.updates != 1 {
		t.Errorf("gets %d updates %d; want 0 and 1", n.gets, n.updates)
	}
	var got gatewayv1.HTTPRoute
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Parents) != 2 || got.Status.Parents[0].ControllerName != theirs || got.Status.Parents[1].Conditions[0].Reason != "Changed" {
		t.Errorf("written from the cache: %+v", got.Status.Parents)
	}
}

// A cache that lags behind another writer's update must not overwrite it: the
// update from the cached copy conflicts and the retry starts from a fresh GET.
func TestStaleCacheConflictsThenReadsFresh(t *testing.T) {
	stored := route(parentStatus(ours, "b", "Old"))
	w, base, n := newWriter(t, interceptor.Funcs{}, stored)
	var snap gatewayv1.HTTPRoute
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &snap); err != nil {
		t.Fatal(err)
	}
	// Another controller adds its entry; the cache still holds the older copy.
	cur := snap.DeepCopy()
	cur.Status.Parents = append(cur.Status.Parents, parentStatus(theirs, "x", "Theirs"))
	if err := base.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	w.Cache = fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(snap.DeepCopy()).Build()
	if err := w.HTTPRoute(context.Background(), route(parentStatus(ours, "b", "New"))); err != nil {
		t.Fatal(err)
	}
	var got gatewayv1.HTTPRoute
	if err := base.Get(context.Background(), client.ObjectKeyFromObject(stored), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Parents) != 2 || got.Status.Parents[0].Conditions[0].Reason != "New" || got.Status.Parents[1].ControllerName != theirs {
		t.Fatalf("after a stale cache: %+v", got.Status.Parents)
	}
	if w.Counters().Conflicts.Load() != 1 || n.gets != 1 || n.updates != 2 {
		t.Errorf("conflicts %d gets %d updates %d; want 1, 1, 2", w.Counters().Conflicts.Load(), n.gets, n.updates)
	}
}
