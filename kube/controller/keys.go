package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/kube/provision"
)

// Default rotation periods. An hour matches nghttpx's own ticket key renewal;
// every rotation makes each replica reload (old workers drain), so minutes would
// cost more than they protect. A key lives three periods (QUIC) or four
// (tickets): announced, encrypting, then decrypting.
const (
	DefaultQUICKeyRotation   = time.Hour
	DefaultTicketKeyRotation = time.Hour
)

// KeyCounters count the key rotator's writes.
type KeyCounters struct {
	Creates, Rotations, Deletes, Errors atomic.Int64
}

// keyTarget is one keys Secret the leader keeps.
type keyTarget struct {
	gateway types.NamespacedName
	// desired metadata: name, labels, annotations, owner references.
	meta corev1.Secret
}

// keyRotator keeps, as leader only (Controller.lead runs it while leading),
// one keys Secret per provisioned Gateway and rotates it when a period ends: it sleeps until the earliest end of a period, or until the
// targets or a keys Secret change. All state lives in the Secrets, so a new
// leader carries on the schedule.
type keyRotator struct {
	client   client.Client
	reader   client.Reader // the cache
	informer func(ctx context.Context) (cache.Informer, error)
	periods  keys.Periods
	rand     io.Reader
	clock    clock.Clock
	log      logr.Logger
	wake     chan struct{}
	counters KeyCounters

	// original, when set, is the original nghttpx Ingress controller's keys
	// Secret, kept in its format too (keys_original.go).
	original types.NamespacedName

	mu      sync.Mutex
	targets map[types.NamespacedName]keyTarget // by Secret
	known   bool                               // targets were set once: pruning is safe
}

func newKeyRotator(c client.Client, ca cache.Cache, periods keys.Periods, log logr.Logger) *keyRotator {
	return &keyRotator{
		client: c, reader: ca, periods: periods, rand: rand.Reader, clock: clock.RealClock{}, log: log,
		informer: func(ctx context.Context) (cache.Informer, error) { return ca.GetInformer(ctx, &corev1.Secret{}) },
		wake:     make(chan struct{}, 1),
	}
}

func (r *keyRotator) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// set replaces the Secrets to keep.
func (r *keyRotator) set(targets map[types.NamespacedName]keyTarget) {
	r.mu.Lock()
	changed := !r.known || len(targets) != len(r.targets)
	for k, t := range targets {
		if o, ok := r.targets[k]; !ok || !equality.Semantic.DeepEqual(o.meta.ObjectMeta, t.meta.ObjectMeta) {
			changed = true
		}
	}
	r.targets, r.known = targets, true
	r.mu.Unlock()
	if changed {
		r.notify()
	}
}

// Start runs until ctx is done.
func (r *keyRotator) Start(ctx context.Context) error {
	if r.informer != nil {
		inf, err := r.informer(ctx)
		if err != nil {
			return fmt.Errorf("keys: Secret informer: %w", err)
		}
		// Our own writes come back here too: the cache then holds them.
		ours := func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if s, ok := obj.(*corev1.Secret); ok && (s.Labels[provision.LabelKeys] == "true" ||
				(s.Namespace == r.original.Namespace && s.Name == r.original.Name)) {
				r.notify()
			}
		}
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { ours(o) },
			UpdateFunc: func(_, o any) { ours(o) },
			DeleteFunc: ours,
		})
		if err != nil {
			return fmt.Errorf("keys: Secret events: %w", err)
		}
		defer inf.RemoveEventHandler(reg) //nolint:errcheck // shutting down
	}
	r.log.Info("keeping shared QUIC and TLS ticket keys", "quicPeriod", r.periods.QUIC, "ticketPeriod", r.periods.Tickets,
		"nghttpxSecret", r.original.String())
	timer := r.clock.NewTimer(time.Hour)
	defer timer.Stop()
	retry := time.Duration(0)
	for {
		next, err := r.sync(ctx)
		wait := time.Duration(-1)
		if err != nil {
			r.counters.Errors.Add(1)
			retry = min(max(2*retry, 500*time.Millisecond), 30*time.Second)
			r.log.Error(err, "keys: sync failed; retrying", "in", retry)
			wait = retry
		} else {
			retry = 0
		}
		if !next.IsZero() {
			if d := max(next.Sub(r.clock.Now()), 0); wait < 0 || d < wait {
				wait = d
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		var fire <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-fire:
		}
	}
}

