package pipeline

import (
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/settings"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Options for one pipeline run.
type Options struct {
	Gateway translate.Options
	// Render is the template for every Gateway's render options; StateDir is replaced
	// by StateDirFor.
	Render render.Options
	// StateDir is the parent directory of every Gateway's state directory.
	StateDir string
	// Ports are the ports of each Gateway's data plane (by namespace/name), for a
	// caller that runs one nghttpx per Gateway and picks them between Translate
	// and Render (the instance layer, dataplane/instance). A Gateway without an
	// entry keeps Render's. They are not reserved: pick ports no listener uses.
	Ports map[types.NamespacedName]Ports
	// Ingress configures the Ingress shim, which runs when the input holds
	// Ingresses or IngressClasses. Its ControllerName defaults to Gateway's.
	Ingress ingressshim.Options
	// ProxyProtocol is --proxy-proto: the shim's Gateways accept a PROXY protocol
	// header on their listeners.
	ProxyProtocol bool
	// IngressAccessLog is the access log format of the shim's Gateways; ""
	// is the original Ingress controller's (accesslog.FormatNghttpx), unless
	// Render's is off.
	IngressAccessLog accesslog.Format
}

// Ports are the ports of one Gateway's data plane besides its listeners
// (render.Options.APIPort, MirrorTeePort, MirrorInternalPort).
type Ports struct {
	API int
	// MirrorTee and MirrorInternal are both set or both zero (no RequestMirror).
	MirrorTee, MirrorInternal int
}

// Output is the result of one pipeline run.
type Output struct {
	// Ingress is the Ingress shim's result, nil when it did not run. Its objects are
	// synthetic: the status Translation computes for them must never be written to
	// the API server (Ingress.Synthetic tells them apart). Events about the operator
	// ConfigMap's content found while rendering are appended to Ingress.Events.
	Ingress     *ingressshim.Result
	Translation *translate.Result
	// Gateways holds one entry per resolved model, in the order of
	// Translation.Models (empty until Render).
	Gateways []RenderedGateway

	// operator is what Render needs of the shim's operator ConfigMap.
	operator ingressOperator
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

// Build runs the Ingress shim (when there are Ingresses or IngressClasses) and the
// translator, and renders every resolved Gateway: Translate, then Render. in is
// not modified.
func Build(in *load.Input, opts Options) *Output {
	out := Translate(in, opts)
	Render(out, opts)
	return out
}

// Translate runs the Ingress shim (when there are Ingresses or IngressClasses)
// and the translator; Output.Gateways stays empty. in is not modified.
func Translate(in *load.Input, opts Options) *Output {
	out := &Output{}
	if in != nil && (len(in.Ingresses) > 0 || len(in.IngressClasses) > 0) {
		so := opts.Ingress
		if so.ControllerName == "" {
			so.ControllerName = opts.Gateway.ControllerName
		}
		out.Ingress = ingressshim.Translate(ingressshim.InputFrom(in), so)
		// A fresh Input: appending to in's slices could write into the caller's
		// backing arrays.
		all := &load.Input{}
		all.Append(in)
		all.Append(out.Ingress.GatewayInput())
		in = all
		out.operator = newIngressOperator(out.Ingress)
		ocspIngressEvents(in, out.Ingress, opts.Gateway, so.DefaultTLSSecret)
	}
	out.Translation = translate.Translate(in, withReservedPorts(opts))
	return out
}

// Render renders every resolved model of a Translate output into out.Gateways
// (replacing what an earlier Render put there) and sets Programmed=False on a
// Gateway whose rendering failed or dropped a piece. opts are Translate's, plus
// Ports.
func Render(out *Output, opts Options) {
	res := out.Translation
	out.Gateways = nil
	operator := out.operator
	for _, m := range res.Models {
		ro := opts.Render
		ro.StateDir = StateDirFor(opts.StateDir, m)
		if p, ok := opts.Ports[types.NamespacedName{Namespace: m.Source.Namespace, Name: m.Source.Name}]; ok {
			ro.APIPort, ro.MirrorTeePort, ro.MirrorInternalPort = p.API, p.MirrorTee, p.MirrorInternal
		}
		if out.Ingress != nil && out.Ingress.Synthetic("Gateway", m.Source.Namespace, m.Source.Name) {
			// Settings of the Ingress controller apply to its own Gateways only.
			ro.AllowMruby = opts.Ingress.AllowMruby
			ro.ProxyProtocol = opts.ProxyProtocol
			ro.ExtraConfig = operator.extraConfig
			ro.GlobalMruby = operator.globalMruby
			ro.AccessLog = ingressAccessLog(opts, ro.AccessLog)
			ro.IngressRoutes = ingressRoutes(out.Ingress)
		} else if s := m.Settings; s != nil {
			// GatewayClass parameters and Gateway annotations (`run`, `translate`;
			// the proxy agent gets the same values as flags, from the same
			// settings.Resolve in kube/provision).
			ro = settings.Of(ro).Resolve(s).RenderOptions(ro)
		}
		cfg, err := render.Render(m, ro)
		if err != nil {
			err = fmt.Errorf("render Gateway %s/%s: %w", m.Source.Namespace, m.Source.Name, err)
		}
		rg := RenderedGateway{Model: m, StateDir: ro.StateDir, Config: cfg, Err: err}
		notProgrammed(res, &rg, opts.Gateway.Now)
		out.Gateways = append(out.Gateways, rg)
	}
}

// ingressOperator is the operator ConfigMap's content, ready for rendering.
type ingressOperator struct {
	extraConfig []string
	globalMruby string
}

// newIngressOperator validates the operator ConfigMap of the shim's result: the
// nghttpx-conf lines that cannot be used become Warning events on the ConfigMap.
func newIngressOperator(res *ingressshim.Result) ingressOperator {
	op := res.Operator
	if op == nil {
		return ingressOperator{}
	}
	lines, problems := render.ParseExtraConfig(op.ExtraConfig)
	for _, p := range problems {
		ref := op.Source
		res.Events = append(res.Events, ingressshim.ObjectEvent{Regarding: &ref, Event: ingressshim.Event{
			Type: ingressshim.EventWarning, Reason: ReasonInvalidNghttpxConf,
			Message: "nghttpx-conf " + p,
		}})
	}
	for _, l := range lines {
		if why := render.ExtraLineWarning(l); why != "" {
			ref := op.Source
			res.Events = append(res.Events, ingressshim.ObjectEvent{Regarding: &ref, Event: ingressshim.Event{
				Type: ingressshim.EventWarning, Reason: ReasonDangerousNghttpxConf,
				Message: fmt.Sprintf("nghttpx-conf line %q is used but %s; remove it unless that is intended", l, why),
			}})
		}
	}
	return ingressOperator{extraConfig: lines, globalMruby: op.MrubyFileContent}
}

// ReasonDangerousNghttpxConf: an nghttpx-conf line is used although it weakens
// verification or header hygiene for every route (render.ExtraLineWarning).
const ReasonDangerousNghttpxConf = "DangerousNghttpxConf"

// ReasonInvalidNghttpxConf: a line of the operator ConfigMap's nghttpx-conf cannot
// be used (syntax, control characters, or an option nghttpx-gateway manages).
const ReasonInvalidNghttpxConf = "InvalidNghttpxConf"

// withReservedPorts adds the fixed ports of the render options (backend API,
// health, mirror; not the per-Gateway Ports) to the translator's reserved ports,
// so a listener on one is rejected on the listener rather than dropped by the
// renderer.
func withReservedPorts(opts Options) translate.Options {
	g := opts.Gateway
	r := map[int32]string{}
	for p, what := range g.ReservedPorts {
		r[p] = what
	}
	add := func(p int, what string) {
		if p > 0 && r[int32(p)] == "" {
			r[int32(p)] = what
		}
	}
	add(opts.Render.APIPort, "nghttpx's backend API")
	add(opts.Render.HealthPort, "nghttpx's health monitor")
	add(opts.Render.MirrorTeePort, "the request mirror tee")
	add(opts.Render.MirrorInternalPort, "the request mirror's internal frontend")
	if len(r) > 0 {
		g.ReservedPorts = r
	}
	return g
}

// ingressAccessLog is the access log format of an Ingress Gateway.
func ingressAccessLog(opts Options, base accesslog.Format) accesslog.Format {
	switch {
	case opts.IngressAccessLog != "":
		return opts.IngressAccessLog
	case base == "" || base == accesslog.FormatOff:
		return base
	}
	return accesslog.FormatNghttpx
}

// ingressRoutes maps each synthetic HTTPRoute (namespace/name) to its Ingress.
func ingressRoutes(res *ingressshim.Result) map[string]string {
	m := map[string]string{}
	for _, ing := range res.Ingresses {
		for _, r := range ing.HTTPRoutes {
			m[ing.Namespace+"/"+r] = ing.Namespace + "/" + ing.Name
		}
	}
	return m
}
