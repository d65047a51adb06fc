package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// Counters of a Writer, safe for concurrent reads.
type Counters struct {
	// Writes counts status updates sent and accepted.
	Writes atomic.Int64
	// Skipped counts objects whose status already was what we would write.
	Skipped atomic.Int64
	// Conflicts counts updates rejected because the object changed since it was
	// read (from the cache or a GET).
	Conflicts atomic.Int64
}

// Result is the outcome of one status update, as an Observer is told it.
type Result string

// Results of an update. A conflict is reported for each rejected attempt; the
// update then ends written, unchanged, gone or error.
const (
	ResultWritten   Result = "written"
	ResultUnchanged Result = "unchanged"
	ResultConflict  Result = "conflict"
	ResultGone      Result = "gone"
	ResultError     Result = "error"
)

// Observer is told the outcome of every status update (the controller's
// metrics). kind is the object's kind (Gateway, HTTPRoute, Ingress...); took is
// the time the update spent on the API server, zero when the cache showed
// nothing to change.
type Observer interface {
	StatusUpdate(kind string, result Result, took time.Duration)
}

// Writer writes our part of the status of Gateway API objects.
type Writer struct {
	// Reader must read from the API server (a fresh GET), not from a cache.
	Reader client.Reader
	// Client sends status updates.
	Client client.Client
	// Cache, when set, is consulted first: an object whose cached status already
	// shows what we would write is skipped without a request, and a changed one
	// is written from the cached copy (its resourceVersion guards against a
	// stale cache), so a translation costs one request per changed object.
	Cache          client.Reader
	ControllerName string
	Log            logr.Logger
	// Observer, when set, is told every update's outcome.
	Observer Observer

	counters Counters
}

// Counters returns the write counters.
func (w *Writer) Counters() *Counters { return &w.counters }

func (w *Writer) observe(kind string, r Result, took time.Duration) {
	if w.Observer != nil {
		w.Observer.StatusUpdate(kind, r, took)
	}
}

func (w *Writer) controllerName() string {
	if w.ControllerName == "" {
		return translate.DefaultControllerName
	}
	return w.ControllerName
}

// Write writes the status of every object in res; it goes on after a failure
// and returns all errors joined.
func (w *Writer) Write(ctx context.Context, res *translate.Result) error {
	var errs []error
	for i := range res.GatewayClasses {
		errs = append(errs, w.GatewayClass(ctx, &res.GatewayClasses[i]))
	}
	for i := range res.Gateways {
		errs = append(errs, w.Gateway(ctx, &res.Gateways[i]))
	}
	for i := range res.HTTPRoutes {
		errs = append(errs, w.HTTPRoute(ctx, &res.HTTPRoutes[i]))
	}
	for i := range res.GRPCRoutes {
		errs = append(errs, w.GRPCRoute(ctx, &res.GRPCRoutes[i]))
	}
	for i := range res.ListenerSets {
		errs = append(errs, w.ListenerSet(ctx, &res.ListenerSets[i]))
	}
	for i := range res.BackendTLSPolicies {
		errs = append(errs, w.BackendTLSPolicy(ctx, &res.BackendTLSPolicies[i]))
	}
	return errors.Join(errs...)
}

// GatewayClass writes the conditions and supportedFeatures of desired.
func (w *Writer) GatewayClass(ctx context.Context, desired *gatewayv1.GatewayClass) error {
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.GatewayClass{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.GatewayClass)
		cur.Status.Conditions = mergeConditions(cur.Status.Conditions, desired.Status.Conditions)
		cur.Status.SupportedFeatures = desired.Status.SupportedFeatures
	}, func(obj client.Object) any { return obj.(*gatewayv1.GatewayClass).Status })
}

// Gateway writes the conditions, listeners and addresses of desired.
func (w *Writer) Gateway(ctx context.Context, desired *gatewayv1.Gateway) error {
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.Gateway{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.Gateway)
		cur.Status.Conditions = mergeConditions(cur.Status.Conditions, desired.Status.Conditions)
		cur.Status.Listeners = desired.Status.Listeners
		cur.Status.Addresses = desired.Status.Addresses
		cur.Status.AttachedListenerSets = desired.Status.AttachedListenerSets
	}, func(obj client.Object) any { return obj.(*gatewayv1.Gateway).Status })
}

// ListenerSet writes the conditions and listeners of desired, as for a Gateway:
// the ListenerSet's status is ours when its parent Gateway is.
func (w *Writer) ListenerSet(ctx context.Context, desired *gatewayv1.ListenerSet) error {
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.ListenerSet{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.ListenerSet)
		cur.Status.Conditions = mergeConditions(cur.Status.Conditions, desired.Status.Conditions)
		cur.Status.Listeners = desired.Status.Listeners
	}, func(obj client.Object) any { return obj.(*gatewayv1.ListenerSet).Status })
}

// HTTPRoute writes the status.parents entries of our controller in desired.
func (w *Writer) HTTPRoute(ctx context.Context, desired *gatewayv1.HTTPRoute) error {
	name := w.controllerName()
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.HTTPRoute{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.HTTPRoute)
		cur.Status.Parents = mergeParents(cur.Status.Parents, desired.Status.Parents, name)
	}, func(obj client.Object) any { return obj.(*gatewayv1.HTTPRoute).Status })
}

