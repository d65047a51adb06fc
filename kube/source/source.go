package source

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Options configure a Source.
type Options struct {
	// ControllerName selects our GatewayClasses (default translate.DefaultControllerName).
	ControllerName string
	// Gateway, when set, limits the Source to this one Gateway (the proxy agent).
	Gateway types.NamespacedName
	// Owned, when set, marks objects every change of which matters (the
	// controller's provisioned Services and their EndpointSlices).
	Owned func(client.Object) bool
	// Extra kinds to watch; their events count when Owned claims the object and
	// its spec, labels, annotations or existence changed (the controller's
	// Deployments and ServiceAccounts, so a deleted or edited one is restored).
	Extra []client.Object
	// Ingress, when set, also watches the Ingress front-end's inputs (see
	// Ingress and IngressCacheOptions).
	Ingress *Ingress
	// ParametersNamespace, when set, watches the ConfigMaps our GatewayClasses
	// name as parameters in that namespace (see AddParametersCacheOptions).
	ParametersNamespace string
	// Named, when set, serves every Secret and ConfigMap a snapshot reads, by
	// name (the proxy agent): the cache then needs neither kind, and RBAC may
	// grant them by resourceNames.
	Named *Named
	// Record, when set, is told every Secret and ConfigMap a snapshot reads
	// ("Secret" or "ConfigMap"); see References.
	Record func(kind string, k types.NamespacedName)
	Log    logr.Logger
}

// Stats count events, for tests and metrics.
type Stats struct {
	Events    atomic.Int64
	Relevant  atomic.Int64
	Snapshots atomic.Int64
}

// Source reads load.Input snapshots from a cache and filters its events.
type Source struct {
	cache cache.Cache
	opts  Options
	scope scope
	stats Stats

	mu   sync.Mutex
	refs *refs // nil until the first snapshot: everything is relevant
	// noListenerSets is set when the ListenerSet CRD is not installed.
	noListenerSets bool
	// noGRPCRoutes likewise for the GRPCRoute CRD.
	noGRPCRoutes bool
	// certificates is set once cert-manager Certificates are watched.
	certificates bool
}

