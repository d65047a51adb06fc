package controller

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/keys"
)

// syncOriginal keeps the original nghttpx Ingress controller's keys Secret
// (Options.NghttpxSecret) as that controller's leader would: created when
// missing, a malformed or missing kind of key started afresh, each kind
// rotated when its period (Options.KeyRotation, the original's
// --tls-ticket-key-period and --quic-secret-period) has passed since its
// timestamp annotation, by the original's scheme (keys.RotateOriginal). Only
// its two data keys and two annotations are written; everything else in the
// Secret stays. Pods of the original controller still running read the same
// Secret, and an original leader may rotate it too: each writer updates on the
// resourceVersion it read and rotates only when the timestamp it sees is a
// period old, so a rotation by the other shows up as a conflict or as "not
// due", never as a double rotation. next is the end of the next period.
func (r *keyRotator) syncOriginal(ctx context.Context) (next time.Time, err error) {
	key := r.original
	now := r.clock.Now()
	var cur corev1.Secret
	err = r.reader.Get(ctx, key, &cur)
	switch {
	case apierrors.IsNotFound(err):
		o, _, err := keys.RotateOriginal(keys.Original{}, now, r.periods, r.rand)
		if err != nil {
			return time.Time{}, fmt.Errorf("keys for --nghttpx-secret %s: %w", key, err)
		}
		data, ann := keys.EncodeOriginal(o)
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Annotations: ann},
			Type: corev1.SecretTypeOpaque, Data: data}
		if err := r.client.Create(ctx, s); err != nil {
			// AlreadyExists: the cache lags; the Secret's event wakes us.
			return time.Time{}, fmt.Errorf("create the --nghttpx-secret Secret %s: %w", key, err)
		}
		r.counters.Creates.Add(1)
		r.log.Info("created the original Ingress controller's keys Secret (--nghttpx-secret)", "secret", key.String())
		return keys.NextOriginalRotation(o, r.periods), nil
	case err != nil:
		return time.Time{}, fmt.Errorf("read the --nghttpx-secret Secret %s: %w", key, err)
	}
	o := keys.DecodeOriginal(cur.Data, cur.Annotations)
	next0, changed, err := keys.RotateOriginal(o, now, r.periods, r.rand)
	if err != nil {
		return time.Time{}, fmt.Errorf("keys for --nghttpx-secret %s: %w", key, err)
	}
	if !changed {
		return keys.NextOriginalRotation(o, r.periods), nil
	}
	if len(o.Problems) > 0 {
		r.log.Info("the --nghttpx-secret Secret lacks usable keys of some kind; creating them as the original controller would",
			"secret", key.String(), "problems", o.Problems)
	}
	upd := cur.DeepCopy()
	data, ann := keys.EncodeOriginal(next0)
	if upd.Data == nil {
		upd.Data = map[string][]byte{}
	}
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	maps.Copy(upd.Data, data)
	maps.Copy(upd.Annotations, ann)
	if err := r.client.Update(ctx, upd); err != nil {
		return time.Time{}, fmt.Errorf("update the --nghttpx-secret Secret %s: %w", key, err)
	}
	r.counters.Rotations.Add(1)
	r.log.V(1).Info("rotated the --nghttpx-secret Secret", "secret", key.String(),
		"ticketKeys", len(next0.Tickets), "quicKeys", len(next0.QUIC), "quicKeyID", keys.QUICID(next0.QUIC[0]))
	return keys.NextOriginalRotation(next0, r.periods), nil
}
