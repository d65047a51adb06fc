package source

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// Ingress makes a Source also watch the Ingress front-end's inputs: Ingresses
// (of --watch-namespace only, when set), IngressClasses and the operator ConfigMap
// (that one object only).
type Ingress struct {
	// Shim are the shim's options; the Source reads the IngressClass controller,
	// RequireIngressClass, WatchNamespace, DefaultTLSSecret, DefaultBackendService
	// and NghttpxConfigMap.
	Shim ingressshim.Options
	// PublishService (--publish-service) is watched for its addresses, which go
	// into Ingress status; zero when unset.
	PublishService types.NamespacedName
}

func (ing *Ingress) controller() string {
	if ing.Shim.IngressClassController == "" {
		return ingressshim.DefaultIngressClassController
	}
	return ing.Shim.IngressClassController
}

// configMap is the operator ConfigMap's key, if one is configured.
func (ing *Ingress) configMap() (types.NamespacedName, bool) {
	return parseKey(ing.Shim.NghttpxConfigMap)
}

func parseKey(s string) (types.NamespacedName, bool) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// IngressCacheOptions restricts the informers of the Ingress front-end: Ingresses
// to --watch-namespace (when set) and ConfigMaps to the operator ConfigMap, so
// neither role caches every ConfigMap of the cluster (nor needs the right to).
// Merge the result into cache.Options.ByObject.
func IngressCacheOptions(ing *Ingress) map[client.Object]cache.ByObject {
	out := map[client.Object]cache.ByObject{}
	if ing == nil {
		return out
	}
	if ns := ing.Shim.WatchNamespace; ns != "" {
		out[&networkingv1.Ingress{}] = cache.ByObject{Namespaces: map[string]cache.Config{ns: {}}}
	}
	if k, ok := ing.configMap(); ok {
		out[&corev1.ConfigMap{}] = cache.ByObject{
			Namespaces: map[string]cache.Config{k.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", k.Name),
		}
	}
	return out
}

// ingressWatched lists the Ingress front-end's kinds with their relevance checks.
func (s *Source) ingressWatched() []watch {
	ing := s.opts.Ingress
	if ing == nil {
		return nil
	}
	out := []watch{
		{&networkingv1.Ingress{}, s.ingressRelevant},
		// IngressClasses are few and have no status: every change counts (the
		// default-class annotation of another controller's class decides about
		// Ingresses without a class).
		{&networkingv1.IngressClass{}, func(old, cur client.Object) bool { return true }},
	}
	if k, ok := ing.configMap(); ok {
		out = append(out, watch{&corev1.ConfigMap{}, func(old, cur client.Object) bool {
			return either(old, cur, func(c *corev1.ConfigMap) bool { return client.ObjectKeyFromObject(c) == k })
		}})
	}
	return out
}

// ingressRelevant: spec, label or annotation changes (annotations carry the zlab
// settings) of Ingresses that are or were possibly ours. Status-only updates, our
// own Ingress status writes among them, never count.
func (s *Source) ingressRelevant(old, cur client.Object) bool {
	return specChanged(old, cur) && either(old, cur, func(i *networkingv1.Ingress) bool {
		return s.refs.ingressMaybeOurs(s.opts.Ingress, i)
	})
}

// ingressMaybeOurs is a cheap over-approximation of the shim's selection: the
// Ingress is in the watched namespace and names one of our IngressClasses, or
// names none (unless classes are required). A class that does not exist yet
// turns up as an IngressClass event.
func (r *refs) ingressMaybeOurs(ing *Ingress, i *networkingv1.Ingress) bool {
	if ns := ing.Shim.WatchNamespace; ns != "" && i.Namespace != ns {
		return false
	}
	if n := i.Spec.IngressClassName; n != nil && *n != "" {
		return r.ingressClasses[*n]
	}
	return !ing.Shim.RequireIngressClass
}

// ingressSnapshot adds the Ingress front-end's objects to in and their
// references to r: the Services and Secrets of the Ingresses that may be ours,
// the default backend Service, the default TLS Secret and the publish Service.
func (s *Source) ingressSnapshot(ctx context.Context, in *load.Input, r *refs) error {
	ing := s.opts.Ingress
	if ing == nil {
		return nil
	}
	var classes networkingv1.IngressClassList
	if err := s.cache.List(ctx, &classes); err != nil {
		return fmt.Errorf("list IngressClasses: %w", err)
	}
	var opts []client.ListOption
	if ns := ing.Shim.WatchNamespace; ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	var ingresses networkingv1.IngressList
	if err := s.cache.List(ctx, &ingresses, opts...); err != nil {
		return fmt.Errorf("list Ingresses: %w", err)
	}
	in.IngressClasses, in.Ingresses = classes.Items, ingresses.Items
	if k, ok := ing.configMap(); ok {
		var cm corev1.ConfigMap
		if err := s.get(ctx, k, &cm); err != nil {
			return err
		}
		if cm.Name != "" {
			in.ConfigMaps = append(in.ConfigMaps, cm)
		}
	}
	ctrl := ing.controller()
	for i := range classes.Items {
		if classes.Items[i].Spec.Controller == ctrl {
			r.ingressClasses[classes.Items[i].Name] = true
		}
	}
	for i := range ingresses.Items {
		x := &ingresses.Items[i]
		if !r.ingressMaybeOurs(ing, x) {
			continue
		}
		r.addIngressBackend(x.Namespace, x.Spec.DefaultBackend)
		for _, rule := range x.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				r.addIngressBackend(x.Namespace, &p.Backend)
			}
		}
		for _, t := range x.Spec.TLS {
			if t.SecretName != "" {
				r.secrets[types.NamespacedName{Namespace: x.Namespace, Name: t.SecretName}] = true
			}
		}
	}
	if k, ok := parseKey(ing.Shim.DefaultTLSSecret); ok {
		r.secrets[k] = true
	}
	if k, ok := parseKey(ing.Shim.DefaultBackendService); ok && !ing.Shim.InternalDefaultBackend {
		r.services[k] = true
	}
	if ing.PublishService.Name != "" {
		r.services[ing.PublishService] = true
	}
	return nil
}

func (r *refs) addIngressBackend(ns string, b *networkingv1.IngressBackend) {
	if b != nil && b.Service != nil && b.Service.Name != "" {
		r.services[types.NamespacedName{Namespace: ns, Name: b.Service.Name}] = true
	}
}
