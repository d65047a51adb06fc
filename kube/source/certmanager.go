package source

import (
	"context"
	"errors"
	"fmt"
	"slices"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// WatchCertificates makes the Source watch cert-manager Certificates (the caller
// checked that the CRD is served) and put those that write a missing, referenced
// Secret into every later snapshot, so that status can name them. It returns once
// the informer has synced, then notifies; on error (ctx done, say because the
// informer cannot list) the informer is removed and snapshots stay without
// Certificates. Only the controller calls it: proxies do not need Certificates.
func (s *Source) WatchCertificates(ctx context.Context, notify func()) error {
	obj := &cmv1.Certificate{}
	inf, err := s.cache.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer for cert-manager Certificates: %w", err)
	}
	reg, err := inf.AddEventHandler(s.handler(s.certificateRelevant, notify))
	if err != nil {
		return fmt.Errorf("event handler for cert-manager Certificates: %w", err)
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced, reg.HasSynced) {
		// A removed informer stops retrying a list it may not be allowed to do.
		rerr := s.cache.RemoveInformer(context.WithoutCancel(ctx), obj)
		return errors.Join(errors.New("cert-manager Certificates did not sync"), rerr)
	}
	s.mu.Lock()
	s.certificates = true
	s.mu.Unlock()
	notify()
	return nil
}

// UnwatchCertificates undoes WatchCertificates (the CRD was removed): later
// snapshots hold no Certificates, the informer stops, and notify asks for a
// rebuild without them.
func (s *Source) UnwatchCertificates(ctx context.Context, notify func()) error {
	// Flipped first, under the lock: a snapshot never lists a kind whose
	// informer is gone (the cache would start a new one and wait for it).
	s.mu.Lock()
	s.certificates = false
	s.mu.Unlock()
	err := s.cache.RemoveInformer(ctx, &cmv1.Certificate{})
	notify()
	if err != nil {
		return fmt.Errorf("remove the cert-manager Certificate informer: %w", err)
	}
	return nil
}

// certificateSnapshot adds the Certificates that write a referenced Secret that
// does not exist; status only mentions Certificates for such Secrets.
func (s *Source) certificateSnapshot(ctx context.Context, in *load.Input, r *refs) error {
	if !s.certificates || len(r.missingSecrets) == 0 {
		return nil
	}
	var namespaces []string
	for k := range r.missingSecrets {
		if !slices.Contains(namespaces, k.Namespace) {
			namespaces = append(namespaces, k.Namespace)
		}
	}
	slices.Sort(namespaces)
	for _, ns := range namespaces {
		var l cmv1.CertificateList
		if err := s.cache.List(ctx, &l, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("list cert-manager Certificates in %s: %w", ns, err)
		}
		for _, c := range l.Items {
			if r.missingSecrets[types.NamespacedName{Namespace: ns, Name: c.Spec.SecretName}] {
				in.Certificates = append(in.Certificates, c)
			}
		}
	}
	return nil
}

// certificateRelevant: a Certificate matters while the Secret it writes is
// referenced and missing, and only when what status shows of it changes (its
// Secret name or Ready condition); cert-manager's other status updates
// (renewal times, revisions) cause no work.
func (s *Source) certificateRelevant(old, cur client.Object) bool {
	targetsMissing := either(old, cur, func(c *cmv1.Certificate) bool {
		return s.refs.missingSecrets[types.NamespacedName{Namespace: c.Namespace, Name: c.Spec.SecretName}]
	})
	if !targetsMissing {
		return false
	}
	o, _ := old.(*cmv1.Certificate)
	n, _ := cur.(*cmv1.Certificate)
	if o == nil || n == nil {
		return true
	}
	return o.Spec.SecretName != n.Spec.SecretName || readyCondition(o) != readyCondition(n)
}

// readyCondition is the part of the Ready condition that status shows.
func readyCondition(c *cmv1.Certificate) [3]string {
	for _, cond := range c.Status.Conditions {
		if cond.Type == cmv1.CertificateConditionReady {
			return [3]string{string(cond.Status), cond.Reason, cond.Message}
		}
	}
	return [3]string{}
}
