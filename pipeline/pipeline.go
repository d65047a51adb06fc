package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
)

// Options for one pipeline run.
type Options struct {
	Gateway gateway.Options
	// Render is the template for every Gateway's render options; StateDir is replaced
	// by StateDirFor.
	Render render.Options
	// StateDir is the parent directory of every Gateway's state directory.
	StateDir string
	// APIPortFor returns the backend API port of a Gateway's nghttpx. Nil keeps
	// Render.APIPort.
	APIPortFor func(gw *model.Gateway) int
}

// Output is the result of one pipeline run.
type Output struct {
	Translation *gateway.Result
	// Gateways holds one entry per resolved model, in the order of Translation.Models.
	Gateways []RenderedGateway
}

// RenderedGateway is one Gateway's model and its nghttpx configuration.
type RenderedGateway struct {
	Model    *model.Gateway
	StateDir string
	Config   *render.Config
	// Err is set when the model could not be rendered; Config is nil then.
	Err error
}

// StateDirFor is the state directory of a Gateway under parent.
func StateDirFor(parent string, gw *model.Gateway) string {
	return filepath.Join(parent, gw.Source.Namespace+"_"+gw.Source.Name)
}

// Build runs the translator and renders every resolved Gateway.
func Build(in *gateway.Input, opts Options) *Output {
	res := gateway.Translate(in, opts.Gateway)
	out := &Output{Translation: res}
	for _, m := range res.Models {
		ro := opts.Render
		ro.StateDir = StateDirFor(opts.StateDir, m)
		if opts.APIPortFor != nil {
			ro.APIPort = opts.APIPortFor(m)
		}
		cfg, err := render.Render(m, ro)
		if err != nil {
			err = fmt.Errorf("render Gateway %s/%s: %w", m.Source.Namespace, m.Source.Name, err)
		}
		out.Gateways = append(out.Gateways, RenderedGateway{Model: m, StateDir: ro.StateDir, Config: cfg, Err: err})
	}
	return out
}