// New returns a Source reading from c.
func New(c cache.Cache, opts Options) *Source {
	if opts.ControllerName == "" {
		opts.ControllerName = translate.DefaultControllerName
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Source{cache: c, opts: opts, scope: scope{controllerName: opts.ControllerName, gateway: opts.Gateway}}
}

// Stats returns the event counters.
func (s *Source) Stats() *Stats { return &s.stats }

// watch is a watched kind with its relevance check.
type watch struct {
	obj      client.Object
	relevant func(old, cur client.Object) bool
}

// watched lists every kind a Source watches, with its relevance check.
func (s *Source) watched() []watch {
	out := []watch{
		{&gatewayv1.GatewayClass{}, s.classRelevant},
		{&gatewayv1.Gateway{}, s.gatewayRelevant},
		{&gatewayv1.HTTPRoute{}, s.routeRelevant},
		{&gatewayv1.GRPCRoute{}, s.grpcRouteRelevant},
		{&gatewayv1.ListenerSet{}, s.listenerSetRelevant},
		{&gatewayv1beta1.ReferenceGrant{}, s.grantRelevant},
		{&corev1.Service{}, s.serviceRelevant},
		{&discoveryv1.EndpointSlice{}, s.sliceRelevant},
		{&corev1.Secret{}, s.secretRelevant},
		{&corev1.Namespace{}, s.namespaceRelevant},
	}
	out = append(out, s.ingressWatched()...)
	out = append(out, s.parametersWatched()...)
	out = append(out, s.caWatched()...)
	out = append(out, s.backendTLSWatched()...)
	for _, o := range s.opts.Extra {
		out = append(out, watch{o, s.extraRelevant})
	}
	if s.opts.Named != nil {
		out = slices.DeleteFunc(out, func(w watch) bool {
			switch w.obj.(type) {
			case *corev1.Secret, *corev1.ConfigMap:
				return true
			}
			return false
		})
	}
	return out
}

// Start registers event handlers that call notify for relevant events, then
// waits until the cache has synced and every handler has seen the initial list.
// The cache must be started (or start) separately.
func (s *Source) Start(ctx context.Context, notify func()) error {
	if s.opts.Named != nil {
		s.opts.Named.setNotify(notify)
	}
	var regs []toolscache.ResourceEventHandlerRegistration
	for _, w := range s.watched() {
		// Not blocking per informer lets all of them list in parallel.
		inf, err := s.cache.GetInformer(ctx, w.obj, cache.BlockUntilSynced(false))
		if err != nil && s.skipMissingKind(w.obj, err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("informer for %T: %w", w.obj, err)
		}
		h := s.handler(w.relevant, notify)
		reg, err := inf.AddEventHandler(h)
		if err != nil {
			return fmt.Errorf("event handler for %T: %w", w.obj, err)
		}
		regs = append(regs, reg)
	}
	if !s.cache.WaitForCacheSync(ctx) {
		return errors.New("caches did not sync")
	}
	for _, r := range regs {
		if !toolscache.WaitForCacheSync(ctx.Done(), r.HasSynced) {
			return errors.New("event handlers did not see the initial list")
		}
	}
	return nil
}

func (s *Source) handler(relevant func(old, cur client.Object) bool, notify func()) toolscache.ResourceEventHandler {
	on := func(old, cur client.Object) {
		s.stats.Events.Add(1)
		s.mu.Lock()
		first := s.refs == nil
		ok := first || relevant(old, cur)
		s.mu.Unlock()
		if ok {
			s.stats.Relevant.Add(1)
			notify()
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if o, ok := obj.(client.Object); ok {
				on(nil, o)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(client.Object)
			n, ok2 := newObj.(client.Object)
			if ok1 && ok2 {
				on(o, n)
			}
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if o, ok := obj.(client.Object); ok {
				on(o, nil)
			}
		},
	}
}

// specChanged is false for an update that changed only status (or nothing we
// read): the generation of a kind with a status subresource moves with its spec.
func specChanged(old, cur client.Object) bool {
	if old == nil || cur == nil {
		return true
	}
	return old.GetGeneration() != cur.GetGeneration() ||
		!maps.Equal(old.GetLabels(), cur.GetLabels()) ||
		!maps.Equal(old.GetAnnotations(), cur.GetAnnotations()) ||
		(old.GetDeletionTimestamp() == nil) != (cur.GetDeletionTimestamp() == nil)
}

// either calls f on the non-nil versions of an object until one is true.
func either[T client.Object](old, cur client.Object, f func(T) bool) bool {
	for _, o := range []client.Object{old, cur} {
		if t, ok := o.(T); ok && f(t) {
			return true
		}
	}
	return false
}

func (s *Source) classRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(c *gatewayv1.GatewayClass) bool {
		return string(c.Spec.ControllerName) == s.scope.controllerName
	})
}

func (s *Source) gatewayRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(g *gatewayv1.Gateway) bool {
		return s.refs.classes[string(g.Spec.GatewayClassName)] && s.scope.inScope(g)
	})
}

func (s *Source) routeRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(r *gatewayv1.HTTPRoute) bool {
		return s.refs.namesGateway(r) || !s.scope.one() && hasOurParentStatus(r, s.scope.controllerName)
	})
}

func (s *Source) grantRelevant(old, cur client.Object) bool {
	return either(old, cur, func(g *gatewayv1beta1.ReferenceGrant) bool { return s.refs.grantNamespaces[g.Namespace] })
}

func (s *Source) owned(old, cur client.Object) bool {
	return s.opts.Owned != nil && either(old, cur, s.opts.Owned)
}

func (s *Source) serviceRelevant(old, cur client.Object) bool {
	return s.owned(old, cur) || either(old, cur, func(o *corev1.Service) bool {
		return s.refs.services[client.ObjectKeyFromObject(o)]
	})
}

func (s *Source) sliceRelevant(old, cur client.Object) bool {
	return s.owned(old, cur) || either(old, cur, func(o *discoveryv1.EndpointSlice) bool {
		k, ok := serviceKeyOfSlice(o.Labels, o.Namespace)
		return ok && s.refs.services[k]
	})
}

func (s *Source) secretRelevant(old, cur client.Object) bool {
	return either(old, cur, func(o *corev1.Secret) bool { return s.refs.secrets[client.ObjectKeyFromObject(o)] })
}

func (s *Source) namespaceRelevant(old, cur client.Object) bool {
	if !s.refs.namespaceLabels {
		return false
	}
	o, _ := old.(*corev1.Namespace)
	n, _ := cur.(*corev1.Namespace)
	return namespaceLabelsChanged(o, n)
}

