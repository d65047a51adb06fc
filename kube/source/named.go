package source

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Named reads Secrets and ConfigMaps one name at a time: each object a snapshot
// asks for gets its own informer (namespace plus field selector metadata.name),
// started on first use and stopped once a snapshot no longer asks for it. RBAC
// authorizes such a list and watch by resourceNames, so the proxy of a Gateway
// needs access to exactly what its Gateway references (the controller grants it,
// kube/provision access.go) and never holds other objects in memory.
type Named struct {
	client kubernetes.Interface
	ctx    context.Context

	mu     sync.Mutex
	notify func()
	watch  map[namedKey]*namedWatch
}

type namedKey struct {
	kind string // "Secret" or "ConfigMap"
	key  types.NamespacedName
}

type namedWatch struct {
	inf    toolscache.SharedIndexInformer
	stop   context.CancelFunc
	used   bool        // asked for by the current snapshot
	pinned bool        // read besides the snapshots (GetPinned): never swept
	denied atomic.Bool // the API server refused its list or watch (no grant yet)
}

// Waiting for a named watch's first list is bounded, so that one object the
// proxy may not read (yet: the controller's grant follows the reference) reads as
// missing instead of stalling every snapshot of the Gateway; such a read is
// retried with a fresh watch after namedRetry.
const (
	namedSyncTimeout = 5 * time.Second
	namedRetry       = time.Second
)

// NewNamed returns a Named whose informers run until ctx is done.
func NewNamed(ctx context.Context, c kubernetes.Interface) *Named {
	return &Named{client: c, ctx: ctx, watch: map[namedKey]*namedWatch{}}
}

// setNotify sets what an event of a watched object calls.
func (n *Named) setNotify(f func()) {
	n.mu.Lock()
	n.notify = f
	n.mu.Unlock()
}

// get fills obj (a *Secret or *ConfigMap) with the object named k, leaving it
// empty when the object does not exist; it waits for a new informer's list.
func (n *Named) get(ctx context.Context, k types.NamespacedName, obj client.Object) error {
	return n.read(ctx, k, obj, false)
}

// GetPinned is get for an object read besides the snapshots (the proxy's
// original-format keys Secret): its watch is kept whether or not a snapshot
// asks for it, and its events call the same notify.
func (n *Named) GetPinned(ctx context.Context, k types.NamespacedName, obj client.Object) error {
	return n.read(ctx, k, obj, true)
}

func (n *Named) read(ctx context.Context, k types.NamespacedName, obj client.Object, pin bool) error {
	nk := namedKey{key: k}
	switch obj.(type) {
	case *corev1.Secret:
		nk.kind = "Secret"
	case *corev1.ConfigMap:
		nk.kind = "ConfigMap"
	default:
		return fmt.Errorf("named read of %T is not supported", obj)
	}
	w := n.start(nk, pin)
	if synced, err := w.waitSynced(ctx); err != nil {
		return fmt.Errorf("watch %s %s did not sync: %w", nk.kind, k, err)
	} else if !synced {
		n.retry(nk, w)
		return nil
	}
	item, ok, err := w.inf.GetStore().GetByKey(k.Namespace + "/" + k.Name)
	if err != nil || !ok {
		return err
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		item.(*corev1.Secret).DeepCopyInto(o)
	case *corev1.ConfigMap:
		item.(*corev1.ConfigMap).DeepCopyInto(o)
	}
	return nil
}

// waitSynced waits for w's first list: false when the API server refused it or
// it took longer than namedSyncTimeout.
func (w *namedWatch) waitSynced(ctx context.Context) (bool, error) {
	deadline := time.Now().Add(namedSyncTimeout)
	for !w.inf.HasSynced() {
		if w.denied.Load() || time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true, nil
}

// retry drops the unsynced watch w (its reflector would back off for up to 30 s)
// and asks for a new snapshot after namedRetry, which starts a fresh one.
func (n *Named) retry(nk namedKey, w *namedWatch) {
	n.mu.Lock()
	if n.watch[nk] == w {
		w.stop()
		delete(n.watch, nk)
	}
	n.mu.Unlock()
	time.AfterFunc(namedRetry, func() {
		if n.ctx.Err() != nil {
			return
		}
		n.mu.Lock()
		f := n.notify
		n.mu.Unlock()
		if f != nil {
			f()
		}
	})
}

// start returns the informer for nk, starting it if needed, and marks it used
// (and pinned: never swept).
func (n *Named) start(nk namedKey, pin bool) *namedWatch {
	n.mu.Lock()
	defer n.mu.Unlock()
	if w := n.watch[nk]; w != nil {
		w.used = true
		w.pinned = w.pinned || pin
		return w
	}
	sel := fields.OneTermEqualSelector("metadata.name", nk.key.Name).String()
	ns, core := nk.key.Namespace, n.client.CoreV1()
	// The calls use n.ctx, not the reflector's context: the watch lives as long as n.
	lw := &toolscache.ListWatch{}
	var proto runtime.Object
	switch nk.kind {
	case "Secret":
		lw.ListWithContextFunc = func(_ context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return core.Secrets(ns).List(n.ctx, o)
		}
		lw.WatchFuncWithContext = func(_ context.Context, o metav1.ListOptions) (kwatch.Interface, error) {
			o.FieldSelector = sel
			return core.Secrets(ns).Watch(n.ctx, o)
		}
		proto = &corev1.Secret{}
	default:
		lw.ListWithContextFunc = func(_ context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return core.ConfigMaps(ns).List(n.ctx, o)
		}
		lw.WatchFuncWithContext = func(_ context.Context, o metav1.ListOptions) (kwatch.Interface, error) {
			o.FieldSelector = sel
			return core.ConfigMaps(ns).Watch(n.ctx, o)
		}
		proto = &corev1.ConfigMap{}
	}
	inf := toolscache.NewSharedIndexInformer(toolscache.ToListWatcherWithWatchListSemantics(lw, n.client), proto, 0, toolscache.Indexers{})
	ctx, stop := context.WithCancel(n.ctx)
	w := &namedWatch{inf: inf, stop: stop, used: true, pinned: pin}
	on := func() {
		n.mu.Lock()
		f := n.notify
		n.mu.Unlock()
		if f != nil {
			f()
		}
	}
	// The initial list is what get reads right after; later events change an
	// object a snapshot used.
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(_ any, initial bool) {
			if !initial {
				on()
			}
		},
		UpdateFunc: func(any, any) { on() },
		DeleteFunc: func(any) { on() },
	})
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *toolscache.Reflector, err error) {
		if apierrors.IsForbidden(err) {
			w.denied.Store(true)
		}
		toolscache.DefaultWatchErrorHandler(ctx, r, err)
	})
	go inf.Run(ctx.Done())
	n.watch[nk] = w
	return w
}

// sweep stops the informers the last snapshot did not ask for and clears the
// marks for the next one.
func (n *Named) sweep() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, w := range n.watch {
		if !w.used && !w.pinned {
			w.stop()
			delete(n.watch, k)
			continue
		}
		w.used = false
	}
}

// Watched returns the objects watched now, as "Kind namespace/name" (for tests
// and logs).
func (n *Named) Watched() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for k := range n.watch {
		out = append(out, k.kind+" "+k.key.String())
	}
	return out
}