// sync creates, rotates and prunes keys Secrets; next is the earliest end of a
// period among them (zero: none).
func (r *keyRotator) sync(ctx context.Context) (next time.Time, err error) {
	r.mu.Lock()
	targets, known := maps.Clone(r.targets), r.known
	r.mu.Unlock()
	var errs []error
	for key, t := range targets {
		at, err := r.syncOne(ctx, key, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if r.original.Name != "" {
		if at, err := r.syncOriginal(ctx); err != nil {
			errs = append(errs, err)
		} else if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if known {
		errs = append(errs, r.prune(ctx, targets))
	}
	return next, errors.Join(errs...)
}

func (r *keyRotator) syncOne(ctx context.Context, key types.NamespacedName, t keyTarget) (time.Time, error) {
	now := r.clock.Now()
	var cur corev1.Secret
	err := r.reader.Get(ctx, key, &cur)
	switch {
	case apierrors.IsNotFound(err):
		st, _, err := keys.Rotate(keys.State{}, now, r.periods, r.rand)
		if err != nil {
			return time.Time{}, fmt.Errorf("keys for Gateway %s: %w", t.gateway, err)
		}
		s := t.meta.DeepCopy()
		s.Type = corev1.SecretTypeOpaque
		var ann map[string]string
		s.Data, ann = keys.Encode(st)
		tok, err := keys.NewAdminToken(r.rand)
		if err != nil {
			return time.Time{}, err
		}
		s.Data[keys.DataAdminToken] = tok
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		maps.Copy(s.Annotations, ann)
		if err := r.client.Create(ctx, s); err != nil {
			// AlreadyExists: the cache lags; the Secret's event wakes us.
			return time.Time{}, fmt.Errorf("create keys Secret %s: %w", key, err)
		}
		r.counters.Creates.Add(1)
		r.log.Info("keys Secret created", "secret", key.String(), "gateway", t.gateway.String())
		return keys.NextRotation(st, r.periods), nil
	case err != nil:
		return time.Time{}, fmt.Errorf("read keys Secret %s: %w", key, err)
	}
	if cur.Labels[provision.LabelManagedBy] != provision.ManagedBy || cur.Labels[provision.LabelKeys] != "true" {
		// Never overwrite a Secret someone else made.
		return time.Time{}, fmt.Errorf("keys Secret %s exists but is not ours (labels %s=%s, %s=true missing); the Gateway's proxies will not share keys",
			key, provision.LabelManagedBy, provision.ManagedBy, provision.LabelKeys)
	}
	st, derr := keys.Decode(cur.Data, cur.Annotations)
	if derr != nil {
		r.log.Info("keys Secret partly unreadable; recreating those keys", "secret", key.String(), "problem", derr.Error())
	}
	next, rotated, err := keys.Rotate(st, now, r.periods, r.rand)
	if err != nil {
		return time.Time{}, fmt.Errorf("keys for Gateway %s: %w", t.gateway, err)
	}
	upd := cur.DeepCopy()
	if rotated {
		var ann map[string]string
		upd.Data, ann = keys.Encode(next)
		if tok := cur.Data[keys.DataAdminToken]; keys.ValidAdminToken(tok) {
			upd.Data[keys.DataAdminToken] = tok
		}
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		maps.Copy(upd.Annotations, ann)
	}
	// A Secret without a token (written by an older version) gets one.
	tokenAdded := false
	if !keys.ValidAdminToken(upd.Data[keys.DataAdminToken]) {
		tok, err := keys.NewAdminToken(r.rand)
		if err != nil {
			return time.Time{}, err
		}
		if upd.Data == nil {
			upd.Data = map[string][]byte{}
		}
		upd.Data[keys.DataAdminToken], tokenAdded = tok, true
	}
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	maps.Copy(upd.Labels, t.meta.Labels)
	if upd.Annotations == nil && len(t.meta.Annotations) > 0 {
		upd.Annotations = map[string]string{}
	}
	maps.Copy(upd.Annotations, t.meta.Annotations)
	upd.OwnerReferences = t.meta.OwnerReferences
	if !rotated && !tokenAdded && equality.Semantic.DeepEqual(upd.ObjectMeta, cur.ObjectMeta) {
		return keys.NextRotation(st, r.periods), nil
	}
	// An update on the cached resourceVersion: a stale cache or a second writer
	// conflicts instead of rotating twice.
	if err := r.client.Update(ctx, upd); err != nil {
		return time.Time{}, fmt.Errorf("update keys Secret %s: %w", key, err)
	}
	if rotated {
		r.counters.Rotations.Add(1)
		r.log.V(1).Info("keys rotated", "secret", key.String(), "quicKeyID", keys.QUICID(next.QUIC.Keys[0]),
			"quicRotatedAt", next.QUIC.RotatedAt, "ticketsRotatedAt", next.Tickets.RotatedAt)
	}
	return keys.NextRotation(next, r.periods), nil
}

// prune deletes keys Secrets of Gateways that are no longer ours (a deleted
// Gateway's Secret is garbage-collected through its owner reference).
func (r *keyRotator) prune(ctx context.Context, targets map[types.NamespacedName]keyTarget) error {
	var l corev1.SecretList
	if err := r.reader.List(ctx, &l, client.MatchingLabels{provision.LabelManagedBy: provision.ManagedBy, provision.LabelKeys: "true"}); err != nil {
		return fmt.Errorf("list keys Secrets: %w", err)
	}
	var errs []error
	for i := range l.Items {
		s := &l.Items[i]
		if _, ok := targets[client.ObjectKeyFromObject(s)]; ok {
			continue
		}
		if _, ok := provision.OwnerGateway(s); !ok {
			continue
		}
		if err := r.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete keys Secret %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		r.counters.Deletes.Add(1)
		r.log.Info("deleted keys Secret of a Gateway that is no longer ours", "secret", s.Namespace+"/"+s.Name)
	}
	return errors.Join(errs...)
}

// setKeyTargets hands the key rotator the Gateways being provisioned.
func (c *Controller) setKeyTargets(res *translate.Result) {
	if c.keys == nil {
		return
	}
	targets := map[types.NamespacedName]keyTarget{}
	for i := range res.Gateways {
		g := &res.Gateways[i]
		if g.DeletionTimestamp != nil {
			continue
		}
		opts := c.opts.Provision
		if c.isSynthetic("Gateway", g.Namespace, g.Name) {
			opts = opts.ForIngress(c.ingressClassOf(g))
		}
		m := provision.KeysSecretMeta(g, opts)
		targets[types.NamespacedName{Namespace: m.Namespace, Name: m.Name}] = keyTarget{
			gateway: types.NamespacedName{Namespace: g.Namespace, Name: g.Name},
			meta:    corev1.Secret{ObjectMeta: m},
		}
	}
	c.keys.set(targets)
}

// ingressClassOf is the IngressClass a synthetic Gateway serves (nil: none),
// as ensureGateway finds it.
func (c *Controller) ingressClassOf(g *gatewayv1.Gateway) *networkingv1.IngressClass {
	name := g.Annotations[ingressshim.AnnotationIngressClass]
	if name == "" {
		return nil
	}
	for i := range c.in.IngressClasses {
		if c.in.IngressClasses[i].Name == name {
			return &c.in.IngressClasses[i]
		}
	}
	return nil
}

// collectors are the rotator's counters.
func (r *keyRotator) collectors() []prometheus.Collector {
	var out []prometheus.Collector
	for _, m := range []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"keys_secrets_created_total", "Shared keys Secrets created.", &r.counters.Creates},
		{"keys_rotations_total", "Shared keys Secrets rotated.", &r.counters.Rotations},
		{"keys_secrets_deleted_total", "Shared keys Secrets of Gateways no longer ours deleted.", &r.counters.Deletes},
		{"keys_errors_total", "Shared keys syncs that failed (retried).", &r.counters.Errors},
	} {
		v := m.v
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metricsNamespace, Name: m.name, Help: m.help},
			func() float64 { return float64(v.Load()) }))
	}
	return out
}

func (r *keyRotator) describe(ch chan<- *prometheus.Desc) {
	for _, c := range r.collectors() {
		c.Describe(ch)
	}
}

// registerMetrics exposes the counters (a second controller in the same
// process, in tests, keeps the first one's series).
func (r *keyRotator) registerMetrics(reg prometheus.Registerer) {
	for _, c := range r.collectors() {
		err := reg.Register(c)
		var are prometheus.AlreadyRegisteredError
		if err != nil && !errors.As(err, &are) {
			r.log.Error(err, "registering a metric")
		}
	}
}

// KeyCounters returns the key rotator's counters (nil when disabled).
func (c *Controller) KeyCounters() *KeyCounters {
	if c.keys == nil {
		return nil
	}
	return &c.keys.counters
}
