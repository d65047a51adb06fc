package model

import "testing"

// Settings reach the data plane through its Deployment, not through translation
// in the proxy, so they must not change the hash Programmed compares.
func TestHashIgnoresSettings(t *testing.T) {
	off := false
	gw := &Gateway{Source: ObjectRef{Kind: "Gateway", Namespace: "ns", Name: "gw"}, Ports: []Port{{Port: 80, Protocol: ProtocolHTTP}}}
	with := *gw
	with.Settings = &Settings{HTTP3: &off, ProxyProtocol: true, QUICBPF: true}
	if Hash(gw) != Hash(&with) {
		t.Error("Settings changed the hash")
	}
	if with.Settings == nil {
		t.Error("Hash cleared the caller's Settings")
	}
	other := with
	other.Ports = []Port{{Port: 81, Protocol: ProtocolHTTP}}
	if Hash(&other) == Hash(&with) {
		t.Error("a port change did not change the hash")
	}
}
