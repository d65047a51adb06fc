package translate

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/load"
)

const addressesInput = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nghttpx}
spec: {controllerName: zlab.co.jp/nghttpx}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: lb, namespace: ns}
spec:
  gatewayClassName: nghttpx
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: pending, namespace: ns}
spec:
  gatewayClassName: nghttpx
  listeners: [{name: http, port: 80, protocol: HTTP}]
`

func TestGatewayAddressesHook(t *testing.T) {
	in, err := load.DecodeYAML([]byte(addressesInput))
	if err != nil {
		t.Fatal(err)
	}
	assigned := map[string][]string{"ns/lb": {"10.245.0.7", "lb.example.com", "not a name!"}}
	res := Translate(in, Options{
		DefaultAddress:   "127.0.0.1", // ignored: the hook decides
		GatewayAddresses: func(ns, name string) []string { return assigned[ns+"/"+name] },
		BindAddresses:    []string{"0.0.0.0"},
	})
	if len(res.Gateways) != 2 || len(res.Models) != 2 {
		t.Fatalf("got %d gateways, %d models", len(res.Gateways), len(res.Models))
	}
	lb, pending := res.Gateways[0], res.Gateways[1]
	want := []gatewayv1.GatewayStatusAddress{
		{Type: new(gatewayv1.IPAddressType), Value: "10.245.0.7"},
		{Type: new(gatewayv1.HostnameAddressType), Value: "lb.example.com"},
	}
	if len(lb.Status.Addresses) != len(want) {
		t.Fatalf("lb addresses %+v", lb.Status.Addresses)
	}
	for i, a := range lb.Status.Addresses {
		if *a.Type != *want[i].Type || a.Value != want[i].Value {
			t.Errorf("lb address %d = %s %s, want %s %s", i, *a.Type, a.Value, *want[i].Type, want[i].Value)
		}
	}
	if c := meta.FindStatusCondition(lb.Status.Conditions, "Programmed"); c == nil || c.Status != "True" {
		t.Errorf("lb Programmed = %+v", c)
	}
	if len(pending.Status.Addresses) != 0 {
		t.Errorf("pending addresses %+v", pending.Status.Addresses)
	}
	if c := meta.FindStatusCondition(pending.Status.Conditions, "Programmed"); c == nil || c.Reason != string(gatewayv1.GatewayReasonAddressNotAssigned) {
		t.Errorf("pending Programmed = %+v", c)
	}
	// Models bind the wildcard whatever the status says, also without an address.
	for _, m := range res.Models {
		if len(m.Addresses) != 1 || m.Addresses[0] != "0.0.0.0" {
			t.Errorf("model %s addresses %v", m.Source.Name, m.Addresses)
		}
	}
}

func TestSupportedFeaturesInStatus(t *testing.T) {
	in, err := load.DecodeYAML([]byte(addressesInput))
	if err != nil {
		t.Fatal(err)
	}
	res := Translate(in, Options{SupportedFeatures: SupportedFeatures()})
	got := res.GatewayClasses[0].Status.SupportedFeatures
	if len(got) != len(SupportedFeatures()) {
		t.Fatalf("supportedFeatures %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Name >= got[i].Name {
			t.Errorf("supportedFeatures not sorted: %+v", got)
		}
	}
}