// GRPCRoute writes the status.parents entries of our controller in desired.
func (w *Writer) GRPCRoute(ctx context.Context, desired *gatewayv1.GRPCRoute) error {
	name := w.controllerName()
	return w.update(ctx, desired, func() client.Object { return &gatewayv1.GRPCRoute{} }, func(obj client.Object) {
		cur := obj.(*gatewayv1.GRPCRoute)
		cur.Status.Parents = mergeParents(cur.Status.Parents, desired.Status.Parents, name)
	}, func(obj client.Object) any { return obj.(*gatewayv1.GRPCRoute).Status })
}

// update mutates the cached copy of desired (else a fresh GET) and writes it
// when its status changed, retrying on conflict from a fresh GET.
func (w *Writer) update(ctx context.Context, desired client.Object, newObj func() client.Object, mutate func(client.Object), status func(client.Object) any) error {
	key := client.ObjectKeyFromObject(desired)
	kind := strings.TrimPrefix(fmt.Sprintf("%T", newObj()), "*v1.")
	log := w.Log.WithValues("kind", kind, "object", key.String())
	// The cached copy, mutated, is the first attempt: one request per changed
	// object instead of a GET and an update. Its resourceVersion makes the update
	// fail with a conflict when the cache lags, and the retry reads fresh.
	var cached client.Object
	if obj := newObj(); w.Cache != nil && w.Cache.Get(ctx, key, obj) == nil && obj.GetUID() == desired.GetUID() {
		before := status(obj)
		mutate(obj)
		if equality.Semantic.DeepEqual(before, status(obj)) {
			w.counters.Skipped.Add(1)
			w.observe(kind, ResultUnchanged, 0)
			return nil
		}
		cached = obj
	}
	t0 := time.Now()
	result := ResultWritten
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj := cached
		cached = nil
		if obj == nil {
			obj = newObj() // decoding into a used object could keep stale fields
			if err := w.Reader.Get(ctx, key, obj); err != nil {
				return err
			}
			if desired.GetUID() != "" && obj.GetUID() != desired.GetUID() {
				// Deleted and recreated since the translation; the next one covers it.
				return apierrors.NewNotFound(gatewayv1.Resource(kind), key.Name)
			}
			before := status(obj)
			mutate(obj)
			if equality.Semantic.DeepEqual(before, status(obj)) {
				w.counters.Skipped.Add(1)
				result = ResultUnchanged
				return nil
			}
		}
		err := w.Client.Status().Update(ctx, obj)
		if apierrors.IsConflict(err) {
			w.counters.Conflicts.Add(1)
			w.observe(kind, ResultConflict, 0)
		}
		if err == nil {
			w.counters.Writes.Add(1)
			result = ResultWritten
			log.V(1).Info("status written")
		}
		return err
	})
	took := time.Since(t0)
	if apierrors.IsNotFound(err) {
		w.observe(kind, ResultGone, took)
		return nil
	}
	if err != nil {
		w.observe(kind, ResultError, took)
		return fmt.Errorf("write status of %s %s: %w", kind, key, err)
	}
	w.observe(kind, result, took)
	return nil
}

// mergeConditions sets every desired condition by type, in place where cur has
// that type, appended otherwise; conditions of other types are kept.
func mergeConditions(cur, desired []metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, len(cur))
	copy(out, cur)
	for _, d := range desired {
		found := false
		for i := range out {
			if out[i].Type == d.Type {
				out[i], found = d, true
				break
			}
		}
		if !found {
			out = append(out, d)
		}
	}
	return out
}

// mergeParents replaces the entries of controller name in cur with those in
// desired: matching parentRefs keep their position, stale ones are removed, new
// ones appended. Entries of other controllers are never touched.
func mergeParents(cur, desired []gatewayv1.RouteParentStatus, name string) []gatewayv1.RouteParentStatus {
	return mergeOwned(cur, desired, name,
		func(p gatewayv1.RouteParentStatus) gatewayv1.GatewayController { return p.ControllerName },
		func(a, b gatewayv1.RouteParentStatus) bool {
			return equality.Semantic.DeepEqual(a.ParentRef, b.ParentRef)
		})
}

// mergeOwned is the merge of per-parent status lists (route parents, policy
// ancestors): the entries of controller name (owner) in cur are replaced by ours
// in desired, matched by sameRef so they keep their position; ours without a
// match are appended, stale ones dropped, other controllers' entries kept.
func mergeOwned[T any](cur, desired []T, name string, owner func(T) gatewayv1.GatewayController, sameRef func(a, b T) bool) []T {
	var ours []T
	for _, d := range desired {
		if string(owner(d)) == name {
			ours = append(ours, d)
		}
	}
	used := make([]bool, len(ours))
	out := make([]T, 0, len(cur)+len(ours))
	for _, c := range cur {
		if string(owner(c)) != name {
			out = append(out, c)
			continue
		}
		for i, d := range ours {
			if !used[i] && sameRef(c, d) {
				out = append(out, d)
				used[i] = true
				break
			}
		}
	}
	for i, d := range ours {
		if !used[i] {
			out = append(out, d)
		}
	}
	return out
}