func (s *Source) extraRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && s.owned(old, cur)
}

// Snapshot lists what a translation needs from the cache and records its
// references for relevance filtering. Holding the lock across the listing and
// the update means an event is either seen by this snapshot or filtered with
// the new references, never lost in between.
func (s *Source) Snapshot(ctx context.Context) (*load.Input, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Snapshots.Add(1)
	in := &load.Input{}
	var classes gatewayv1.GatewayClassList
	var gws gatewayv1.GatewayList
	var routes gatewayv1.HTTPRouteList
	var grants gatewayv1beta1.ReferenceGrantList
	var nss corev1.NamespaceList
	for _, l := range []client.ObjectList{&classes, &gws, &routes, &grants, &nss} {
		if err := s.cache.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T: %w", l, err)
		}
	}
	var sets gatewayv1.ListenerSetList
	if !s.noListenerSets {
		if err := s.cache.List(ctx, &sets); err != nil {
			return nil, fmt.Errorf("list %T: %w", &sets, err)
		}
	}
	var grpcRoutes gatewayv1.GRPCRouteList
	if !s.noGRPCRoutes {
		if err := s.cache.List(ctx, &grpcRoutes); err != nil {
			return nil, fmt.Errorf("list %T: %w", &grpcRoutes, err)
		}
	}
	r, inScopeSets := computeRefs(s.scope, classes.Items, gws.Items, sets.Items, routes.Items)
	r.addGRPCRoutes(grpcRoutes.Items)
	in.GRPCRoutes = grpcRoutes.Items
	in.ListenerSets = inScopeSets
	if err := s.ingressSnapshot(ctx, in, r); err != nil {
		return nil, err
	}
	if err := s.parametersSnapshot(ctx, in, classes.Items, r); err != nil {
		return nil, err
	}
	if err := s.backendTLSSnapshot(ctx, in, r); err != nil {
		return nil, err
	}
	if err := s.caSnapshot(ctx, in, r); err != nil {
		return nil, err
	}
	in.GatewayClasses = classes.Items
	in.HTTPRoutes = routes.Items
	in.ReferenceGrants = grants.Items
	in.Namespaces = nss.Items
	for _, g := range gws.Items {
		if s.scope.inScope(&g) {
			in.Gateways = append(in.Gateways, g)
		}
	}
	for _, k := range sortedKeys(r.services) {
		var svc corev1.Service
		if err := s.get(ctx, k, &svc); err != nil {
			return nil, err
		} else if svc.Name != "" {
			in.Services = append(in.Services, svc)
		}
		var sl discoveryv1.EndpointSliceList
		if err := s.cache.List(ctx, &sl, client.InNamespace(k.Namespace),
			client.MatchingLabels{discoveryv1.LabelServiceName: k.Name}); err != nil {
			return nil, fmt.Errorf("list EndpointSlices of %s: %w", k, err)
		}
		in.EndpointSlices = append(in.EndpointSlices, sl.Items...)
	}
	for _, k := range sortedKeys(r.secrets) {
		var sec corev1.Secret
		if err := s.get(ctx, k, &sec); err != nil {
			return nil, err
		} else if sec.Name != "" {
			in.Secrets = append(in.Secrets, sec)
		} else {
			r.missingSecrets[k] = true
		}
	}
	if err := s.certificateSnapshot(ctx, in, r); err != nil {
		return nil, err
	}
	s.refs = r
	if s.opts.Named != nil {
		s.opts.Named.sweep()
	}
	return in, nil
}

// get reads one object; a missing one leaves obj empty.
func (s *Source) get(ctx context.Context, k types.NamespacedName, obj client.Object) error {
	switch obj.(type) {
	case *corev1.Secret, *corev1.ConfigMap:
		if s.opts.Record != nil {
			s.opts.Record(kindOf(obj), k)
		}
		if s.opts.Named != nil {
			return s.opts.Named.get(ctx, k, obj)
		}
	}
	if err := s.cache.Get(ctx, k, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get %T %s: %w", obj, k, err)
	}
	return nil
}

func kindOf(obj client.Object) string {
	if _, ok := obj.(*corev1.Secret); ok {
		return "Secret"
	}
	return "ConfigMap"
}
