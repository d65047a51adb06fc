package source

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// AddParametersCacheOptions lets the cache hold the ConfigMaps of namespace ns
// (GatewayClass parameters live there only) on top of whatever ConfigMaps
// byObject already selects (the Ingress operator ConfigMap). An object-wide field
// selector moves to the namespaces it was meant for, so it does not hide ns's
// ConfigMaps. Nothing happens when ns is empty.
func AddParametersCacheOptions(byObject map[client.Object]cache.ByObject, ns string) {
	if ns == "" {
		return
	}
	var key client.Object = &corev1.ConfigMap{}
	bo, found := cache.ByObject{}, false
	for k, v := range byObject {
		if _, ok := k.(*corev1.ConfigMap); ok {
			key, bo, found = k, v, true
		}
	}
	nss := map[string]cache.Config{}
	for n, c := range bo.Namespaces {
		if c.FieldSelector == nil {
			c.FieldSelector = bo.Field
		}
		nss[n] = c
	}
	if found && len(bo.Namespaces) == 0 {
		// Cluster-wide already: keep it for every other namespace.
		nss[metav1.NamespaceAll] = cache.Config{FieldSelector: bo.Field}
	}
	// A non-nil selector is not defaulted from the object-wide one.
	nss[ns] = cache.Config{FieldSelector: fields.Everything()}
	bo.Namespaces, bo.Field = nss, nil
	byObject[key] = bo
}

// parametersWatched watches ConfigMaps when GatewayClass parameters are read.
func (s *Source) parametersWatched() []watch {
	if s.opts.ParametersNamespace == "" {
		return nil
	}
	return []watch{{&corev1.ConfigMap{}, func(old, cur client.Object) bool {
		return either(old, cur, func(c *corev1.ConfigMap) bool { return s.refs.configMaps[client.ObjectKeyFromObject(c)] })
	}}}
}

// parametersSnapshot adds the parameters ConfigMaps of our GatewayClasses to in
// and records them in r. Only Options.ParametersNamespace is cached; a reference
// elsewhere is left to the translator to reject.
func (s *Source) parametersSnapshot(ctx context.Context, in *load.Input, classes []gatewayv1.GatewayClass, r *refs) error {
	ns := s.opts.ParametersNamespace
	if ns == "" {
		return nil
	}
	if r.configMaps == nil {
		r.configMaps = map[types.NamespacedName]bool{}
	}
	for i := range classes {
		ref := classes[i].Spec.ParametersRef
		if !r.classes[classes[i].Name] || ref == nil || ref.Group != "" || ref.Kind != "ConfigMap" ||
			ref.Namespace == nil || string(*ref.Namespace) != ns {
			continue
		}
		r.configMaps[types.NamespacedName{Namespace: ns, Name: ref.Name}] = true
	}
	for _, k := range sortedKeys(r.configMaps) {
		if slices.ContainsFunc(in.ConfigMaps, func(c corev1.ConfigMap) bool { return client.ObjectKeyFromObject(&c) == k }) {
			continue
		}
		var cm corev1.ConfigMap
		if err := s.get(ctx, k, &cm); err != nil {
			return err
		}
		if cm.Name != "" {
			in.ConfigMaps = append(in.ConfigMaps, cm)
		}
	}
	return nil
}
