package standalone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/apply"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/instance"
	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/render"
	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/translate"
	"github.com/nghttpx-gateway/nghttpx-gateway/ingressshim"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/recheck"
	"github.com/nghttpx-gateway/nghttpx-gateway/load"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
	"github.com/nghttpx-gateway/nghttpx-gateway/pipeline"
)

// Runner serves the Gateways of a config directory.
type Runner struct {
	ConfigDir string
	StateDir  string
	// NewProcess makes a Gateway's nghttpx (instance.Nghttpx).
	NewProcess instance.NewProcess
	// Render carries the feature-dependent render options; StateDir and the
	// ports are set per Gateway (its instance's).
	Render render.Options
	Log    logr.Logger
	// Out receives status lines.
	Out io.Writer
	// Ingress configures the Ingress shim for Ingresses found in the directory;
	// ProxyProtocol is --proxy-proto for its Gateways.
	Ingress       ingressshim.Options
	ProxyProtocol bool
	// OCSP is OCSP stapling from certificate Secrets (--ocsp-stapling).
	OCSP translate.OCSPOptions
	// AccessLog receives every Gateway's access log (nil: each instance's
	// own sink on stdout); IngressAccessLog is the Ingress Gateways' format
	// (pipeline.Options).
	AccessLog        *accesslog.Sink
	IngressAccessLog accesslog.Format
	// Stats, when set, exports each data plane's apply counters.
	Stats *apply.StatsSet
	// Poll is how often the directory is scanned; Settle is how long it must stay
	// unchanged before a rebuild, so an editor's multi-step save is one batch.
	Poll, Settle time.Duration

	instances map[string]*gatewayState
	printed   map[string]string
	// recheck rebuilds when a translation's OCSPRecheck passes.
	recheck *recheck.Timer
}

// gatewayState is a Gateway's data plane and what it last did.
type gatewayState struct {
	inst    *instance.Instance
	applied bool
	err     error
}

// Run blocks until ctx is done, then stops every data plane.
func (r *Runner) Run(ctx context.Context) error {
	if r.Poll == 0 {
		r.Poll = 300 * time.Millisecond
	}
	if r.Settle == 0 {
		r.Settle = 100 * time.Millisecond
	}
	r.instances = map[string]*gatewayState{}
	r.printed = map[string]string{}
	defer r.stopAll()

	var last [32]byte
	var lastErr string
	first := true
	// A stapled OCSP response expires with no file changing: rebuild then.
	recheckDue := make(chan struct{}, 1)
	r.recheck = &recheck.Timer{Fire: func() {
		select {
		case recheckDue <- struct{}{}:
		default:
		}
	}}
	defer r.recheck.Stop()
	var lastIn *load.Input
	for {
		files, digest, err := scanDir(r.ConfigDir)
		switch {
		case err != nil:
			if err.Error() != lastErr {
				r.Log.Error(err, "cannot read the config directory; still serving the last good configuration", "dir", r.ConfigDir)
				lastErr = err.Error()
			}
		case first || digest != last:
			if !first {
				files, digest = r.settle(ctx, digest, files)
			}
			last, first = digest, false
			in, err := decodeFiles(files)
			if err != nil {
				r.Log.Error(err, "cannot decode objects; fix the file, the last good configuration keeps serving", "dir", r.ConfigDir)
				break
			}
			lastErr = ""
			lastIn = in
			r.sync(ctx, in)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.Poll):
		case <-recheckDue:
			if lastIn != nil {
				r.Log.Info("an OCSP response reached its nextUpdate; rebuilding")
				r.sync(ctx, lastIn)
			}
		}
	}
}

// settle waits until the directory content stops changing.
func (r *Runner) settle(ctx context.Context, digest [32]byte, files map[string][]byte) (map[string][]byte, [32]byte) {
	for range 20 {
		select {
		case <-ctx.Done():
			return files, digest
		case <-time.After(r.Settle):
		}
		f2, d2, err := scanDir(r.ConfigDir)
		if err != nil || d2 == digest {
			return files, digest
		}
		files, digest = f2, d2
	}
	return files, digest
}

