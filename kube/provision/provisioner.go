package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Counters of a Provisioner.
type Counters struct {
	// Applies counts server-side applies sent; Unchanged counts objects that
	// needed none; Deletes counts pruned objects.
	Applies, Unchanged, Deletes atomic.Int64
}

// Actions an Observer is told of.
const (
	ActionApply  = "apply"
	ActionDelete = "delete"
)

// Observer is told every write the Provisioner makes (the controller's
// metrics): action is ActionApply or ActionDelete, kind the object's kind
// (Deployment, Service, ServiceAccount, Role, RoleBinding, ClusterRoleBinding).
type Observer interface {
	ProvisionAction(action, kind string)
}

// Provisioner writes the data-plane objects of Gateways.
type Provisioner struct {
	// Client writes (server-side apply, delete).
	Client client.Client
	// Reader reads the current objects, usually the manager's cache; it must
	// keep managedFields (the default).
	Reader  client.Reader
	Options Options
	Log     logr.Logger
	// Observer, when set, is told every apply and delete.
	Observer Observer

	counters Counters
	mu       sync.Mutex
	// binding is the subject list last confirmed on the ClusterRoleBinding.
	binding []string
	// confirmed remembers, per Gateway, the desired objects and the resource
	// versions last found equal, so an unchanged Gateway skips the comparison.
	confirmed map[types.NamespacedName]string
}

// Counters returns the write counters.
func (p *Provisioner) Counters() *Counters { return &p.counters }

func (p *Provisioner) observe(action string, o any) {
	p.counters.count(action)
	if p.Observer != nil {
		p.Observer.ProvisionAction(action, kindOf(o))
	}
}

func (c *Counters) count(action string) {
	if action == ActionApply {
		c.Applies.Add(1)
	} else {
		c.Deletes.Add(1)
	}
}

// kindOf is the kind of a typed object ("*v1.Service" is "Service").
func kindOf(o any) string {
	k := fmt.Sprintf("%T", o)
	return k[strings.LastIndexByte(k, '.')+1:]
}

// Ensure brings the ServiceAccount, Deployment and Service of gw to their desired
// state.
func (p *Provisioner) Ensure(ctx context.Context, gw *gatewayv1.Gateway) error {
	return p.ensure(ctx, gw, p.Options.withDefaults())
}

func (p *Provisioner) ensure(ctx context.Context, gw *gatewayv1.Gateway, opts Options) error {
	key := types.NamespacedName{Namespace: gw.Namespace, Name: Name(gw.Name)}
	sa, svc, dep := ServiceAccount(gw, opts), Service(gw, opts), Deployment(gw, opts)
	gwKey := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	fp := p.fingerprint(ctx, key, sa, svc, dep)
	p.mu.Lock()
	same := fp != "" && p.confirmed[gwKey] == fp
	p.mu.Unlock()
	if same {
		p.counters.Unchanged.Add(3)
		return nil
	}
	applies := p.counters.Applies.Load()
	var errs []error
	errs = append(errs, apply(ctx, p, key, sa, &corev1.ServiceAccount{},
		func(o *corev1.ServiceAccount) (runtime.ApplyConfiguration, error) {
			return corev1ac.ExtractServiceAccount(o, FieldOwner)
		}))
	errs = append(errs, apply(ctx, p, key, svc, &corev1.Service{},
		func(o *corev1.Service) (runtime.ApplyConfiguration, error) {
			s, err := corev1ac.ExtractService(o, FieldOwner)
			if s != nil {
				s.Status = nil // we never apply status
			}
			return s, err
		}))
	errs = append(errs, apply(ctx, p, key, dep, &appsv1.Deployment{},
		func(o *appsv1.Deployment) (runtime.ApplyConfiguration, error) {
			d, err := appsv1ac.ExtractDeployment(o, FieldOwner)
			if d != nil {
				d.Status = nil // we never apply status
			}
			return d, err
		}))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("provision Gateway %s/%s: %w", gw.Namespace, gw.Name, err)
	}
	if p.counters.Applies.Load() == applies {
		p.mu.Lock()
		if p.confirmed == nil {
			p.confirmed = map[types.NamespacedName]string{}
		}
		p.confirmed[gwKey] = fp
		p.mu.Unlock()
	}
	return nil
}

