package controller

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
)

// scheduleOCSPRecheck makes the batch translate again when the earliest stapled
// OCSP response of the last translation expires (translate.Result.OCSPRecheck), so
// the listener condition and the proxies follow without any object changing.
// Called on the batch goroutine after every translation.
func (c *Controller) scheduleOCSPRecheck(at time.Time) {
	if c.ocspT == nil {
		c.ocspT = &recheck.Timer{} // tests set one with a fake clock
	}
	if c.ocspT.Fire == nil {
		c.ocspT.Fire = func() {
			c.dirty.Store(true)
			c.batch.Notify()
		}
	}
	c.ocspT.Set(at)
}

// holdOCSP turns a listener's OCSPStapled condition into False/Unsupported when
// ready data-plane pods of the Gateway report, on /status, an nghttpx that
// cannot staple: the translator assumes the proxies can. stored is the Gateway
// as read from the API server (nil when unknown).
func holdOCSP(g *gatewayv1.Gateway, stored *gatewayv1.Gateway, pr progress, now metav1.Time) {
	if pr.noOCSP == 0 {
		return
	}
	msg := fmt.Sprintf("OCSP stapling is enabled but %d of %d ready data-plane pods run an nghttpx that cannot staple "+
		"(no fetch-ocsp-response-file; removed upstream in 1.66): use the project's data-plane image", pr.noOCSP, pr.ready)
	for i := range g.Status.Listeners {
		l := &g.Status.Listeners[i]
		c := meta.FindStatusCondition(l.Conditions, translate.ListenerConditionOCSPStapled)
		if c == nil {
			continue
		}
		var old *metav1.Condition
		if stored != nil {
			for _, sl := range stored.Status.Listeners {
				if sl.Name == l.Name {
					old = meta.FindStatusCondition(sl.Conditions, c.Type)
				}
			}
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, translate.OCSPReasonUnsupported, msg
		c.LastTransitionTime = now
		if old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
}

// holdOCSPFor applies holdOCSP to a Gateway of the current translation.
func (c *Controller) holdOCSPFor(g *gatewayv1.Gateway, now metav1.Time) {
	pr := c.poll.progress(types.NamespacedName{Namespace: g.Namespace, Name: g.Name})
	if pr.noOCSP == 0 {
		return
	}
	var stored *gatewayv1.Gateway
	for i := range c.in.Gateways {
		if s := &c.in.Gateways[i]; s.Namespace == g.Namespace && s.Name == g.Name {
			stored = s
		}
	}
	holdOCSP(g, stored, pr, now)
}