func (r *Runner) sync(ctx context.Context, in *load.Input) {
	po := pipeline.Options{
		Gateway: translate.Options{
			DefaultAddress: "127.0.0.1",
			OCSP:           r.OCSP,
			Now:            metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
			// Client certificate validation needs our patched nghttpx.
			NoClientValidation: !r.Render.Features.ClientVerify,
		},
		Render:        r.Render,
		StateDir:      r.StateDir,
		Ingress:       r.Ingress,
		ProxyProtocol: r.ProxyProtocol,

		IngressAccessLog: r.IngressAccessLog,
	}
	out := pipeline.Translate(in, po)
	r.recheck.Set(out.Translation.OCSPRecheck)
	// Each Gateway's instance (ports, mirror tee) exists before it is rendered.
	po.Ports = map[types.NamespacedName]pipeline.Ports{}
	for _, m := range out.Translation.Models {
		k := key(m)
		gs := r.instances[k]
		if gs == nil {
			gs = &gatewayState{}
			r.instances[k] = gs
		}
		if gs.inst == nil {
			inst, err := instance.New(instance.Options{StateDir: pipeline.StateDirFor(r.StateDir, m), NewProcess: r.NewProcess,
				Log: r.Log.WithValues("gateway", k), AccessLog: r.AccessLog, Stats: r.Stats, Gateway: k})
			if err != nil {
				r.Log.Error(err, "no data plane for the Gateway", "gateway", k)
				continue
			}
			gs.inst = inst
		}
		if err := gs.inst.StartMirror(ctx); err != nil {
			r.Log.Error(err, "no mirror tee; RequestMirror filters are not served", "gateway", k)
		}
		po.Ports[types.NamespacedName{Namespace: m.Source.Namespace, Name: m.Source.Name}] = gs.inst.Ports()
	}
	pipeline.Render(out, po)
	seen := map[string]bool{}
	for _, g := range out.Gateways {
		k := key(g.Model)
		seen[k] = true
		gs := r.instances[k]
		if g.Err != nil {
			r.Log.Error(g.Err, "Gateway cannot be rendered; its data plane keeps the last good configuration", "gateway", k)
			gs.err = g.Err
			continue
		}
		for _, d := range g.Config.Dropped {
			r.Log.Info("part of the Gateway cannot be expressed and is not served (a translator bug; please report it)",
				"gateway", k, "what", d.What, "reason", d.Reason, "object", d.Source.Kind+" "+d.Source.Namespace+"/"+d.Source.Name)
		}
		if gs.inst == nil {
			gs.err = errors.New("no data plane (see the log)")
			continue
		}
		running := gs.inst.Running()
		err := gs.inst.Apply(ctx, *g.Config)
		if err == nil && !running {
			r.Log.Info("data plane started", "gateway", k, "stateDir", g.StateDir, "apiPort", gs.inst.Ports().API)
		}
		gs.err = err
		gs.applied = gs.applied || err == nil
		if err != nil {
			r.Log.Error(err, "applying configuration failed; the last good configuration keeps serving", "gateway", k)
		}
	}
	for k, gs := range r.instances {
		if seen[k] {
			continue
		}
		if gs.inst != nil {
			running := gs.inst.Running()
			if err := gs.inst.Close(ctx); err != nil {
				r.Log.Error(err, "stopping data plane", "gateway", k)
			}
			if running {
				r.Log.Info("data plane stopped: Gateway removed", "gateway", k)
			}
		}
		delete(r.instances, k)
	}
	r.markProgrammed(out.Translation)
	r.printChanges(statusLines(out))
}

// markProgrammed makes Programmed reflect what the data plane confirmed: the
// translator only knows the configuration is valid.
func (r *Runner) markProgrammed(res *translate.Result) {
	for i := range res.Gateways {
		g := &res.Gateways[i]
		inst := r.instances[g.Namespace+"/"+g.Name]
		c := meta.FindStatusCondition(g.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		switch {
		case inst == nil:
		case inst.err != nil:
			c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid)
			c.Message = "The data plane did not accept the configuration: " + inst.err.Error()
		case !inst.applied:
			c.Status, c.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)
			c.Message = "Waiting for the data plane to apply the configuration."
		}
	}
}

func (r *Runner) printChanges(lines map[string]string) {
	var keys []string
	for k := range lines {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if r.printed[k] != lines[k] {
			fmt.Fprintf(r.Out, "%s: %s\n", k, lines[k])
		}
	}
	for k := range r.printed {
		if _, ok := lines[k]; !ok {
			fmt.Fprintf(r.Out, "%s: removed\n", k)
		}
	}
	r.printed = lines
}

func (r *Runner) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k, gs := range r.instances {
		if gs.inst != nil {
			if err := gs.inst.Close(ctx); err != nil {
				r.Log.Error(err, "stopping data plane", "gateway", k)
			}
		}
	}
}

func key(m *model.Gateway) string { return m.Source.Namespace + "/" + m.Source.Name }
