package controller

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

// A listener on the proxy's admin port is rejected on the listener (the agent
// holds that port in the pod); one on 9902, which the controller happens to render
// the backend API with, is served like any other port.
func TestListenerOnDataPlanePorts(t *testing.T) {
	c, _, _ := ingressController(t)
	in, err := load.DecodeYAML([]byte(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: nghttpx
  addresses: [{type: IPAddress, value: 10.96.0.10}]
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: admin, protocol: HTTP, port: 9901}
  - {name: api, protocol: HTTP, port: 9902}
`))
	if err != nil {
		t.Fatal(err)
	}
	out := c.build(context.Background(), in)
	if len(out.Gateways) != 1 || out.Gateways[0].Err != nil || len(out.Gateways[0].Config.Dropped) > 0 {
		t.Fatalf("rendered %+v", out.Gateways)
	}
	want := map[string]string{"http": "True", "admin": "False", "api": "True"}
	for _, l := range out.Translation.Gateways[0].Status.Listeners {
		c := meta.FindStatusCondition(l.Conditions, "Accepted")
		if c == nil || string(c.Status) != want[string(l.Name)] {
			t.Errorf("listener %s: Accepted %+v, want %s", l.Name, c, want[string(l.Name)])
		}
		if l.Name == "admin" && c != nil && c.Reason != "PortUnavailable" {
			t.Errorf("admin listener reason %s", c.Reason)
		}
	}
	var ports []int32
	for _, p := range out.Gateways[0].Model.Ports {
		ports = append(ports, p.Port)
	}
	if len(ports) != 2 || ports[0] != 80 || ports[1] != 9902 {
		t.Errorf("model ports %v, want [80 9902]", ports)
	}
}
