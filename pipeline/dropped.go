package pipeline

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
)

// notProgrammed sets Programmed=False on the Gateway of rg when its configuration
// could not be rendered, or was rendered without some piece (render.Dropped): its
// status must not claim what the data plane does not serve. The translator's
// validation is meant to make both impossible.
func notProgrammed(res *translate.Result, rg *RenderedGateway, now metav1.Time) {
	var msg string
	switch {
	case rg.Err != nil:
		msg = "the data plane cannot render this Gateway and keeps its last configuration: " + rg.Err.Error()
	case rg.Config != nil && len(rg.Config.Dropped) > 0:
		parts := make([]string, len(rg.Config.Dropped))
		for i, d := range rg.Config.Dropped {
			parts[i] = d.String()
		}
		msg = "served without what the data plane cannot express (a translator bug; please report it): " + strings.Join(parts, "; ")
	default:
		return
	}
	src := rg.Model.Source
	for i := range res.Gateways {
		g := &res.Gateways[i]
		if g.Namespace != src.Namespace || g.Name != src.Name {
			continue
		}
		c := metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonInvalid), Message: msg,
			ObservedGeneration: g.Generation, LastTransitionTime: now,
		}
		if old := meta.FindStatusCondition(g.Status.Conditions, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		meta.SetStatusCondition(&g.Status.Conditions, c)
	}
}
