package e2eutil

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Namespace creates namespace name (with labels) for one test and deletes it when
// the test ends, waiting until it is gone so pods and data planes do not pile up.
// When the test failed, onFailure (if not nil) runs first, while the state is there.
func Namespace(ctx context.Context, t *testing.T, cl client.Client, name string, labels map[string]string, onFailure func()) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := cl.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	// Cleanups run last-registered first: diagnostics before the deletion.
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := cl.Delete(dctx, ns); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
			return
		}
		err := Poll(dctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
			return apierrors.IsNotFound(cl.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})), nil
		})
		if err != nil {
			t.Errorf("namespace %s still exists 2 minutes after deletion", name)
		}
	})
	t.Cleanup(func() {
		if t.Failed() && onFailure != nil {
			onFailure()
		}
	})
}

// Create creates objs in order and fails the test on the first error.
func Create(ctx context.Context, t *testing.T, cl client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := cl.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s/%s: %v", o, o.GetNamespace(), o.GetName(), err)
		}
	}
}
