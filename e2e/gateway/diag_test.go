//go:build e2e

package gateway

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/e2e/e2eutil"
)

// diagnose saves what explains a failure (Gateway API objects with status, pods,
// events, controller and data-plane logs) under the artifacts directory, because the
// local cluster's state disappears with it; the log tails also go to the test log.
func (s *suite) diagnose(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := e2eutil.NewDiag(s.artifacts, t.Name(), s.cs, t.Logf)
	if err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	var gws gatewayv1.GatewayList
	if err := s.cl.List(ctx, &gws, client.InNamespace(ns)); err == nil {
		d.SaveYAML("gateways.yaml", gws.Items)
		for _, g := range gws.Items {
			t.Logf("Gateway %s: conditions %s; addresses %v; listeners %s", g.Name, e2eutil.CondSummary(g.Status.Conditions), addrSummary(g.Status.Addresses), listenerSummary(g.Status.Listeners))
		}
	}
	var routes gatewayv1.HTTPRouteList
	if err := s.cl.List(ctx, &routes, client.InNamespace(ns)); err == nil {
		d.SaveYAML("httproutes.yaml", routes.Items)
	}
	var gcs gatewayv1.GatewayClassList
	if err := s.cl.List(ctx, &gcs); err == nil {
		d.SaveYAML("gatewayclasses.yaml", gcs.Items)
	}
	for _, n := range []string{ns, systemNS} {
		d.SaveEvents(ctx, n)
		pods, err := d.SavePods(ctx, n)
		if err != nil {
			continue
		}
		for i := range pods {
			p := &pods[i]
			if n == ns && p.Labels["gateway.nghttpx.dev/gateway-name"] == "" {
				continue // echo pods say little
			}
			d.SaveLogs(ctx, p)
		}
	}
	t.Logf("diagnostics saved in %s", d.Dir)
}
