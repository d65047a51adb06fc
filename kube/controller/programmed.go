package controller

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// holdProgrammed turns the translator's Programmed=True (the configuration is
// valid) into what the data plane confirmed: True once a ready pod runs the
// current model. A newer model of the same Gateway generation (a route or
// endpoint change) keeps a stored True while pods catch up, for the poller's
// grace period, so routine changes do not flap the condition and cost two
// status writes each. stored are the conditions on the API server.
func holdProgrammed(g *gatewayv1.Gateway, stored []metav1.Condition, renderErr error, pr progress, now metav1.Time) {
	c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	if c == nil || c.Status != metav1.ConditionTrue {
		return
	}
	old := meta.FindStatusCondition(stored, c.Type)
	status, reason := metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed)
	var msg string
	switch {
	case renderErr != nil:
		status, reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid)
		msg = "The configuration cannot be rendered for nghttpx: " + renderErr.Error()
	case pr.current > 0:
		msg = fmt.Sprintf("%d of %d ready data-plane pods run the current configuration.", pr.current, pr.ready)
	case pr.ready == 0:
		status, reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
		msg = "Waiting for a data-plane pod to become ready."
	case pr.confirmed && !pr.overdue && old != nil && old.Status == metav1.ConditionTrue && old.ObservedGeneration == g.Generation:
		*c = *old
		return
	default:
		status, reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
		msg = fmt.Sprintf("Waiting for the data plane to apply the configuration: none of %d ready pods runs it yet.", pr.ready)
		if pr.overdue {
			msg = fmt.Sprintf("The data plane has not applied the latest configuration: none of %d ready pods runs it.", pr.ready)
		}
		if pr.problem != "" {
			msg += " A pod reports: " + pr.problem
		}
	}
	c.Status, c.Reason, c.Message = status, reason, msg
	c.LastTransitionTime = now
	if old != nil && old.Status == status {
		c.LastTransitionTime = old.LastTransitionTime
	}
}