// fingerprint identifies the desired objects together with the versions of the
// cached ones; "" when an object is missing.
func (p *Provisioner) fingerprint(ctx context.Context, key types.NamespacedName, desired ...runtime.ApplyConfiguration) string {
	h := sha256.New()
	for _, d := range desired {
		b, err := json.Marshal(d)
		if err != nil {
			return ""
		}
		h.Write(b)
	}
	for _, o := range []client.Object{&corev1.ServiceAccount{}, &corev1.Service{}, &appsv1.Deployment{}} {
		if err := p.Reader.Get(ctx, key, o); err != nil {
			return ""
		}
		h.Write([]byte("\n" + string(o.GetUID()) + "/" + o.GetResourceVersion()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// apply sends desired unless the fields we manage on the cached object already
// equal it.
func apply[T client.Object](ctx context.Context, p *Provisioner, key types.NamespacedName, desired runtime.ApplyConfiguration,
	cur T, extract func(T) (runtime.ApplyConfiguration, error)) error {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", cur), "*v1.")
	err := p.Reader.Get(ctx, key, cur)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("read %s %s: %w", kind, key, err)
	default:
		have, err := extract(cur)
		if err == nil && equality.Semantic.DeepEqual(have, desired) {
			p.counters.Unchanged.Add(1)
			return nil
		}
	}
	if err := p.Client.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply %s %s: %w", kind, key, err)
	}
	p.observe(ActionApply, cur)
	p.Log.V(1).Info("applied", "kind", kind, "object", key.String())
	return nil
}

// Prune deletes the objects we provisioned for Gateways not in keep (deleted
// ones are garbage-collected through their owner reference already; this covers
// Gateways that moved to another GatewayClass).
func (p *Provisioner) Prune(ctx context.Context, keep map[types.NamespacedName]bool) error {
	p.mu.Lock()
	for k := range p.confirmed {
		if !keep[k] {
			delete(p.confirmed, k)
		}
	}
	p.mu.Unlock()
	var errs []error
	lists := []client.ObjectList{&appsv1.DeploymentList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{}}
	for _, l := range lists {
		if err := p.Reader.List(ctx, l, client.MatchingLabels{LabelManagedBy: ManagedBy}); err != nil {
			errs = append(errs, fmt.Errorf("list %T: %w", l, err))
			continue
		}
		items, err := metaItems(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range items {
			gw, ok := OwnerGateway(o)
			if !ok || keep[gw] {
				continue
			}
			if err := p.Client.Delete(ctx, o, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err))
				continue
			}
			p.observe(ActionDelete, o)
			p.Log.Info("deleted data-plane object of a Gateway that is no longer ours", "kind", fmt.Sprintf("%T", o),
				"object", o.GetNamespace()+"/"+o.GetName(), "gateway", gw.String())
		}
	}
	return errors.Join(errs...)
}

func metaItems(l client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	switch l := l.(type) {
	case *appsv1.DeploymentList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *corev1.ServiceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *corev1.ServiceAccountList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	default:
		return nil, fmt.Errorf("unexpected list %T", l)
	}
	return out, nil
}

// OwnerGateway returns the Gateway an object was provisioned for, from its
// controller owner reference; ok is false for objects that are not ours.
func OwnerGateway(o client.Object) (types.NamespacedName, bool) {
	if o.GetLabels()[LabelManagedBy] != ManagedBy {
		return types.NamespacedName{}, false
	}
	for _, r := range o.GetOwnerReferences() {
		if r.Kind == "Gateway" && strings.HasPrefix(r.APIVersion, gatewayv1.GroupName+"/") && r.Controller != nil && *r.Controller {
			return types.NamespacedName{Namespace: o.GetNamespace(), Name: r.Name}, true
		}
	}
	// A synthetic Gateway of the Ingress shim cannot own anything.
	if name := o.GetAnnotations()[AnnotationIngressGateway]; name != "" && o.GetLabels()[LabelIngress] == "true" {
		return types.NamespacedName{Namespace: o.GetNamespace(), Name: name}, true
	}
	return types.NamespacedName{}, false
}

// Owned reports whether o is a provisioned object or an EndpointSlice of a
// provisioned Service (the EndpointSlice controller copies Service labels).
func Owned(o client.Object) bool {
	l := o.GetLabels()
	return l[LabelManagedBy] == ManagedBy && l[LabelGatewayName] != ""
}

// EnsureBinding makes the proxies' ClusterRoleBinding name exactly the
// ServiceAccounts of gws (sorted). It reads the binding from the API server only
// when the list differs from the one it last confirmed.
func (p *Provisioner) EnsureBinding(ctx context.Context, reader client.Reader, gws []types.NamespacedName) error {
	opts := p.Options.withDefaults()
	subjects := make([]string, 0, len(gws))
	for _, g := range gws {
		subjects = append(subjects, g.Namespace+"/"+Name(g.Name))
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	p.mu.Lock()
	known := p.binding != nil && slices.Equal(p.binding, subjects)
	p.mu.Unlock()
	if known {
		return nil
	}
	// Only the subjects and roleRef: the install (config/rbac, the chart) ships
	// the binding with its own labels, and a Helm upgrade would conflict with
	// a label of ours.
	desired := rbacv1ac.ClusterRoleBinding(opts.ProxyBinding).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(opts.ProxyClusterRole))
	for _, s := range subjects {
		ns, name, _ := strings.Cut(s, "/")
		desired.WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithNamespace(ns).WithName(name))
	}
	var cur rbacv1.ClusterRoleBinding
	err := reader.Get(ctx, types.NamespacedName{Name: opts.ProxyBinding}, &cur)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read ClusterRoleBinding %s: %w", opts.ProxyBinding, err)
	}
	if err == nil {
		if have, err := rbacv1ac.ExtractClusterRoleBinding(&cur, FieldOwner); err == nil && equality.Semantic.DeepEqual(have, desired) {
			p.setBinding(subjects)
			p.counters.Unchanged.Add(1)
			return nil
		}
	}
	if err := p.Client.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply ClusterRoleBinding %s: %w", opts.ProxyBinding, err)
	}
	p.observe(ActionApply, &cur)
	p.setBinding(subjects)
	p.Log.Info("proxy ClusterRoleBinding updated", "name", opts.ProxyBinding, "serviceAccounts", len(subjects))
	return nil
}

func (p *Provisioner) setBinding(subjects []string) {
	p.mu.Lock()
	p.binding = subjects
	p.mu.Unlock()
}

// Forget drops what the Provisioner remembers about the API server's objects,
// so the next calls compare again (after a leadership change, or to undo
// manual edits of the binding).
func (p *Provisioner) Forget() {
	p.mu.Lock()
	p.binding, p.confirmed = nil, nil
	p.mu.Unlock()
}
