package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
)

// renderedDoc is how one Gateway's configuration is printed: the files that carry
// behaviour in full, the static ones (scripts, certificates, keys) by digest only,
// so no key material is ever printed.
type renderedDoc struct {
	Gateway  string            `json:"gateway"`
	StateDir string            `json:"stateDir"`
	Error    string            `json:"error,omitempty"`
	Config   map[string]string `json:"config,omitempty"`
	Files    map[string]string `json:"files,omitempty"`
}

// YAML prints every object with its computed status, then each Gateway's rendered
// nghttpx configuration, as a YAML stream.
func (o *Output) YAML() ([]byte, error) {
	var docs []any
	for i := range o.Translation.GatewayClasses {
		docs = append(docs, &o.Translation.GatewayClasses[i])
	}
	for i := range o.Translation.Gateways {
		docs = append(docs, &o.Translation.Gateways[i])
	}
	for i := range o.Translation.HTTPRoutes {
		docs = append(docs, &o.Translation.HTTPRoutes[i])
	}
	for _, g := range o.Gateways {
		d := renderedDoc{Gateway: g.Model.Source.Namespace + "/" + g.Model.Source.Name, StateDir: g.StateDir}
		if g.Err != nil {
			d.Error = g.Err.Error()
		}
		if g.Config != nil {
			d.Config = map[string]string{
				render.MainFile:       string(g.Config.Main),
				render.BackendFile:    string(render.BackendConf(g.Config.Backends)),
				render.RouteTableFile: string(g.Config.RouteTable),
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
		if _, ok := d.(renderedDoc); ok {
			buf.WriteString("# Rendered nghttpx configuration (not a Kubernetes object)\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
