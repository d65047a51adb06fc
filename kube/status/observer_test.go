package status

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

type observed struct {
	kind   string
	result Result
	timed  bool
}

type recordingObserver struct{ got []observed }

func (o *recordingObserver) StatusUpdate(kind string, r Result, took time.Duration) {
	o.got = append(o.got, observed{kind, r, took > 0})
}

// Every update reports its outcome once, plus one conflict per rejected
// attempt; only updates that reached the API server are timed.
func TestObserverSeesEveryOutcome(t *testing.T) {
	ctx := context.Background()
	stored := route(parentStatus(ours, "b", "Old"))
	stored.UID = "u1"
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: "c1"}}
	conflicts, fail := 0, false
	w, _, _ := newWriter(t, interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if fail {
				return errors.New("apiserver down")
			}
			if conflicts == 0 {
				conflicts++
				return apierrors.NewConflict(schema.GroupResource{Resource: "httproutes"}, obj.GetName(), nil)
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	}, stored, gc)
	o := &recordingObserver{}
	w.Observer = o
	desired := route(parentStatus(ours, "b", "New"))
	desired.UID = "u1"
	if err := w.HTTPRoute(ctx, desired); err != nil { // conflict, then written
		t.Fatal(err)
	}
	if err := w.HTTPRoute(ctx, desired); err != nil { // unchanged after a GET
		t.Fatal(err)
	}
	gone := route(parentStatus(ours, "b", "New"))
	gone.Name = "deleted"
	if err := w.HTTPRoute(ctx, gone); err != nil {
		t.Fatal(err)
	}
	fail = true
	want := gc.DeepCopy()
	want.Status.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Unix(0, 0)}}
	if err := w.GatewayClass(ctx, want); err == nil {
		t.Fatal("a failing update returned no error")
	}
	expect := []observed{
		{"HTTPRoute", ResultConflict, false}, {"HTTPRoute", ResultWritten, true},
		{"HTTPRoute", ResultUnchanged, true},
		{"HTTPRoute", ResultGone, true},
		{"GatewayClass", ResultError, true},
	}
	if !slices.Equal(o.got, expect) {
		t.Errorf("observed %+v\nwant     %+v", o.got, expect)
	}

	// With the cache showing the status already written: unchanged, untimed.
	w.Cache = w.Reader
	o.got = nil
	fail = false
	if err := w.HTTPRoute(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.got, []observed{{"HTTPRoute", ResultUnchanged, false}}) {
		t.Errorf("cache skip observed as %+v", o.got)
	}
}
