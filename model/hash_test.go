package model

import "testing"

func hashFixture() *Gateway {
	return &Gateway{
		Source:    ObjectRef{Kind: "Gateway", Namespace: "ns", Name: "gw"},
		Addresses: []string{"10.0.0.1"},
		Ports: []Port{{Port: 443, Protocol: ProtocolHTTPS, Listeners: []Listener{{
			Source: ObjectRef{Kind: "Gateway", Namespace: "ns", Name: "gw", Section: "https"}, CertificateNames: []string{"c"},
		}}}},
		Clusters:     []Cluster{{Name: "svc/ns/a/80", Endpoints: []Endpoint{{IP: "10.1.0.1", Port: 80}}}},
		Certificates: []Certificate{{Name: "c", CertPEM: []byte("cert"), KeyPEM: []byte("key")}},
	}
}

func TestHash(t *testing.T) {
	base := Hash(hashFixture())
	if len(base) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", base)
	}
	if Hash(hashFixture()) != base {
		t.Error("hash is not deterministic")
	}
	if Hash(nil) != "" {
		t.Error("nil model must hash to empty")
	}
	same := hashFixture()
	same.Addresses = []string{"0.0.0.0"}
	if Hash(same) != base {
		t.Error("addresses must not change the hash")
	}
	for name, mutate := range map[string]func(*Gateway){
		"endpoint": func(g *Gateway) { g.Clusters[0].Endpoints[0].IP = "10.1.0.2" },
		"port":     func(g *Gateway) { g.Ports[0].Port = 8443 },
		"cert":     func(g *Gateway) { g.Certificates[0].CertPEM = []byte("cert2") },
		"key":      func(g *Gateway) { g.Certificates[0].KeyPEM = []byte("key2") },
		"ocsp":     func(g *Gateway) { g.Certificates[0].OCSPResponse = []byte("r") },
		// The same bytes moved from key to OCSP must not collide.
		"moved": func(g *Gateway) { g.Certificates[0].KeyPEM, g.Certificates[0].OCSPResponse = nil, []byte("key") },
	} {
		g := hashFixture()
		mutate(g)
		if Hash(g) == base {
			t.Errorf("%s change did not change the hash", name)
		}
	}
	g := hashFixture()
	_ = Hash(g)
	if g.Addresses[0] != "10.0.0.1" {
		t.Error("Hash modified its argument")
	}
}
