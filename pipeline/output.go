package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
)

// renderedDoc is how one Gateway's configuration is printed: the files that carry
// behaviour in full, the static ones (scripts, certificates, keys) by digest only,
// so no key material is ever printed.
type renderedDoc struct {
	Gateway string `json:"gateway"`
	// Ingress marks the Ingress shim's synthetic Gateways.
	Ingress  bool   `json:"ingress,omitempty"`
	StateDir string `json:"stateDir"`
	Error    string `json:"error,omitempty"`
	// Dropped is what the renderer left out (it should be empty).
	Dropped []string          `json:"dropped,omitempty"`
	Config  map[string]string `json:"config,omitempty"`
	Files   map[string]string `json:"files,omitempty"`
}

// ingressDoc is what the Ingress shim made of the input: per Ingress, the class
// that selected it, the Gateway that serves it, its synthetic HTTPRoutes and its
// events; the Ingresses it left alone; events about other objects; and the status
// translate.Translate computed for the synthetic objects, which exist nowhere but
// here.
type ingressDoc struct {
	Ingresses []ingressReport              `json:"ingresses,omitempty"`
	Skipped   []ingressshim.SkippedIngress `json:"skipped,omitempty"`
	Events    []ingressshim.ObjectEvent    `json:"events,omitempty"`
	Synthetic []syntheticStatus            `json:"syntheticStatus,omitempty"`
}

type ingressReport struct {
	Namespace  string              `json:"namespace"`
	Name       string              `json:"name"`
	Class      string              `json:"class,omitempty"`
	Selection  string              `json:"selection"`
	Gateway    string              `json:"gateway"`
	HTTPRoutes []string            `json:"httpRoutes,omitempty"`
	Events     []ingressshim.Event `json:"events,omitempty"`
}

type syntheticStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    any    `json:"status"`
}

// YAML prints every object of the input with its computed status, then (when the
// Ingress shim ran) what it made of the Ingresses, then each Gateway's rendered
// nghttpx configuration, as a YAML stream. Synthetic objects are never printed as
// objects: their status appears only in the Ingress document.
func (o *Output) YAML() ([]byte, error) {
	synthetic := func(kind, ns, name string) bool {
		return o.Ingress != nil && o.Ingress.Synthetic(kind, ns, name)
	}
	var docs []any
	var syn []syntheticStatus
	for i := range o.Translation.GatewayClasses {
		c := &o.Translation.GatewayClasses[i]
		if synthetic("GatewayClass", "", c.Name) {
			syn = append(syn, syntheticStatus{Kind: "GatewayClass", Name: c.Name, Status: c.Status})
			continue
		}
		docs = append(docs, c)
	}
	for i := range o.Translation.Gateways {
		g := &o.Translation.Gateways[i]
		if synthetic("Gateway", g.Namespace, g.Name) {
			syn = append(syn, syntheticStatus{Kind: "Gateway", Namespace: g.Namespace, Name: g.Name, Status: g.Status})
			continue
		}
		docs = append(docs, g)
	}
	for i := range o.Translation.HTTPRoutes {
		r := &o.Translation.HTTPRoutes[i]
		if synthetic("HTTPRoute", r.Namespace, r.Name) {
			syn = append(syn, syntheticStatus{Kind: "HTTPRoute", Namespace: r.Namespace, Name: r.Name, Status: r.Status})
			continue
		}
		docs = append(docs, r)
	}
	for i := range o.Translation.GRPCRoutes {
		docs = append(docs, &o.Translation.GRPCRoutes[i])
	}
	for i := range o.Translation.ListenerSets {
		docs = append(docs, &o.Translation.ListenerSets[i])
	}
	for i := range o.Translation.BackendTLSPolicies {
		docs = append(docs, &o.Translation.BackendTLSPolicies[i])
	}
	if o.Ingress != nil {
		d := ingressDoc{Skipped: o.Ingress.Skipped, Events: o.Ingress.Events, Synthetic: syn}
		for _, ir := range o.Ingress.Ingresses {
			d.Ingresses = append(d.Ingresses, ingressReport{
				Namespace: ir.Namespace, Name: ir.Name, Class: ir.Class, Selection: ir.Selection,
				Gateway: ir.Gateway.Namespace + "/" + ir.Gateway.Name, HTTPRoutes: ir.HTTPRoutes, Events: ir.Events,
			})
		}
		docs = append(docs, d)
	}
	for _, g := range o.Gateways {
		d := renderedDoc{
			Gateway:  g.Model.Source.Namespace + "/" + g.Model.Source.Name,
			Ingress:  synthetic("Gateway", g.Model.Source.Namespace, g.Model.Source.Name),
			StateDir: g.StateDir,
		}
		if g.Err != nil {
			d.Error = g.Err.Error()
		}
		if g.Config != nil {
			for _, dr := range g.Config.Dropped {
				d.Dropped = append(d.Dropped, dr.String())
			}
			d.Config = map[string]string{
				render.MainFile:       string(g.Config.Main),
				render.BackendFile:    string(render.BackendConf(g.Config.Backends)),
				render.RouteTableFile: string(g.Config.RouteTable),
			}
			for name, body := range g.Config.RouteShards {
				d.Config[render.RouteShardFile(name)] = string(body)
			}
			d.Files = map[string]string{}
			for name, data := range g.Config.Files {
				sum := sha256.Sum256(data)
				d.Files[name] = fmt.Sprintf("sha256:%s (%d bytes)", hex.EncodeToString(sum[:8]), len(data))
			}
		}
		docs = append(docs, d)
	}
	var buf bytes.Buffer
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("print document %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		switch d.(type) {
		case renderedDoc:
			buf.WriteString("# Rendered nghttpx configuration (not a Kubernetes object)\n")
		case ingressDoc:
			buf.WriteString("# Ingress shim: what it made of each Ingress, and the status of its synthetic\n" +
				"# objects (not Kubernetes objects; never written to the API server)\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
